import type { Database } from "../db/client";
import { allShardDatabases } from "../db/shards";
import { deleteDoneOutbox, deleteEvents, deleteFinishedRuns, deleteOldActivity, deleteOldAppDeliveries, deleteProcessedDeliveries } from "../db/history";
import { pruneIdempotencyKeys } from "../db/idempotency";
import { deleteOldFreshness } from "../db/freshness";
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
  activityDays: 30,
  /** Hours of the freshness histogram (status shows the last 24 hours). */
  freshnessDays: 7,
} as const;

/** Rows deleted per statement, and statements per table per call: bounded work for the daily cron. */
const CHUNK = 5_000;
const MAX_CHUNKS = 20;

export interface PruneResult {
  syncRuns: number;
  deliveries: number;
  events: number;
  outbox: number;
  activity: number;
  appDeliveries: number;
  /** Idempotency-Key answers are kept one day. */
  idempotencyKeys: number;
  freshness: number;
}

/** Deletes finished history older than its retention, oldest first, in bounded chunks, in every shard. */
export async function pruneHistory(env: Env, now: number = Date.now()): Promise<PruneResult> {
  const total: PruneResult = { syncRuns: 0, deliveries: 0, events: 0, outbox: 0, activity: 0, appDeliveries: 0, idempotencyKeys: 0, freshness: 0 };
  for (const { db } of allShardDatabases(env)) {
    const pruned = await pruneShard(db, now);
    for (const k of Object.keys(total) as (keyof PruneResult)[]) total[k] += pruned[k];
  }
  return total;
}

/** One shard's pruning (idempotency keys live in the catalog only: elsewhere that delete finds nothing). */
async function pruneShard(db: Database, now: number): Promise<PruneResult> {
  const before = (days: number) => idFloor(now - days * DAY_MS);
  const prune = async (deleteChunk: (db: Database, before: string, limit: number) => Promise<number>, cutoff: string): Promise<number> => {
    let total = 0;
    for (let i = 0; i < MAX_CHUNKS; i++) {
      const deleted = await deleteChunk(db, cutoff, CHUNK);
      total += deleted;
      if (deleted < CHUNK) break;
    }
    return total;
  };
  return {
    syncRuns: await prune(deleteFinishedRuns, before(RETENTION.syncRunsDays)),
    deliveries: await prune(deleteProcessedDeliveries, before(RETENTION.deliveriesDays)),
    events: await prune(deleteEvents, before(RETENTION.eventsDays)),
    outbox: await prune(deleteDoneOutbox, new Date(now - RETENTION.finishedOutboxDays * DAY_MS).toISOString()),
    activity: await prune(deleteOldActivity, new Date(now - RETENTION.activityDays * DAY_MS).toISOString()),
    appDeliveries: await prune(deleteOldAppDeliveries, new Date(now - RETENTION.deliveriesDays * DAY_MS).toISOString()),
    idempotencyKeys: await prune(pruneIdempotencyKeys, new Date(now - DAY_MS).toISOString()),
    freshness: await prune(deleteOldFreshness, new Date(now - RETENTION.freshnessDays * DAY_MS).toISOString()),
  };
}
