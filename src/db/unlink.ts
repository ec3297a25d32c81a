/**
 * Unlinking an issue from its tracker issue (`scope.onLeave: "unlink"`): the local issue keeps every
 * field and becomes a local-only issue; nothing is written to the tracker, nothing is closed or
 * deleted. One atomic batch, guarded by the version read.
 */
import { sql } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import type { Database } from "./client";
import { issueAtVersion } from "./issue-texts";
import { issues, outbox, type IssueRow } from "./schema";

/** True when the issue was still at the version read and is now unlinked. */
export async function unlinkIssue(db: Database, issue: IssueRow, reason: string, now: string, activity: readonly ActivityEntry[] = []): Promise<boolean> {
  const [result] = await runBatch(db, [
    sql`
      UPDATE ${issues} SET
        external_id = NULL, external_number = NULL, external_url = NULL, external_updated_at = NULL,
        base = NULL, base_hash = NULL, base_parts = 0, sync_state = 'synced', sync_error = NULL, sync_warnings = NULL,
        last_seen_run_id = NULL, version = version + 1
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
