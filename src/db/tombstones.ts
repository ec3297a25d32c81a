import { and, eq } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import type { Database } from "./client";
import { conflicts, issues, issueTombstones, outbox, type IssueRow } from "./schema";

/**
 * Removes a local issue whose tracker copy was confirmed deleted, leaving a tombstone for its
 * external id in the same atomic batch: a replayed old delivery for it is then refused, not imported.
 */
export async function deleteIssueLeavingTombstone(db: Database, local: IssueRow, now: string, activity: readonly ActivityEntry[] = []): Promise<void> {
  const stones =
    local.externalId === null
      ? []
      : [
          db
            .insert(issueTombstones)
            .values({
              projectId: local.projectId,
              externalId: local.externalId,
              externalNumber: local.externalNumber,
              externalUpdatedAt: local.externalUpdatedAt,
              deletedAt: now,
            })
            .onConflictDoNothing(),
        ];
  await runBatch(db, [
    ...stones,
    db.delete(outbox).where(eq(outbox.issueId, local.id)),
    db.delete(conflicts).where(eq(conflicts.issueId, local.id)),
    db.delete(issues).where(eq(issues.id, local.id)),
    ...activityStatements(activity),
  ]);
}

/** True when the tracker issue `externalId` was deleted and removed here. */
export async function hasTombstone(db: Database, projectId: string, externalId: string): Promise<boolean> {
  const row = await db
    .select({ id: issueTombstones.externalId })
    .from(issueTombstones)
    .where(and(eq(issueTombstones.projectId, projectId), eq(issueTombstones.externalId, externalId)))
    .get();
  return row !== undefined;
}
