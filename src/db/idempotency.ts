import { and, eq, lt, sql } from "drizzle-orm";
import type { Database } from "./client";
import { idempotencyKeys, type IdempotencyKeyRow } from "./schema";

/**
 * Claims `key` for a request: true when this request is the first (the row is written with no
 * answer yet); otherwise the row already there (an answered or in-flight request). A row older
 * than `expiredBefore` is replaced: keys are kept 24 hours.
 */
export async function claimIdempotencyKey(
  db: Database,
  row: { tokenName: string; key: string; requestHash: string; createdAt: string },
  expiredBefore: string,
): Promise<{ claimed: true } | { claimed: false; existing: IdempotencyKeyRow }> {
  await db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.tokenName, row.tokenName), eq(idempotencyKeys.key, row.key), lt(idempotencyKeys.createdAt, expiredBefore)));
  const inserted = await db.insert(idempotencyKeys).values(row).onConflictDoNothing().returning({ key: idempotencyKeys.key });
  if (inserted.length > 0) return { claimed: true };
  const existing = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.tokenName, row.tokenName), eq(idempotencyKeys.key, row.key))).get();
  // Deleted in between (expired by another request): the caller may simply try again.
  if (!existing) return claimIdempotencyKey(db, row, expiredBefore);
  return { claimed: false, existing };
}

export async function recordIdempotentAnswer(db: Database, tokenName: string, key: string, status: number, response: string): Promise<void> {
  await db.update(idempotencyKeys).set({ status, response }).where(and(eq(idempotencyKeys.tokenName, tokenName), eq(idempotencyKeys.key, key)));
}

/** Lets the key be used again (the request failed on the server's side: a retry should run it). */
export async function releaseIdempotencyKey(db: Database, tokenName: string, key: string): Promise<void> {
  await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.tokenName, tokenName), eq(idempotencyKeys.key, key), sql`${idempotencyKeys.status} IS NULL`));
}

/** Daily retention: up to `limit` keys older than `before`, oldest first. */
export async function pruneIdempotencyKeys(db: Database, before: string, limit: number): Promise<number> {
  const rows = await db.all<{ key: string }>(sql`
    DELETE FROM ${idempotencyKeys} WHERE rowid IN (SELECT rowid FROM ${idempotencyKeys} WHERE created_at < ${before} ORDER BY created_at LIMIT ${limit}) RETURNING key`);
  return rows.length;
}
