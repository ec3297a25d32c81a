/**
 * Issues leaving the sync scope. Unlinking (`scope.onLeave: "unlink"`): the local issue keeps every
 * field and becomes a local-only issue; nothing is written to the tracker, nothing is closed or
 * deleted (one atomic batch, guarded by the version read). Freezing (`"freeze"`): the row records
 * since when it is out of scope, so its comments wait as well.
 */
import { and, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import type { Database } from "./client";
import { issueAtVersion } from "./issue-texts";
import { commentOutbox, comments, issues, outbox, type IssueRow } from "./schema";

/** True when the issue was still at the version read and is now unlinked. */
export async function unlinkIssue(db: Database, issue: IssueRow, reason: string, now: string, activity: readonly ActivityEntry[] = []): Promise<boolean> {
  const [result] = await runBatch(db, [
    sql`
      UPDATE ${issues} SET
        external_id = NULL, external_number = NULL, external_url = NULL, external_updated_at = NULL,
        base = NULL, base_hash = NULL, base_parts = 0, sync_state = 'synced', sync_error = NULL, sync_warnings = NULL,
        last_seen_run_id = NULL, scope_frozen_at = NULL, version = version + 1
      WHERE id = ${issue.id} AND project_id = ${issue.projectId} AND version = ${issue.version} AND external_id IS NOT NULL
      RETURNING id`,
    // A pending push of the unlinked issue is done: its tracker issue is not ours any more.
    sql`
      UPDATE ${outbox} SET status = 'done', last_error = ${reason}, updated_at = ${now}
      WHERE issue_id = ${issue.id} AND status = 'pending' AND ${issueAtVersion(issue.id, issue.version + 1)}`,
    ...activityStatements(activity),
  ]);
  return (result?.results.length ?? 0) > 0;
}

/**
 * Marks issues frozen (out of scope) or thawed. Not a field change: no version bump, so no edit of
 * the issue is disturbed by it.
 */
export async function setScopeFrozen(db: Database, projectId: string, change: { freeze: readonly string[]; thaw: readonly string[] }, now: string): Promise<void> {
  const statements = [];
  if (change.freeze.length > 0) {
    statements.push(db.update(issues).set({ scopeFrozenAt: now }).where(and(eq(issues.projectId, projectId), inArray(issues.id, [...change.freeze]), isNull(issues.scopeFrozenAt))));
  }
  if (change.thaw.length > 0) {
    statements.push(db.update(issues).set({ scopeFrozenAt: null }).where(and(eq(issues.projectId, projectId), inArray(issues.id, [...change.thaw]), isNotNull(issues.scopeFrozenAt))));
  }
  if (statements.length > 0) await runBatch(db, statements);
}

/** Comments of these issues with a push still pending (held while the issue was frozen). */
export async function pendingCommentPushesOf(db: Database, projectId: string, issueIds: readonly string[]): Promise<string[]> {
  if (issueIds.length === 0) return [];
  const rows = await db
    .select({ id: commentOutbox.commentId })
    .from(commentOutbox)
    .innerJoin(comments, eq(comments.id, commentOutbox.commentId))
    .where(and(eq(commentOutbox.projectId, projectId), eq(commentOutbox.status, "pending"), inArray(comments.issueId, [...issueIds])))
    .all();
  return rows.map((r) => r.id);
}
