/**
 * Inbound comments: tracker comments (from a listing or a webhook) merged into the local store.
 *
 * - Three-way on the body against `base` (what both sides last agreed on): a change on one side is
 *   taken; the same change on both converges; different changes on both sides are a conflict,
 *   settled by the project's master (inbound: the tracker; outbound: local) and recorded in
 *   `conflicts` with field "comment.body".
 * - Echo suppression: after a push the base is what the tracker stored, so our own comment coming
 *   back equals the base and changes nothing. An older copy than the stored external `updated_at`
 *   is ignored, so a late webhook never rolls a comment back.
 * - A comment whose issue is not imported yet waits in `pending_comments` and is applied once the
 *   issue exists. A comment deleted locally stays deleted. One the tracker was proven to have deleted
 *   (deletion.ts) is a tombstone that a newer tracker copy revives (`revives`): the proof may have
 *   been a 404 during an access blip; a copy no newer than the proof (a late webhook, a listing read
 *   before the deletion) changes nothing.
 * - A lost create found by a poll is linked to the local comment that sent it, never imported as a
 *   second copy — by the one adoption rule for every record kind (adoption.ts).
 */
import { INLINE_TEXT_BYTES, utf8Bytes } from "../db/bytes";
import {
  deletePending,
  deletePendingStatements,
  listPendingWithIssue,
  loadCommentPageContext,
  markCommentsSeenStatements,
  savePendingStatements,
  storeInbound,
  type InboundUpdate,
  type InboundWrite,
} from "../db/comments";
import type { CommentRow, IssueRow } from "../db/schema";
import { newId, nowIso } from "../ids";
import type { CanonicalComment } from "../providers/types";
import { enqueueCommentPushes } from "../queue/send";
import { originOf } from "./activity";
import { adoptionWindow, firstAdoptable, inAdoptionWindow, sameStoredText } from "./adoption";
import { inboundActivity } from "./comment-activity";
import { normalizeBody, withoutAttribution } from "./comment-attribution";
import { leavesSyndarix } from "./comment-visibility";
import type { SyncContext } from "./context";
import type { SnapshotSource } from "./decide";
import { commentProject } from "./field-directions";
import { settingsOf } from "./project-settings";

export interface CommentCounts {
  created: number;
  updated: number;
  unchanged: number;
  conflicts: number;
  deleted: number;
  waiting: number;
  pushQueued: number;
  /** Event copies that could not be ordered against the stored copy (same second): a poll must decide. */
  needsPoll: number;
}

export function zeroCommentCounts(): CommentCounts {
  return { created: 0, updated: 0, unchanged: 0, conflicts: 0, deleted: 0, waiting: 0, pushQueued: 0, needsPoll: 0 };
}

/**
 * Merges tracker comments; `runId` marks them seen by a full run (`markSeen`: also the rows the merge
 * leaves alone, for a complete listing's deletion check). Two D1 round trips for a page: one batch of
 * reads, one atomic batch of writes (the waiting rows and the seen mark included).
 */
export async function applyComments(
  ctx: SyncContext,
  incoming: readonly CanonicalComment[],
  runId: string | null = null,
  options: { markSeen?: boolean; source?: SnapshotSource } = {},
): Promise<CommentCounts> {
  const counts = zeroCommentCounts();
  if (incoming.length === 0) return counts;
  // fieldDirections.comments narrows the project's direction for comments ("none": none arrive).
  const project = commentProject(ctx.project, settingsOf(ctx.project).fieldDirections);
  if (!project) return counts;
  ctx = { ...ctx, project };
  const latest = new Map<string, CanonicalComment>();
  for (const c of incoming) {
    const seen = latest.get(c.externalId);
    if (!seen || c.updatedAt >= seen.updatedAt) latest.set(c.externalId, c);
  }
  const list = [...latest.values()];
  const page = await loadCommentPageContext(
    ctx.db,
    ctx.project.id,
    list.map((c) => c.externalId),
    list.map((c) => c.issueNumber),
  );
  const { locals, issuesByNumber: issuesByNum, unconfirmed, pendingIds } = page;
  const adopted = new Set<string>();

  const writes: InboundWrite[] = [];
  const waiting: { externalId: string; issueNumber: number; json: string }[] = [];
  const applied: string[] = [];
  const pushes: string[] = [];
  const now = nowIso();
  for (const t of list) {
    const local = locals.get(t.externalId);
    const issue = issuesByNum.get(t.issueNumber);
    // The issue left the sync scope (frozen): its comments wait with the rest, applied once it is back.
    if (issue && issue.scopeFrozenAt !== null) {
      waiting.push({ externalId: t.externalId, issueNumber: t.issueNumber, json: JSON.stringify(t) });
      counts.waiting++;
      continue;
    }
    if (!local) {
      if (!issue) {
        waiting.push({ externalId: t.externalId, issueNumber: t.issueNumber, json: waitingJson(t) });
        counts.waiting++;
        continue;
      }
      applied.push(t.externalId);
      if (issue.deletedAt !== null || issue.syncState === "orphaned") continue;
      const lost = await firstAdoptable(
        unconfirmed,
        (u) => u.comment.issueId === issue.id && !adopted.has(u.comment.id) && sameStoredText(u.sentBody, t.body) && inAdoptionWindow(adoptionWindow(u.attemptedAt), t.createdAt),
        async (u) => (await ctx.tracker.findOwnComments(t.issueNumber, adoptionWindow(u.attemptedAt).from)).some((c) => c.externalId === t.externalId),
      );
      if (lost) {
        // The create's answer was lost; this is the comment it made. Link it, push what is left.
        adopted.add(lost.comment.id);
        writes.push(linkLostCreate(lost.comment, t, now));
        counts.updated++;
        continue;
      }
      writes.push(insertOf(ctx, issue, t, runId));
      counts.created++;
      continue;
    }
    applied.push(t.externalId);
    const w = decideComment(ctx, local, t, runId, now, options.source);
    if (w === "ambiguous") {
      counts.needsPoll++;
      continue;
    }
    if (!w) {
      counts.unchanged++;
      continue;
    }
    writes.push(w);
    if (w.conflict) counts.conflicts++;
    if (w.push && w.push !== "close") pushes.push(local.id);
    if (w.set.body !== undefined || w.set.deletedAt !== undefined) counts.updated++;
    else counts.unchanged++;
  }
  await storeInbound(ctx.db, withActivity(ctx, writes, now), [
    ...savePendingStatements(ctx.project.id, waiting),
    // Only the applied comments that were waiting: on an import nothing waits, and nothing is deleted.
    ...deletePendingStatements(
      ctx.project.id,
      applied.filter((id) => pendingIds.has(id)),
    ),
    ...(options.markSeen && runId !== null ? markCommentsSeenStatements(ctx.project.id, runId, list.map((c) => c.externalId)) : []),
  ]);
  if (pushes.length > 0) {
    counts.pushQueued += pushes.length;
    await enqueueCommentPushes(ctx.env, ctx.project.id, pushes);
  }
  return counts;
}

/**
 * Comments the tracker deleted, with proof (a deletion webhook, or a 404 while the issue reads fine):
 * marked deleted locally, the proof's time kept so that only a newer tracker copy revives them. The
 * proof is at least every tracker time known of the comment at deletion (`trackerAt`: a deletion
 * webhook's copy) — a copy from before the deletion never revives it, however the clocks differ.
 */
export async function applyCommentDeletions(ctx: SyncContext, rows: readonly CommentRow[], deletedAt: string = nowIso(), trackerAt: string | null = null): Promise<number> {
  const writes: InboundWrite[] = rows.filter((r) => r.deletedAt === null).map((r) => {
    const proof = [deletedAt, r.externalUpdatedAt ?? "", trackerAt ?? ""].reduce((a, b) => (b > a ? b : a));
    return { kind: "update", current: r, set: { deletedAt, deletionProofAt: proof, syncState: "synced", syncError: null }, push: "close" };
  });
  await storeInbound(ctx.db, withActivity(ctx, writes, nowIso()));
  return writes.length;
}

/** Applies waiting comments whose issue has been imported since. */
export async function applyWaitingComments(ctx: SyncContext, limit = 200): Promise<CommentCounts> {
  const rows = await listPendingWithIssue(ctx.db, ctx.project.id, limit);
  if (rows.length === 0) return zeroCommentCounts();
  const ready: CanonicalComment[] = [];
  const gone: string[] = [];
  for (const r of rows) {
    const waited = JSON.parse(r.comment) as CanonicalComment & { bodyOmitted?: true };
    if (!waited.bodyOmitted) {
      ready.push(waited);
      continue;
    }
    // Its text was too large to wait in a row: read it again now that it can be stored.
    const copy = await ctx.tracker.getComment(waited.issueNumber, waited.externalId);
    if (copy) ready.push(copy);
    else gone.push(waited.externalId);
  }
  if (gone.length > 0) await deletePending(ctx.db, ctx.project.id, gone);
  return applyComments(ctx, ready);
}

/**
 * A tracker comment as it waits for its issue in `pending_comments`: one row, so a text too large for
 * it (D1's byte limit; a GitLab note may be ~4 MB) waits without it and is read again when applied.
 */
function waitingJson(t: CanonicalComment): string {
  return utf8Bytes(t.body) <= INLINE_TEXT_BYTES ? JSON.stringify(t) : JSON.stringify({ ...t, body: "", bodyOmitted: true });
}

/** Each write with the activity entries describing it (recorded in its batch, only if it applied). */
function withActivity(ctx: SyncContext, writes: readonly InboundWrite[], now: string): InboundWrite[] {
  const where = { projectId: ctx.project.id, origin: originOf(ctx, "poll"), now };
  return writes.map((w) => ({ ...w, activity: inboundActivity(where, w) }));
}

function insertOf(ctx: SyncContext, issue: IssueRow, t: CanonicalComment, runId: string | null): InboundWrite {
  const body = normalizeBody(t.body);
  return {
    kind: "insert",
    row: {
      id: newId(),
      projectId: ctx.project.id,
      issueId: issue.id,
      body,
      author: t.author,
      visibility: t.internal ? "internal" : "public",
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
      externalId: t.externalId,
      externalUrl: t.url || null,
      externalUpdatedAt: t.updatedAt,
      base: body,
      syncState: "synced",
      lastSeenRunId: runId,
    },
  };
}

function linkLostCreate(local: CommentRow, t: CanonicalComment, now: string): InboundWrite {
  const trackerBody = withoutAttribution(local.author, normalizeBody(t.body));
  const settled = trackerBody === local.body;
  return {
    kind: "update",
    current: local,
    set: { externalId: t.externalId, externalUrl: t.url || null, externalUpdatedAt: t.updatedAt, base: trackerBody, syncState: settled ? "synced" : "pending_push" },
    push: settled ? "close" : { outboxId: newId(), op: "update", now },
  };
}

/**
 * One tracker copy against its local row: the write to make, null when nothing changes, or
 * "ambiguous" for an event (webhook) that cannot be ordered against the stored copy — the same rule
 * as for issues (decide.ts): stamped in the same second with other content, it may predate it (two
 * edits within a second, delivered out of order; GitLab's hooks carry whole seconds), so only a
 * fresh read can tell and a poll is asked for instead.
 */
export function decideComment(
  ctx: Pick<SyncContext, "project">,
  local: CommentRow,
  t: CanonicalComment,
  runId: string | null,
  now: string,
  source: SnapshotSource = "listing",
): InboundUpdate | null | "ambiguous" {
  const seen = runId !== null && local.lastSeenRunId !== runId ? { lastSeenRunId: runId } : {};
  const tracker = withoutAttribution(local.author, normalizeBody(t.body));
  if (source === "event" && local.deletedAt === null && local.externalUpdatedAt && sameSecond(t.updatedAt, local.externalUpdatedAt) && tracker !== (local.base ?? "")) {
    return "ambiguous";
  }
  if (revives(local, t)) {
    // The tracker has it, changed after the deletion we recorded: it was not gone. Its copy is the truth.
    const set = { ...seen, deletedAt: null, deletionProofAt: null, body: tracker, base: tracker, externalUpdatedAt: t.updatedAt, updatedAt: t.updatedAt, syncState: "synced" as const, syncError: null };
    return { kind: "update", current: local, set, push: "close" };
  }
  // Older than what we hold (a late webhook): ignored. So is any copy of a deleted row that does not revive it.
  if ((local.externalUpdatedAt && t.updatedAt < local.externalUpdatedAt) || local.deletedAt !== null) {
    return Object.keys(seen).length > 0 ? { kind: "update", current: local, set: seen } : null;
  }
  const base = local.base ?? "";
  const touched = t.updatedAt !== local.externalUpdatedAt ? { externalUpdatedAt: t.updatedAt } : {};
  const trackerChanged = tracker !== base;
  const localChanged = local.body !== base;
  if (!trackerChanged) {
    const set = { ...touched, ...seen };
    return Object.keys(set).length > 0 ? { kind: "update", current: local, set } : null;
  }
  const { syncDirection, master } = ctx.project;
  if (!localChanged || tracker === local.body) {
    if (tracker === local.body) return { kind: "update", current: local, set: { ...touched, ...seen, base: tracker, syncState: "synced", syncError: null }, push: "close" };
    // Outbound: local is the master; tracker drift is put back.
    if (syncDirection === "outbound" && leavesSyndarix(ctx.project, local)) {
      return { kind: "update", current: local, set: { ...touched, ...seen, base: tracker, syncState: "pending_push" }, push: { outboxId: newId(), op: "update", now } };
    }
    return { kind: "update", current: local, set: { ...touched, ...seen, body: tracker, base: tracker, updatedAt: t.updatedAt, syncState: "synced", syncError: null } };
  }
  const winner = syncDirection === "inbound" ? "tracker" : syncDirection === "outbound" ? "local" : master;
  const conflict = { id: newId(), issueId: local.issueId, base, local: local.body, tracker, resolution: winner } as const;
  if (winner === "tracker" || !leavesSyndarix(ctx.project, local)) {
    return { kind: "update", current: local, set: { ...touched, ...seen, body: tracker, base: tracker, updatedAt: t.updatedAt, syncState: "synced", syncError: null }, push: "close", conflict: { ...conflict, resolution: "tracker" } };
  }
  return { kind: "update", current: local, set: { ...touched, ...seen, base: tracker, syncState: "pending_push" }, push: { outboxId: newId(), op: "update", now }, conflict };
}

/**
 * Whether a tracker copy revives a tombstone: the row was deleted because the tracker proved it gone
 * (never a local deletion), and the copy changed after that proof. A deletion proven later still wins.
 */
export function revives(local: Pick<CommentRow, "deletedAt" | "deletionProofAt">, t: Pick<CanonicalComment, "updatedAt">): boolean {
  return local.deletedAt !== null && local.deletionProofAt !== null && t.updatedAt > local.deletionProofAt;
}

/** Two ISO UTC instants within the same whole second. */
function sameSecond(a: string, b: string): boolean {
  return a.slice(0, 19) === b.slice(0, 19);
}
