/**
 * Outbound comments: one comment's pending local change (create, edit, delete) reaches the tracker
 * exactly once, through the same queue, retries, rate-limit deferral and dead letter as issue
 * pushes. Runs inside the project's Durable Object.
 *
 * - Internal comments never leave Syndarix (except as GitLab internal notes when the project opted
 *   in: `gitlabInternalNotes`): no outbox row is written for them, and a row that
 *   somehow names one is closed without a tracker call.
 * - Create once: the attempt time and the exact text are recorded before the create is sent. A
 *   retry that finds an attempt on record first looks for the comment it made — same issue, the
 *   token's own user, same text, created inside the attempt window — and adopts it.
 * - Edit: the tracker's copy is read first; a change made there since the base is merged (and a
 *   true conflict settled by master and recorded), never silently overwritten.
 * - The answer becomes the base and external `updated_at`, so the webhook or poll that brings our
 *   own comment back is an echo and changes nothing.
 * - Creates are paced with the project's issue creates (GitHub's secondary limit counts both).
 */
import type { ActivityEntry } from "../db/activity";
import { database } from "../db/client";
import {
  closeCommentOutbox,
  deferCommentPush,
  failCommentPush,
  failExhaustedCommentPush,
  getComment,
  getCommentOutboxRow,
  loadCommentsByExternalIds,
  recordCommentCreateAttempt,
  recordCommentPushAttempt,
  storeCommentPushResult,
} from "../db/comments";
import { getIssue } from "../db/issues";
import { delayCreates, nextCreateAt } from "../db/outbox";
import type { CommentOutboxRow, CommentRow } from "../db/schema";
import type { Env } from "../env";
import { nowIso } from "../ids";
import { commentProject } from "./field-directions";
import { settingsOf } from "./project-settings";
import { log } from "../log";
import { RateLimitedError, TrackerError, type CanonicalComment } from "../providers/types";
import { enqueueCommentPushes } from "../queue/send";
import { originOf } from "./activity";
import { commentChangedEntry } from "./comment-activity";
import { normalizeBody, withAttribution, withoutAttribution } from "./comment-attribution";
import { leavesSyndarix } from "./comment-visibility";
import { applyCommentDeletions, applyComments } from "./comments";
import type { SyncContext } from "./context";
import { CREATE_SPACING_MS, type PushOutcome } from "./push";

const CLOCK_SKEW_MS = 5 * 60_000;
const MAX_ROUNDS = 3;
/** A comment on an issue whose own create has not reached the tracker yet waits this long. */
const WAIT_FOR_ISSUE_MS = 10_000;

type Step = { kind: "done" } | { kind: "wait"; retryAt: string } | { kind: "again" };
const DONE: Step = { kind: "done" };
const AGAIN: Step = { kind: "again" };

export async function pushComment(ctx: SyncContext, commentId: string): Promise<PushOutcome> {
  // Everything this push changes (its answer, a tracker edit it merges) is recorded as from a push.
  ctx = { ...ctx, origin: originOf(ctx, "push") };
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const step = await pushOnce(ctx, commentId);
    if (step.kind === "done") return { retryAt: null };
    if (step.kind === "wait") return { retryAt: step.retryAt };
  }
  await enqueueCommentPushes(ctx.env, ctx.project.id, [commentId]);
  return { retryAt: null };
}

async function pushOnce(ctx: SyncContext, commentId: string): Promise<Step> {
  const [comment, row] = await Promise.all([getComment(ctx.db, ctx.project.id, commentId), getCommentOutboxRow(ctx.db, commentId)]);
  if (!comment || !row || row.status !== "pending") return DONE;
  if (!ctx.project.syncEnabled) return DONE;
  const now = Date.now();
  const directed = commentProject(ctx.project, settingsOf(ctx.project).fieldDirections);
  if (!directed) {
    await closeCommentOutbox(ctx.db, commentId, "done", "comments sync in no direction (fieldDirections.comments: none): kept locally", nowIso(now));
    return DONE;
  }
  ctx = { ...ctx, project: directed };
  if (ctx.project.syncDirection === "inbound") {
    await closeCommentOutbox(ctx.db, commentId, "failed", "the project syncs inbound only", nowIso(now));
    return DONE;
  }
  if (!leavesSyndarix(ctx.project, comment)) {
    await closeCommentOutbox(ctx.db, commentId, "done", "internal comments are never sent", nowIso(now));
    return DONE;
  }
  const issue = await getIssue(ctx.db, ctx.project.id, comment.issueId);
  if (!issue || issue.deletedAt !== null || issue.syncState === "orphaned") {
    const reason = "the comment's tracker issue is gone";
    await failCommentPush(ctx.db, { commentId, version: null, reason, now: nowIso(now) }, [
      failureEntry(ctx, comment, "comment.push_failed", `comment ${comment.id} cannot be pushed: ${reason}`, nowIso(now)),
    ]);
    return DONE;
  }
  if (issue.externalNumber === null) {
    // The issue's own create has not reached the tracker yet: come back once it has.
    return { kind: "wait", retryAt: nowIso(now + WAIT_FOR_ISSUE_MS) };
  }
  if (row.nextAttemptAt && Date.parse(row.nextAttemptAt) > now) return { kind: "wait", retryAt: row.nextAttemptAt };
  try {
    if (row.op === "delete" || comment.deletedAt !== null) return await deleteStep(ctx, comment, row, issue.externalNumber);
    if (comment.externalId === null) return await createStep(ctx, comment, row, issue.externalNumber, now);
    return await updateStep(ctx, comment, issue.externalNumber);
  } catch (err) {
    return handleFailure(ctx, comment, err);
  }
}

function textFor(ctx: SyncContext, comment: CommentRow): string {
  return withAttribution(comment.author, comment.body, ctx.project.commentAttribution);
}

async function createStep(ctx: SyncContext, comment: CommentRow, row: CommentOutboxRow, number: number, now: number): Promise<Step> {
  const pacedUntil = await nextCreateAt(ctx.db, ctx.project.id);
  if (!row.createAttemptedAt && pacedUntil && Date.parse(pacedUntil) > now) {
    await deferCommentPush(ctx.db, comment.id, pacedUntil);
    return { kind: "wait", retryAt: pacedUntil };
  }
  if (row.createAttemptedAt) {
    const found = await findLostCreate(ctx, comment, row, number);
    if (found) return store(ctx, comment, found, `adopted tracker comment ${found.externalId} on #${number}, made by an earlier attempt whose answer was lost`);
  }
  const text = textFor(ctx, comment);
  await recordCommentCreateAttempt(ctx.db, { commentId: comment.id, sentBody: text, at: nowIso(now) });
  await delayCreates(ctx.db, ctx.project.id, nowIso(now + CREATE_SPACING_MS));
  // Only reached for an internal comment on a GitLab project that opted in: an internal note.
  const created = await ctx.tracker.createComment(number, text, comment.visibility === "internal" ? { internal: true } : undefined);
  return store(ctx, comment, created, `created tracker comment ${created.externalId} on #${number}`);
}

/** The comment an earlier attempt made and never heard back about: same issue, our user, same text, in the window. */
async function findLostCreate(ctx: SyncContext, comment: CommentRow, row: CommentOutboxRow, number: number): Promise<CanonicalComment | null> {
  const since = nowIso(Date.parse(row.createAttemptedAt!) - CLOCK_SKEW_MS);
  const sent = normalizeBody(row.sentBody ?? textFor(ctx, comment));
  const candidates = (await ctx.tracker.findOwnComments(number, since)).filter((c) => normalizeBody(c.body) === sent);
  if (candidates.length === 0) return null;
  // Never adopt a comment another local comment already owns (two identical "+1"s).
  const owned = await loadCommentsByExternalIds(ctx.db, ctx.project.id, candidates.map((c) => c.externalId));
  return candidates.find((c) => !owned.has(c.externalId)) ?? null;
}

async function updateStep(ctx: SyncContext, comment: CommentRow, number: number): Promise<Step> {
  if (comment.base !== null && comment.base === comment.body) return store(ctx, comment, null, null);
  const current = await ctx.tracker.getComment(number, comment.externalId!);
  if (!current) {
    // Deleted on the tracker while edited here: the tracker's deletion stands.
    await markGone(ctx, comment);
    return DONE;
  }
  const tracker = withoutAttribution(comment.author, normalizeBody(current.body));
  const stale = comment.externalUpdatedAt !== null && current.updatedAt < comment.externalUpdatedAt;
  if (!stale && tracker !== (comment.base ?? "")) {
    // Changed on the tracker since the base: merge (conflicts settled by master), then go again.
    await applyComments(ctx, [current]);
    return AGAIN;
  }
  const answer = await ctx.tracker.updateComment(number, comment.externalId!, textFor(ctx, comment));
  return store(ctx, comment, answer, `sent body to tracker comment ${comment.externalId} on #${number}`);
}

async function deleteStep(ctx: SyncContext, comment: CommentRow, row: CommentOutboxRow, number: number): Promise<Step> {
  let externalId = comment.externalId;
  if (externalId === null && row.createAttemptedAt) externalId = (await findLostCreate(ctx, comment, row, number))?.externalId ?? null;
  if (externalId !== null) await ctx.tracker.deleteComment(number, externalId);
  const now = nowIso();
  const activity = pushActivity(ctx, comment, externalId, externalId !== null ? `deleted tracker comment ${externalId} on #${number}` : null, true, now);
  await storeCommentPushResult(ctx.db, { comment, externalId, externalUrl: null, externalUpdatedAt: null, base: null, settled: true, deleted: true, now, activity });
  await closeCommentOutbox(ctx.db, comment.id, "done", null, nowIso());
  return DONE;
}

/**
 * A push's entries: `comment.pushed` for what reached the tracker (recorded whatever happened
 * locally meanwhile: the tracker was written), and the local row's changes, recorded only if the
 * comment was still at the version read.
 */
function pushActivity(ctx: SyncContext, comment: CommentRow, externalId: string | null, what: string | null, settled: boolean, now: string): ActivityEntry[] {
  const where = { projectId: ctx.project.id, origin: originOf(ctx, "push"), now };
  const entries: ActivityEntry[] = [];
  if (what) {
    const linked = externalId !== null && comment.externalId !== externalId ? { externalId: { before: comment.externalId, after: externalId } } : null;
    entries.push({ ...where, createdAt: now, issueId: comment.issueId, kind: "comment.pushed", changes: linked, detail: `comment ${comment.id}: ${what}` });
  }
  // The mapping is in comment.pushed; here only what changes on the local row itself.
  const changed = commentChangedEntry(where, comment, { ...comment, syncState: settled ? "synced" : "pending_push" });
  if (changed) entries.push(changed);
  return entries;
}

async function store(ctx: SyncContext, comment: CommentRow, answer: CanonicalComment | null, what: string | null): Promise<Step> {
  const base = answer ? withoutAttribution(comment.author, normalizeBody(answer.body)) : comment.base;
  const settled = base === comment.body;
  const now = nowIso();
  const atVersion = await storeCommentPushResult(ctx.db, {
    comment,
    externalId: answer?.externalId ?? null,
    externalUrl: answer?.url || null,
    externalUpdatedAt: answer?.updatedAt ?? null,
    base,
    settled,
    now,
    activity: pushActivity(ctx, comment, answer?.externalId ?? null, answer ? what : null, settled, now),
  });
  return atVersion && settled ? DONE : AGAIN;
}

async function markGone(ctx: SyncContext, comment: CommentRow): Promise<void> {
  const fresh = await getComment(ctx.db, ctx.project.id, comment.id);
  if (fresh) await applyCommentDeletions(ctx, [fresh]);
}

async function handleFailure(ctx: SyncContext, comment: CommentRow, err: unknown): Promise<Step> {
  const now = nowIso();
  if (err instanceof RateLimitedError) {
    await deferCommentPush(ctx.db, comment.id, err.retryAt);
    if (comment.externalId === null) await delayCreates(ctx.db, ctx.project.id, err.retryAt);
    return { kind: "wait", retryAt: err.retryAt };
  }
  if (!(err instanceof TrackerError)) throw err;
  if (err.retryable) {
    await recordCommentPushAttempt(ctx.db, comment.id, err.message, now);
    throw err;
  }
  log.error("comment push refused by the tracker", { projectId: ctx.project.id, commentId: comment.id, status: err.status, error: err.message });
  const kind = err.status === 401 || err.status === 403 ? "access.failed" : "comment.push_refused";
  await failCommentPush(ctx.db, { commentId: comment.id, version: comment.version, reason: `push failed: ${err.message}`, now }, [
    failureEntry(ctx, comment, kind, `comment ${comment.id}: the tracker refused the push${err.status ? ` (HTTP ${err.status})` : ""}: ${err.message}`, now),
  ]);
  return DONE;
}

function failureEntry(ctx: SyncContext, comment: CommentRow, kind: ActivityEntry["kind"], detail: string, now: string): ActivityEntry {
  return {
    projectId: ctx.project.id,
    issueId: comment.issueId,
    kind,
    origin: originOf(ctx, "push"),
    createdAt: now,
    changes: comment.syncState !== "error" ? { syncState: { before: comment.syncState, after: "error" } } : null,
    detail,
  };
}

/** Dead letter: retries exhausted; the row fails and the comment shows why. */
export async function recordCommentPushFailure(env: Env, projectId: string, commentId: string, error: string): Promise<void> {
  const db = database(env.DB);
  const row = await getCommentOutboxRow(db, commentId);
  if (!row || row.status !== "pending") return;
  const reason = row.lastError ? `push failed (${error}): ${row.lastError}` : `push failed: ${error}`;
  const now = nowIso();
  const comment = await getComment(db, projectId, commentId);
  const activity: ActivityEntry[] = comment
    ? [
        {
          projectId,
          issueId: comment.issueId,
          kind: "comment.push_failed",
          origin: { source: "push" },
          createdAt: now,
          changes: comment.syncState !== "error" ? { syncState: { before: comment.syncState, after: "error" } } : null,
          detail: `comment ${commentId}: retries exhausted; ${reason}`,
        },
      ]
    : [];
  if (await failExhaustedCommentPush(db, { commentId, reason, now }, activity)) log.error("comment push failed for good", { projectId, commentId, error: reason });
}
