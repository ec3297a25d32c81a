/**
 * The deletion policy: what happens to a local issue whose tracker copy is gone (deleted,
 * transferred, moved), whoever found out — a webhook, a reconciliation probe or a push.
 */
import { deleteIssue, markOrphaned, unlinkForRecreate } from "../db/issues";
import type { IssueRow } from "../db/schema";
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
    if (reason.status === "deleted") await deleteIssueLeavingTombstone(ctx.db, local, now, deleted);
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
