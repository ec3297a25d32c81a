/**
 * Cron sweeps for work whose queue send was lost after its row was written: pending outbox rows
 * and deliveries still `received`. Re-sending is safe: pushing and applying are idempotent, so a
 * job still in the queue does no harm.
 */
import { allShardDatabases } from "../db/shards";
import { listStaleReceived } from "../db/deliveries";
import { listStaleCommentPushes } from "../db/comments";
import { listStalePending } from "../db/outbox";
import type { Env } from "../env";
import { nowIso } from "../ids";
import { resendCommentPushes, resendDeliveries, resendPushes } from "../queue/send";

/** An outbox row pending this long lost its push job (a failed send): send it again. */
const STALE_OUTBOX_MS = 10 * 60_000;
/** A delivery still `received` this long after arriving lost its apply job. */
const STALE_DELIVERY_MS = 15 * 60_000;

/** Re-sends the push jobs of enabled projects' outbox rows left pending too long. */
export async function resendStalePushes(env: Env, now: number = Date.now()): Promise<number> {
  let sent = 0;
  for (const { db } of allShardDatabases(env)) {
    const rows = await listStalePending(db, nowIso(now - STALE_OUTBOX_MS), 1000);
    await resendPushes(env, rows);
    const commentRows = await listStaleCommentPushes(db, nowIso(now - STALE_OUTBOX_MS), 1000);
    await resendCommentPushes(env, commentRows);
    sent += rows.length + commentRows.length;
  }
  return sent;
}

/** Re-sends the apply jobs of deliveries left `received` too long. */
export async function resendStaleDeliveries(env: Env, now: number = Date.now()): Promise<number> {
  let sent = 0;
  for (const { db } of allShardDatabases(env)) {
    const rows = await listStaleReceived(db, nowIso(now - STALE_DELIVERY_MS), 500);
    await resendDeliveries(env, rows);
    sent += rows.length;
  }
  return sent;
}
