/**
 * Dashboard sessions that may still be used (issue 21): a signed cookie alone is not enough, its
 * row must be here. Sign-out deletes it; deleting every row ends every session.
 */
import { eq, gt, and, lt } from "drizzle-orm";
import type { Database } from "./client";
import { dashboardSessions } from "./schema";

export async function openSessionRow(db: Database, row: { id: string; tokenName: string; expiresAt: string; now: string }): Promise<void> {
  // Expired rows go as new ones come: the table holds only sessions that could still be used.
  await db.batch([
    db.delete(dashboardSessions).where(lt(dashboardSessions.expiresAt, row.now)),
    db.insert(dashboardSessions).values({ id: row.id, tokenName: row.tokenName, expiresAt: row.expiresAt, createdAt: row.now }),
  ]);
}

export async function sessionRowActive(db: Database, id: string, now: string): Promise<boolean> {
  const row = await db
    .select({ id: dashboardSessions.id })
    .from(dashboardSessions)
    .where(and(eq(dashboardSessions.id, id), gt(dashboardSessions.expiresAt, now)))
    .get();
  return row !== undefined;
}

export async function endSessionRow(db: Database, id: string): Promise<void> {
  await db.delete(dashboardSessions).where(eq(dashboardSessions.id, id));
}
