import { and, eq, inArray } from "drizzle-orm";
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
              issueId: local.id,
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

/** The deletion proof of the tracker issue `externalId` (see `loadTombstones`); null if it was not deleted here. */
export async function tombstoneOf(db: Database, projectId: string, externalId: string): Promise<string | null> {
  return (await loadTombstones(db, projectId, [externalId])).get(externalId)?.proof ?? null;
}

export interface Tombstone {
  /** Only a tracker copy changed after this instant revives the issue. */
  proof: string;
  /** The removed issue's local id (null for tombstones written before it was kept). */
  issueId: string | null;
}

/**
 * The deletion proof of each of these tracker issues that was deleted and removed here: the later of
 * when it was proven and the last tracker `updated_at` known then — only a copy changed after it is
 * newer than the deletion, however the tracker's clock and ours differ.
 */
export async function loadTombstones(db: Database, projectId: string, externalIds: readonly string[]): Promise<Map<string, Tombstone>> {
  const out = new Map<string, Tombstone>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < externalIds.length; i += 90) {
    const rows = await db
      .select({ externalId: issueTombstones.externalId, deletedAt: issueTombstones.deletedAt, externalUpdatedAt: issueTombstones.externalUpdatedAt, issueId: issueTombstones.issueId })
      .from(issueTombstones)
      .where(and(eq(issueTombstones.projectId, projectId), inArray(issueTombstones.externalId, externalIds.slice(i, i + 90))))
      .all();
    for (const r of rows) out.set(r.externalId, { proof: r.externalUpdatedAt && r.externalUpdatedAt > r.deletedAt ? r.externalUpdatedAt : r.deletedAt, issueId: r.issueId });
  }
  return out;
}

/** A revived issue's tombstone goes: it lives again under a new local row. */
export async function removeTombstones(db: Database, projectId: string, externalIds: readonly string[]): Promise<void> {
  for (let i = 0; i < externalIds.length; i += 90) {
    await db.delete(issueTombstones).where(and(eq(issueTombstones.projectId, projectId), inArray(issueTombstones.externalId, externalIds.slice(i, i + 90))));
  }
}
