/**
 * Bounded deletes of finished history, for retention. Ids are UUIDv7, so "created before" is a
 * primary-key range (`idFloor`). Each call deletes at most `limit` rows and returns how many it did.
 * Runs still going, deliveries not yet applied and pending pushes are never touched.
 */
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "./client";
import { activity, events, githubAppDeliveries, outbox, syncRuns, webhookDeliveries } from "./schema";

async function deleted(db: Database, statement: SQL): Promise<number> {
  const result = await db.run(statement);
  return result.meta.changes ?? 0;
}

export function deleteFinishedRuns(db: Database, beforeId: string, limit: number): Promise<number> {
  return deleted(db, sql`
    DELETE FROM ${syncRuns} WHERE id IN (
      SELECT id FROM ${syncRuns} WHERE id < ${beforeId} AND status IN ('succeeded', 'failed') ORDER BY id LIMIT ${limit})`);
}

export function deleteProcessedDeliveries(db: Database, beforeId: string, limit: number): Promise<number> {
  return deleted(db, sql`
    DELETE FROM ${webhookDeliveries} WHERE id IN (
      SELECT id FROM ${webhookDeliveries} WHERE id < ${beforeId} AND status != 'received' ORDER BY id LIMIT ${limit})`);
}

export function deleteEvents(db: Database, beforeId: string, limit: number): Promise<number> {
  return deleted(db, sql`
    DELETE FROM ${events} WHERE id IN (SELECT id FROM ${events} WHERE id < ${beforeId} ORDER BY id LIMIT ${limit})`);
}

/** Done outbox rows last touched before `before` (an ISO instant: rows are reused, so not by id). */
export function deleteDoneOutbox(db: Database, before: string, limit: number): Promise<number> {
  return deleted(db, sql`
    DELETE FROM ${outbox} WHERE id IN (
      SELECT id FROM ${outbox} WHERE updated_at < ${before} AND status = 'done' ORDER BY id LIMIT ${limit})`);
}

/**
 * Activity entries created before `before` (ISO instant). Found through the created_at index (seq
 * order is time order, so this removes the oldest); a follower's cursor stays valid (seq > cursor).
 */
export function deleteOldActivity(db: Database, before: string, limit: number): Promise<number> {
  return deleted(db, sql`
    DELETE FROM ${activity} WHERE seq IN (SELECT seq FROM ${activity} WHERE created_at < ${before} LIMIT ${limit})`);
}

/** GitHub App installation deliveries are kept only to dedupe redeliveries: as long as tracker deliveries. */
export function deleteOldAppDeliveries(db: Database, before: string, limit: number): Promise<number> {
  return deleted(db, sql`
    DELETE FROM ${githubAppDeliveries} WHERE delivery_id IN (
      SELECT delivery_id FROM ${githubAppDeliveries} WHERE received_at < ${before} LIMIT ${limit})`);
}
