/** Reads for a dry run (nothing here writes). */
import { and, eq, isNotNull, isNull, ne } from "drizzle-orm";
import type { Database } from "./client";
import { issues } from "./schema";

/** Linked, live issues of the project: a complete listing that lacks one would have it probed (and maybe orphaned). */
export async function listLinkedIssueRefs(db: Database, projectId: string): Promise<{ id: string; externalId: string; externalNumber: number | null }[]> {
  const rows = await db
    .select({ id: issues.id, externalId: issues.externalId, externalNumber: issues.externalNumber })
    .from(issues)
    .where(and(eq(issues.projectId, projectId), isNotNull(issues.externalId), isNull(issues.deletedAt), ne(issues.syncState, "orphaned")))
    .all();
  return rows.map((r) => ({ id: r.id, externalId: r.externalId!, externalNumber: r.externalNumber }));
}
