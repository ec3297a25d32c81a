/**
 * A comment webhook (GitHub/Gitea `issue_comment`, GitLab Note Hook) applied inside the project's
 * Durable Object. Created and edited merge like a polled copy (so our own comment coming back is an
 * echo, and a late edit never rolls a newer one back); deleted marks the local comment deleted.
 */
import { deletePending, loadCommentsByExternalIds } from "../db/comments";
import type { NormalizedEvent } from "../providers/types";
import { requestSoonIncremental } from "../queue/send";
import { applyCommentDeletions, applyComments } from "./comments";
import type { SyncContext } from "./context";

export async function applyCommentEvent(ctx: SyncContext, event: NormalizedEvent): Promise<{ status: "applied" | "ignored"; note: string | null }> {
  if (!ctx.project.syncEnabled) return { status: "ignored", note: "sync is disabled for the project; the comment was not changed" };
  const change = event.comment;
  if (!change) return { status: "ignored", note: null };
  const { comment } = change;
  if (change.action === "deleted") {
    const local = (await loadCommentsByExternalIds(ctx.db, ctx.project.id, [comment.externalId])).get(comment.externalId);
    await deletePending(ctx.db, ctx.project.id, [comment.externalId]);
    // The delivery's copy is the comment as it was when deleted: no copy up to it revives the comment.
    if (local) await applyCommentDeletions(ctx, [local], undefined, comment.updatedAt);
    return { status: "applied", note: local ? null : "the comment was not stored locally" };
  }
  const counts = await applyComments(ctx, [comment], null, { source: "event" });
  if (counts.needsPoll > 0) {
    await requestSoonIncremental(ctx.env, ctx.project.id);
    return { status: "applied", note: "the payload could not be ordered against the stored copy; an incremental sync was requested" };
  }
  return { status: "applied", note: counts.waiting > 0 ? "the comment's issue is not imported yet; it is applied once the issue is" : null };
}
