/**
 * Deletion needs proof, for every record kind; then the deletion policy decides what happens to a
 * local issue whose tracker copy is gone (deleted, transferred, moved), whoever found out — a
 * webhook, a reconciliation probe or a push.
 *
 * Absence is no proof: a 404 also answers a token that lost access, and a record can be missing
 * from a listing whose offset pages shifted while they were read. A record is gone when the
 * tracker says so about it while its container reads fine: an issue answering 404/410 while its
 * repository reads (`getIssue` tells the two apart), a comment answering 404 while its issue reads
 * as the same issue — or a deletion webhook.
 */
import { deleteIssue, markOrphaned, unlinkForRecreate } from "../db/issues";
import type { IssueRow } from "../db/schema";
import type { CanonicalComment } from "../providers/types";
import { deleteIssueLeavingTombstone } from "../db/tombstones";
import { newId, nowIso } from "../ids";
import { enqueuePushes } from "../queue/send";
import { originOf } from "./activity";
import type { SyncContext } from "./context";

export type GoneReason = { status: "deleted" } | { status: "moved"; movedTo: string | null };

/**
 * An issue whose tracker copy is gone (deleted, transferred, moved): the project's deletion policy
 * decides. `orphan` keeps it marked; `delete` removes it locally; `recreate` (outbound) creates it
 * in the tracker again through the push path. Returns what was done.
 */
export async function applyGone(
  ctx: SyncContext,
  local: IssueRow,
  reason: GoneReason,
  /** The tracker's `updated_at` on the event that reported it gone, when there was one. */
  seenAt: string | null = null,
): Promise<"orphaned" | "deleted" | "recreated" | "unchanged"> {
  const now = nowIso();
  const externalUpdatedAt = seenAt && (!local.externalUpdatedAt || seenAt > local.externalUpdatedAt) ? seenAt : local.externalUpdatedAt;
  const why = reason.status === "moved" ? `moved in the tracker${reason.movedTo ? ` to ${reason.movedTo}` : ""}` : "deleted in the tracker";
  const policy = ctx.project.deletionPolicy === "recreate" && ctx.project.syncDirection !== "outbound" ? "orphan" : ctx.project.deletionPolicy;
  const entry = { projectId: ctx.project.id, issueId: local.id, origin: originOf(ctx), createdAt: now };
  const guarded = { ...entry, onlyIfIssue: { id: local.id, version: local.version + 1 } };
  if (policy === "delete") {
    const deleted = [{ ...entry, kind: "issue.deleted" as const, detail: `#${local.externalNumber} ${why}; deleted locally (deletion policy "delete")` }];
    // A confirmed deletion leaves a tombstone; a move does not (the issue lives on elsewhere).
    // The tombstone keeps the latest tracker time known (the deletion event's), so no copy up to it revives the issue.
    if (reason.status === "deleted") await deleteIssueLeavingTombstone(ctx.db, { ...local, externalUpdatedAt }, now, deleted);
    else await deleteIssue(ctx.db, local.id, deleted);
    return "deleted";
  }
  if (policy === "recreate") {
    await unlinkForRecreate(ctx.db, local, { outboxId: newId(), reason: `${why}; recreating`, now }, [
      { ...guarded, kind: "issue.recreate_queued", detail: `#${local.externalNumber} ${why}; recreating it in the tracker` },
    ]);
    await enqueuePushes(ctx.env, ctx.project.id, [local.id]);
    return "recreated";
  }
  if (local.syncState === "orphaned") return "unchanged";
  await markOrphaned(ctx.db, local, { reason: why, now, externalUpdatedAt }, [
    { ...guarded, kind: "issue.orphaned", changes: { syncState: { before: local.syncState, after: "orphaned" } }, detail: `#${local.externalNumber} ${why}` },
  ]);
  return "orphaned";
}

/** What the tracker proves about an issue it answered 404/410 for: gone, unreadable, or nothing. */
export async function proveIssueGone(ctx: SyncContext, number: number, externalId: string | null): Promise<GoneReason | "access_lost" | null> {
  try {
    const lookup = await ctx.tracker.getIssue(number);
    if (lookup.status === "deleted") return { status: "deleted" };
    if (lookup.status === "moved") return { status: "moved", movedTo: lookup.movedTo };
    if (lookup.status === "access_lost") return "access_lost";
    // The number now holds another issue (another id): ours is gone from it.
    if (lookup.status === "found" && lookup.issue.externalId !== externalId) return { status: "deleted" };
    return null;
  } catch {
    return null;
  }
}

export type CommentProof =
  | { status: "present"; copy: CanonicalComment }
  | { status: "gone" }
  | { status: "access_lost" }
  /** The issue itself is gone or unreadable: the issue's own handling decides, not the comment's. */
  | { status: "unproven" };

/** Whether a comment the tracker did not show (404, or absent from a listing) is really gone. */
export async function proveCommentGone(ctx: SyncContext, issue: Pick<IssueRow, "externalNumber" | "externalId">, externalId: string): Promise<CommentProof> {
  if (issue.externalNumber === null) return { status: "unproven" };
  const copy = await ctx.tracker.getComment(issue.externalNumber, externalId);
  if (copy) return { status: "present", copy };
  const lookup = await ctx.tracker.getIssue(issue.externalNumber);
  if (lookup.status === "access_lost") return { status: "access_lost" };
  if (lookup.status === "found" && lookup.issue.externalId === issue.externalId) return { status: "gone" };
  return { status: "unproven" };
}
