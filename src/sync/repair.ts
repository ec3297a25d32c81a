/**
 * Repairs an operator makes by hand (API and dashboard alike): settle a conflict by keeping the
 * local value or taking the tracker's, and retry a push that failed. Like local edits, each write
 * is a compare-and-set on the issue version in one batch with its push and its activity entry;
 * the push job is sent afterwards (the cron sweep re-sends a lost one).
 */
import { fieldChanges, type ActivityEntry, type ActivityOrigin } from "../db/activity";
import type { Database } from "../db/client";
import { getComment, getCommentOutboxRow, reopenFailedCommentPush } from "../db/comments";
import { countUnresolvedForIssue, getConflict, writeCommentConflictResolution, writeConflictResolution } from "../db/conflicts";
import { fieldsOfRow, fieldsToColumns, getIssue } from "../db/issues";
import { getOutboxRow, reopenFailedPush } from "../db/outbox";
import { acknowledgeFailedDelivery, findDelivery, resetForReplay } from "../db/deliveries";
import type { CommentRow, ConflictRow, DeliveryRow, IssueRow, ProjectRow } from "../db/schema";
import { errorText, log } from "../log";
import type { Env } from "../env";
import { DirectionRefused, NotFound, ServiceUnavailable, StateConflict } from "../errors";
import { newId, nowIso } from "../ids";
import type { IssueFields } from "../providers/types";
import { enqueueCommentPushes, enqueueDeliveryApply, enqueuePushes } from "../queue/send";
import { rowChanges } from "./activity";
import { leavesSyndarix } from "./comment-visibility";
import { baseOfRow, fieldsEqual, normalizeFields, SYNCED_FIELDS, type SyncedField } from "./snapshot";

const MAX_ATTEMPTS = 5;

export interface Resolution {
  conflict: ConflictRow;
  issue: IssueRow;
  /** True when the tracker must change too: a push was queued. */
  pushQueued: boolean;
}

/**
 * Settles a conflict by hand: the issue's field takes the value the chosen side had when the
 * conflict was recorded; when the tracker does not hold that value, the change is pushed.
 */
export async function resolveConflict(
  env: Env,
  db: Database,
  project: ProjectRow,
  conflictId: string,
  keep: "local" | "tracker",
  origin: ActivityOrigin,
): Promise<Resolution> {
  const conflict = await getConflict(db, project.id, conflictId);
  if (!conflict) throw new NotFound("conflict", conflictId);
  if (conflict.resolvedAt) throw alreadyResolved(conflict);
  if (conflict.commentId !== null && conflict.field === COMMENT_BODY) return resolveCommentConflict(env, db, project, conflict, conflict.commentId, keep, origin);
  if (!(SYNCED_FIELDS as readonly string[]).includes(conflict.field)) throw new StateConflict(`conflict ${conflictId} is on an unknown field`);
  const field = conflict.field as SyncedField;
  refuseLocalInbound(project, keep);
  const chosen = JSON.parse((keep === "local" ? conflict.localValue : conflict.trackerValue) ?? "null") as IssueFields[SyncedField];

  return settleByHand(db, project, conflict, `issue ${conflict.issueId}`, async () => {
    const issue = await getIssue(db, project.id, conflict.issueId);
    if (!issue) throw new NotFound("issue", conflict.issueId);
    if (issue.syncState === "orphaned" || issue.deletedAt) throw new StateConflict(`issue ${issue.id} is orphaned: its tracker issue is gone`);
    const wanted = normalizeFields({ ...fieldsOfRow(issue), [field]: chosen } as IssueFields);
    const tracker = baseOfRow(issue);
    const push = project.syncDirection !== "inbound" && (!tracker || !fieldsEqual(wanted, tracker));
    const othersOpen = await countUnresolvedForIssue(db, issue.id, conflict.id);
    const syncState: IssueRow["syncState"] = push ? "pending_push" : othersOpen > 0 && issue.syncState === "conflict" ? "conflict" : "synced";
    const columns = fieldsToColumns({ [field]: wanted[field] });
    const written = await writeConflictResolution(db, {
      issue,
      columns,
      syncState,
      push: push ? { outboxId: newId() } : null,
      ...settlement(conflict, keep, origin, push, {
        issueId: issue.id,
        guard: { onlyIfIssue: { id: issue.id, version: issue.version + 1 } },
        changes: rowChanges(issue, { ...issue, ...columns, syncState }),
        what: `"${field}"`,
      }),
    });
    if (!written) return null;
    if (push) await enqueuePushes(env, project.id, [issue.id]);
    return push;
  });
}

const COMMENT_BODY = "comment.body";

/**
 * A comment conflict settled by hand: the comment's body becomes the chosen side's body. Keeping
 * local pushes it through the comment outbox exactly like a local edit; taking the tracker's pushes
 * only when the tracker no longer holds that body (the comment's base moved on, e.g. the local body
 * was pushed since).
 */
async function resolveCommentConflict(
  env: Env,
  db: Database,
  project: ProjectRow,
  conflict: ConflictRow,
  commentId: string,
  keep: "local" | "tracker",
  origin: ActivityOrigin,
): Promise<Resolution> {
  refuseLocalInbound(project, keep);
  const chosen = JSON.parse((keep === "local" ? conflict.localValue : conflict.trackerValue) ?? "null") as unknown;
  if (typeof chosen !== "string") throw new StateConflict(`conflict ${conflict.id} holds no comment body to apply`);

  return settleByHand(db, project, conflict, `comment ${commentId}`, async () => {
    const comment = await getComment(db, project.id, commentId);
    if (!comment) throw new NotFound("comment", commentId);
    if (comment.deletedAt !== null) throw new StateConflict(`comment ${commentId} is deleted`);
    const push = project.syncDirection !== "inbound" && leavesSyndarix(project, comment) && (keep === "local" || comment.base !== chosen);
    const syncState: CommentRow["syncState"] = push ? "pending_push" : comment.syncState === "conflict" ? "synced" : comment.syncState;
    const written = await writeCommentConflictResolution(db, {
      comment,
      body: chosen,
      syncState,
      push: push ? { outboxId: newId(), op: comment.externalId ? "update" : "create" } : null,
      ...settlement(conflict, keep, origin, push, {
        issueId: comment.issueId,
        guard: { onlyIfComment: { id: comment.id, version: comment.version + 1 } },
        changes: fieldChanges({ body: comment.body, syncState: comment.syncState }, { body: chosen, syncState }),
        what: `comment ${comment.id} body`,
      }),
    });
    if (!written) return null;
    if (push) await enqueueCommentPushes(env, project.id, [comment.id]);
    return push;
  });
}

function alreadyResolved(conflict: ConflictRow): StateConflict {
  return new StateConflict(`conflict ${conflict.id} was already resolved (kept ${conflict.resolvedKeep})`);
}

function refuseLocalInbound(project: ProjectRow, keep: "local" | "tracker"): void {
  if (keep === "local" && project.syncDirection === "inbound") {
    throw new DirectionRefused(`project ${project.id} syncs inbound only: the tracker's value stands`);
  }
}

/**
 * The settle-by-hand loop for every record kind: `attempt` reads the row, writes the resolution as a
 * compare-and-set and answers whether a push was queued, or null when the row moved on meanwhile;
 * then it is read again, unless the conflict was settled by someone else.
 */
async function settleByHand(db: Database, project: ProjectRow, conflict: ConflictRow, subject: string, attempt: () => Promise<boolean | null>): Promise<Resolution> {
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const pushQueued = await attempt();
    if (pushQueued !== null) {
      const [resolvedConflict, issue] = await Promise.all([getConflict(db, project.id, conflict.id), getIssue(db, project.id, conflict.issueId)]);
      if (!issue) throw new NotFound("issue", conflict.issueId);
      return { conflict: resolvedConflict!, issue, pushQueued };
    }
    const again = await getConflict(db, project.id, conflict.id);
    if (again?.resolvedAt) throw alreadyResolved(again);
  }
  throw new StateConflict(`${subject} is being changed concurrently; try again`);
}

/** What a settle by hand records besides the row: the conflict's settlement and its activity entry (written only if the row's update applied). */
function settlement(
  conflict: ConflictRow,
  keep: "local" | "tracker",
  origin: ActivityOrigin,
  push: boolean,
  row: { issueId: string; guard: Pick<ActivityEntry, "onlyIfIssue" | "onlyIfComment">; changes: ActivityEntry["changes"]; what: string },
): { conflictId: string; keep: "local" | "tracker"; actor: string | null; now: string; activity: ActivityEntry[] } {
  const now = nowIso();
  return {
    conflictId: conflict.id,
    keep,
    actor: origin.actor ?? null,
    now,
    activity: [
      {
        projectId: conflict.projectId,
        issueId: row.issueId,
        kind: "conflict.resolved",
        origin,
        createdAt: now,
        ...row.guard,
        changes: row.changes,
        detail: `conflict ${conflict.id} on ${row.what} resolved by hand: kept ${keep}${push ? "; pushing to the tracker" : ""}`,
      },
    ],
  };
}

/** Makes a failed push pending again and queues it. */
export async function retryPush(env: Env, db: Database, project: ProjectRow, issueId: string, origin: ActivityOrigin): Promise<{ issueId: string }> {
  if (project.syncDirection === "inbound") throw new DirectionRefused(`project ${project.id} syncs inbound only: nothing is pushed`);
  const issue = await getIssue(db, project.id, issueId);
  if (!issue) throw new NotFound("issue", issueId);
  const row = await getOutboxRow(db, issueId);
  if (!row || row.status !== "failed") throw new StateConflict(`issue ${issueId} has no failed push to retry`);
  const now = nowIso();
  const reopened = await reopenFailedPush(db, {
    issueId,
    now,
    activity: [retriedEntry({ projectId: project.id, issueId, origin, now }, issue.syncState, `push retried by hand${row.lastError ? ` (last error: ${row.lastError})` : ""}`)],
  });
  if (!reopened) throw new StateConflict(`issue ${issueId} has no failed push to retry`);
  await enqueuePushes(env, project.id, [issueId]);
  return { issueId };
}

/** Makes a failed comment push (refused, or out of retries) pending again and queues it. */
export async function retryCommentPush(
  env: Env,
  db: Database,
  project: ProjectRow,
  commentId: string,
  origin: ActivityOrigin,
  issueId?: string,
): Promise<{ commentId: string }> {
  if (project.syncDirection === "inbound") throw new DirectionRefused(`project ${project.id} syncs inbound only: nothing is pushed`);
  const comment = await getComment(db, project.id, commentId);
  if (!comment || (issueId !== undefined && comment.issueId !== issueId)) throw new NotFound("comment", commentId);
  const row = await getCommentOutboxRow(db, commentId);
  if (!row || row.status !== "failed") throw new StateConflict(`comment ${commentId} has no failed push to retry`);
  const now = nowIso();
  const reopened = await reopenFailedCommentPush(db, {
    commentId,
    now,
    activity: [retriedEntry({ projectId: project.id, issueId: comment.issueId, origin, now }, comment.syncState, `comment ${commentId}: push retried by hand${row.lastError ? ` (last error: ${row.lastError})` : ""}`)],
  });
  if (!reopened) throw new StateConflict(`comment ${commentId} has no failed push to retry`);
  await enqueueCommentPushes(env, project.id, [commentId]);
  return { commentId };
}

/** Applies a stored webhook delivery again (whatever its status), recorded as `delivery.replayed`. */
export async function replayDelivery(env: Env, db: Database, project: ProjectRow, deliveryId: string, origin: ActivityOrigin): Promise<DeliveryRow> {
  const row = await findDelivery(db, project.id, deliveryId);
  if (!row) throw new NotFound("delivery", deliveryId);
  await resetForReplay(db, row.id, [
    {
      projectId: project.id,
      kind: "delivery.replayed",
      origin: { ...origin, deliveryId: row.deliveryId },
      createdAt: nowIso(),
      detail: `delivery ${row.deliveryId} (${row.event}${row.action ? `/${row.action}` : ""}, was ${row.status}) queued again`,
    },
  ]);
  try {
    await enqueueDeliveryApply(env, project.id, row.id);
  } catch (err) {
    log.error("replay enqueue failed", { projectId: project.id, deliveryRowId: row.id, error: errorText(err, 200) });
    throw new ServiceUnavailable("The delivery could not be queued; try again.");
  }
  return row;
}

/**
 * Sets a failed delivery aside for good (a malformed payload no replay can apply): it no longer
 * counts as failed, its error stays readable, and `delivery.acknowledged` records who did it.
 */
export async function acknowledgeDelivery(db: Database, project: ProjectRow, deliveryId: string, origin: ActivityOrigin): Promise<DeliveryRow> {
  const row = await findDelivery(db, project.id, deliveryId);
  if (!row) throw new NotFound("delivery", deliveryId);
  if (row.status !== "failed") throw new StateConflict(`delivery ${row.deliveryId} is ${row.status}, not failed: nothing to acknowledge`);
  const now = nowIso();
  const who = origin.actor ? ` by ${origin.actor}` : "";
  const done = await acknowledgeFailedDelivery(db, row.id, `acknowledged${who} at ${now}`, now, [
    {
      projectId: project.id,
      kind: "delivery.acknowledged",
      origin: { ...origin, deliveryId: row.deliveryId },
      createdAt: now,
      detail: `delivery ${row.deliveryId} (${row.event}${row.action ? `/${row.action}` : ""}) acknowledged as failed for good${row.error ? `: ${row.error}` : ""}`,
    },
  ]);
  if (!done) throw new StateConflict(`delivery ${row.deliveryId} is no longer failed: nothing to acknowledge`);
  return (await findDelivery(db, project.id, deliveryId)) ?? row;
}

/** The `push.retried` entry of a hand retry, for a record of any kind (an issue or one of its comments). */
export function retriedEntry(
  where: { projectId: string; issueId: string; origin: ActivityOrigin; now: string },
  syncState: string,
  detail: string,
): ActivityEntry {
  return {
    projectId: where.projectId,
    issueId: where.issueId,
    kind: "push.retried",
    origin: where.origin,
    createdAt: where.now,
    changes: syncState !== "pending_push" ? { syncState: { before: syncState, after: "pending_push" } } : null,
    detail,
  };
}
