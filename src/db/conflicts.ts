import { and, count, desc, eq, lt } from "drizzle-orm";
import type { Database } from "./client";
import { conflicts, type ConflictRow } from "./schema";

/** Newest first, optionally for one issue; `beforeId` is the last id of the previous page. */
export async function listConflicts(
  db: Database,
  projectId: string,
  filter: { issueId?: string },
  page: { limit: number; beforeId?: string | null },
): Promise<ConflictRow[]> {
  return db
    .select()
    .from(conflicts)
    .where(and(eq(conflicts.projectId, projectId), filter.issueId ? eq(conflicts.issueId, filter.issueId) : undefined, page.beforeId ? lt(conflicts.id, page.beforeId) : undefined))
    .orderBy(desc(conflicts.id))
    .limit(page.limit)
    .all();
}

export async function countConflicts(db: Database, projectId: string): Promise<number> {
  const row = await db.select({ n: count() }).from(conflicts).where(eq(conflicts.projectId, projectId)).get();
  return row?.n ?? 0;
}
