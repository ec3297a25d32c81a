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
import { projectDatabaseById } from "../db/shards";
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
import type { CommentOutboxRow, CommentRow, IssueRow } from "../db/schema";
import type { Env } from "../env";
import { nowIso } from "../ids";
import { commentProject } from "./field-directions";
import { settingsOf } from "./project-settings";
import { log } from "../log";
import { TrackerError, type CanonicalComment } from "../providers/types";
import { originOf } from "./activity";
import { adoptionWindow, firstAdoptable, inAdoptionWindow, sameStoredText } from "./adoption";
import { commentChangedEntry } from "./comment-activity";
import { normalizeBody, withAttribution, withoutAttribution } from "./comment-attribution";
import { leavesSyndarix } from "./comment-visibility";
import { applyCommentDeletions, applyComments } from "./comments";
import type { SyncContext } from "./context";
import { proveCommentGone } from "./deletion";
import { CREATE_SPACING_MS } from "./push";
import { ACCESS_LOST_RETRY_MS, AGAIN, commonFailure, DONE, settleRounds, type PushOutcome, type Step } from "./settle";

/** A comment on an issue whose own create has not reached the tracker yet waits this long. */
const WAIT_FOR_ISSUE_MS = 10_000;

export async function pushComment(ctx: SyncContext, commentId: string): Promise<PushOutcome> {
  // Everything this push changes (its answer, a tracker edit it merges) is recorded as from a push.
  ctx = { ...ctx, origin: originOf(ctx, "push") };
  return settleRounds(() => pushOnce(ctx, commentId));
}

async function pushOnce(ctx: SyncContext, commentId: string): Promise<Step> {
  const [comment, row] = await Promise.all([getComment(ctx.db, ctx.project.id, commentId), getCommentOutboxRow(ctx.db, commentId)]);
  if (!comment || !row || row.status !== "pending") return DONE;
  if (!ctx.project.syncEnabled) return DONE;
  // Paused (credentials rejected, installation suspended, repository removed): the row stays
  // pending, as for issues, and is sent once the project resumes (the cron sweep re-sends it).
  if (ctx.credential.pausedReason) return DONE;
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
  // Frozen (out of the sync scope): nothing is sent; the row stays pending and the sweep re-sends it,
  // so it goes out once the issue is back in scope.
  if (issue.scopeFrozenAt !== null) return DONE;
  if (issue.externalNumber === null) {
    // The issue's own create has not reached the tracker yet: come back once it has.
    return { kind: "wait", retryAt: nowIso(now + WAIT_FOR_ISSUE_MS) };
  }
  if (row.nextAttemptAt && Date.parse(row.nextAttemptAt) > now) return { kind: "wait", retryAt: row.nextAttemptAt };
  try {
    if (row.op === "delete" || comment.deletedAt !== null) return await deleteStep(ctx, comment, row, issue.externalNumber);
    if (comment.externalId === null) return await createStep(ctx, comment, row, issue.externalNumber, now);
    return await updateStep(ctx, comment, issue, issue.externalNumber);
  } catch (err) {
    return handleFailure(ctx, comment, issue, err);
  }
}

/**
 * The text sent for a comment: with its attribution line, unless the line would take it past the
 * tracker's length limit — then the comment itself is sent, whole, rather than refused.
 */
function textFor(ctx: SyncContext, comment: CommentRow): string {
  const attributed = withAttribution(comment.author, comment.body, ctx.project.commentAttribution);
  return attributed.length > ctx.tracker.maxCommentLength ? comment.body : attributed;
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
  const internal = comment.visibility === "internal";
  const created = await ctx.tracker.createComment(number, text, internal ? { internal: true } : undefined);
  if (internal && !created.internal) {
    // GitLab before 15.3 ignores `internal` on create and publishes the note: it is taken down at
    // once and the push fails with the reason, never left public.
    await ctx.tracker.deleteComment(number, created.externalId);
    const reason = "the tracker published the note although it was sent as internal (GitLab before 15.3 ignores `internal`); it was deleted again";
    await failCommentPush(ctx.db, { commentId: comment.id, version: comment.version, reason, now: nowIso() }, [
      failureEntry(ctx, comment, "comment.push_refused", `comment ${comment.id}: ${reason}`, nowIso()),
    ]);
    return DONE;
  }
  return store(ctx, comment, created, `created tracker comment ${created.externalId} on #${number}`, true);
}

/** The comment an earlier attempt made and never heard back about, by the one adoption rule (adoption.ts). */
async function findLostCreate(ctx: SyncContext, comment: CommentRow, row: CommentOutboxRow, number: number): Promise<CanonicalComment | null> {
  const window = adoptionWindow(row.createAttemptedAt!);
  const sent = row.sentBody ?? textFor(ctx, comment);
  // The tracker's own-comment listing is the token's user's comments since the window's start.
  const candidates = await ctx.tracker.findOwnComments(number, window.from);
  const owned = await loadCommentsByExternalIds(ctx.db, ctx.project.id, candidates.map((c) => c.externalId));
  return firstAdoptable(
    candidates,
    (c) => inAdoptionWindow(window, c.createdAt) && sameStoredText(c.body, sent),
    async () => true,
    // Never adopt a comment another local comment already owns (two identical "+1"s).
    async (c) => !owned.has(c.externalId),
  );
}

async function updateStep(ctx: SyncContext, comment: CommentRow, issue: IssueRow, number: number): Promise<Step> {
  if (comment.base !== null && comment.base === comment.body) return store(ctx, comment, null, null);
  const current = await ctx.tracker.getComment(number, comment.externalId!);
  if (!current) return absentOnTracker(ctx, comment, issue);
  const tracker = withoutAttribution(comment.author, normalizeBody(current.body));
  const stale = comment.externalUpdatedAt !== null && current.updatedAt < comment.externalUpdatedAt;
  if (!stale && tracker !== (comment.base ?? "")) {
    // Changed on the tracker since the base: merge (conflicts settled by master), then go again.
    await applyComments(ctx, [current]);
    return AGAIN;
  }
  const answer = await ctx.tracker.updateComment(number, comment.externalId!, textFor(ctx, comment));
  return store(ctx, comment, answer, `sent body to tracker comment ${comment.externalId} on #${number}`, true);
}

async function deleteStep(ctx: SyncContext, comment: CommentRow, row: CommentOutboxRow, number: number): Promise<Step> {
  let externalId = comment.externalId;
  if (externalId === null && row.createAttemptedAt) externalId = (await findLostCreate(ctx, comment, row, number))?.externalId ?? null;
  if (externalId !== null) await ctx.tracker.deleteComment(number, externalId);
  const now = nowIso();
  const activity = pushActivity(ctx, comment, comment, externalId, externalId !== null ? `deleted tracker comment ${externalId} on #${number}` : null, true, now);
  await storeCommentPushResult(ctx.db, { comment, externalId, externalUrl: null, externalUpdatedAt: null, base: null, settled: true, deleted: true, now, activity });
  await closeCommentOutbox(ctx.db, comment.id, "done", null, nowIso());
  return DONE;
}

/**
 * A push's entries: `comment.pushed` for what reached the tracker (recorded whatever happened
 * locally meanwhile: the tracker was written), and the local row's changes, recorded only if the
 * comment was still at the version read.
 */
function pushActivity(ctx: SyncContext, comment: CommentRow, after: CommentRow, externalId: string | null, what: string | null, settled: boolean, now: string): ActivityEntry[] {
  const where = { projectId: ctx.project.id, origin: originOf(ctx, "push"), now };
  const entries: ActivityEntry[] = [];
  if (what) {
    const linked = externalId !== null && comment.externalId !== externalId ? { externalId: { before: comment.externalId, after: externalId } } : null;
    entries.push({ ...where, createdAt: now, issueId: comment.issueId, kind: "comment.pushed", changes: linked, detail: `comment ${comment.id}: ${what}` });
  }
  // The mapping is in comment.pushed; here only what changes on the local row itself.
  const changed = commentChangedEntry(where, comment, { ...after, syncState: settled ? "synced" : "pending_push" });
  if (changed) entries.push(changed);
  return entries;
}

/**
 * Stores a push result by the settle rule (settle.ts): the tracker's answer is what it stored, so
 * it becomes the base and — when the answer is to what this push sent (`sent`) — the local body
 * too; a tracker that rewrites text (GitLab strips it) settles in one write instead of looping.
 */
async function store(ctx: SyncContext, comment: CommentRow, answer: CanonicalComment | null, what: string | null, sent = false): Promise<Step> {
  const base = answer ? withoutAttribution(comment.author, normalizeBody(answer.body)) : comment.base;
  const body = sent && base !== null ? base : comment.body;
  const settled = base === body;
  const now = nowIso();
  const after = { ...comment, body };
  const atVersion = await storeCommentPushResult(ctx.db, {
    comment,
    externalId: answer?.externalId ?? null,
    externalUrl: answer?.url || null,
    externalUpdatedAt: answer?.updatedAt ?? null,
    base,
    body: body !== comment.body ? body : null,
    settled,
    now,
    activity: pushActivity(ctx, comment, after, answer?.externalId ?? null, answer ? what : null, settled, now),
  });
  return atVersion && settled ? DONE : AGAIN;
}

/**
 * The tracker answered 404 for the comment: deleted only with proof (its issue reads fine as the
 * same issue). A token that lost access waits; anything unproven leaves the comment alone.
 */
async function absentOnTracker(ctx: SyncContext, comment: CommentRow, issue: IssueRow): Promise<Step> {
  const proof = await proveCommentGone(ctx, issue, comment.externalId!);
  if (proof.status === "present") {
    await applyComments(ctx, [proof.copy]);
    return AGAIN;
  }
  if (proof.status === "gone") {
    // Deleted on the tracker while edited here: the tracker's deletion stands.
    const fresh = await getComment(ctx.db, ctx.project.id, comment.id);
    if (fresh) await applyCommentDeletions(ctx, [fresh]);
    return DONE;
  }
  const retryAt = nowIso(Date.now() + ACCESS_LOST_RETRY_MS);
  await deferCommentPush(ctx.db, comment.id, retryAt);
  log.info("comment push waits: the tracker does not show the comment and nothing proves it deleted", { projectId: ctx.project.id, commentId: comment.id, proof: proof.status });
  return { kind: "wait", retryAt };
}

async function handleFailure(ctx: SyncContext, comment: CommentRow, issue: IssueRow, failure: unknown): Promise<Step> {
  const now = nowIso();
  const err = await commonFailure(failure, {
    isCreate: comment.externalId === null,
    defer: (at) => deferCommentPush(ctx.db, comment.id, at),
    delayCreates: (at) => delayCreates(ctx.db, ctx.project.id, at),
    recordAttempt: (message, at) => recordCommentPushAttempt(ctx.db, comment.id, message, at),
  });
  if (!(err instanceof TrackerError)) return err;
  if (comment.externalId !== null && comment.deletedAt === null && (err.status === 404 || err.status === 410)) return absentOnTracker(ctx, comment, issue);
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
  const db = await projectDatabaseById(env, projectId);
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
