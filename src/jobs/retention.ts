import { sql } from "drizzle-orm";
import { database } from "../db/client";
import { events, outbox, syncRuns, webhookDeliveries } from "../db/schema";
import type { Env } from "../env";
import { idFloor } from "../ids";

const DAY_MS = 24 * 60 * 60_000;

/**
 * How long history is kept. A run row every 5 minutes per project is 288 a day; without pruning,
 * 10,000 projects would add ~3 million rows a day. Conflicts are an audit trail and are kept.
 */
export const RETENTION = {
  syncRunsDays: 14,
  deliveriesDays: 14,
  eventsDays: 30,
  finishedOutboxDays: 7,
} as const;

/** Rows deleted per statement, and statements per table per call: bounded work for the daily cron. */
const CHUNK = 5_000;
const MAX_CHUNKS = 20;

export interface PruneResult {
  syncRuns: number;
  deliveries: number;
  events: number;
  outbox: number;
}

/**
 * Deletes finished history older than its retention, oldest first, in bounded chunks. Ids are
 * UUIDv7, so "older than" is a primary-key range. Runs still going, deliveries not yet applied and
 * pending pushes are never touched.
 */
export async function pruneHistory(env: Env, now: number = Date.now()): Promise<PruneResult> {
  const db = database(env.DB);
  const before = (days: number) => idFloor(now - days * DAY_MS);
  const prune = async (statement: ReturnType<typeof sql>): Promise<number> => {
    let total = 0;
    for (let i = 0; i < MAX_CHUNKS; i++) {
      const result = await db.run(statement);
      const deleted = result.meta.changes ?? 0;
      total += deleted;
      if (deleted < CHUNK) break;
    }
    return total;
  };
  return {
    syncRuns: await prune(sql`
      DELETE FROM ${syncRuns} WHERE id IN (
        SELECT id FROM ${syncRuns} WHERE id < ${before(RETENTION.syncRunsDays)} AND status IN ('succeeded', 'failed') ORDER BY id LIMIT ${CHUNK})`),
    deliveries: await prune(sql`
      DELETE FROM ${webhookDeliveries} WHERE id IN (
        SELECT id FROM ${webhookDeliveries} WHERE id < ${before(RETENTION.deliveriesDays)} AND status != 'received' ORDER BY id LIMIT ${CHUNK})`),
    events: await prune(sql`
      DELETE FROM ${events} WHERE id IN (SELECT id FROM ${events} WHERE id < ${before(RETENTION.eventsDays)} ORDER BY id LIMIT ${CHUNK})`),
    outbox: await prune(sql`
      DELETE FROM ${outbox} WHERE id IN (
        SELECT id FROM ${outbox} WHERE updated_at < ${new Date(now - RETENTION.finishedOutboxDays * DAY_MS).toISOString()} AND status = 'done' ORDER BY id LIMIT ${CHUNK})`),
  };
}
