/**
 * What the subscription routes and the dashboard do, as plain functions: create (the secret shown
 * once), change, rotate the secret, ping, replay, redeliver, enable, and the health shown for each.
 */
import { activityPosition, listActivity, splitPosition } from "../db/activity";
import { allShardDatabases, catalogDatabase, shardExists } from "../db/shards";
import type { EventDeliveryRow, SubscriptionRow } from "../db/schema";
import {
  deleteSubscription,
  getDelivery,
  getSubscription,
  insertDeliveries,
  insertSubscription,
  latestActivitySeq,
  restartDelivery,
  seqBefore,
  shardCursors,
  updateSubscription,
  type NewDelivery,
  type NewSubscription,
} from "../db/subscriptions";
import type { Env } from "../env";
import { NotFound, StateConflict, Unprocessable, type FieldError } from "../errors";
import { newId, nowIso } from "../ids";
import { parseInsecureHosts } from "../providers/endpoints";
import { buildDeliveries, shardStart, wants } from "./dispatch";
import { ROTATION_OVERLAP_MS, sealSubscriptionSecret } from "./secrets";
import { newSigningSecret } from "./signing";
import { eventsOfActivity, patternProblem, type EventSpec } from "./types";
import { checkSubscriptionUrl } from "./url";

export interface SubscriptionInput {
  url: string;
  description?: string | null;
  eventTypes: string[];
  projectIds?: string[] | null;
  payload?: "full" | "thin";
  enabled?: boolean;
}

function checkInput(env: Env, input: Partial<SubscriptionInput>): string | undefined {
  const errors: FieldError[] = [];
  let url: string | undefined;
  if (input.url !== undefined) {
    const check = checkSubscriptionUrl(input.url, parseInsecureHosts(env.ALLOW_INSECURE_TRACKER_HOSTS));
    if (check.ok) url = check.value;
    else errors.push({ field: "url", message: check.problem });
  }
  input.eventTypes?.forEach((p, i) => {
    const problem = patternProblem(p);
    if (problem) errors.push({ field: `eventTypes[${i}]`, message: problem });
  });
  if (errors.length > 0) throw new Unprocessable(errors);
  return url;
}

export async function createSubscription(env: Env, input: SubscriptionInput): Promise<{ row: SubscriptionRow; secret: string }> {
  const url = checkInput(env, input)!;
  const db = catalogDatabase(env);
  const id = newId();
  const secret = newSigningSecret();
  const now = nowIso();
  // Events start from now in every shard: what happened before is available through replay.
  const starts = new Map(await Promise.all(allShardDatabases(env).map(async ({ shard, db: shardDb }) => [shard, await latestActivitySeq(shardDb)] as const)));
  const row = await insertSubscription(
    db,
    {
    id,
    url,
    description: input.description ?? null,
    eventTypes: JSON.stringify([...new Set(input.eventTypes)]),
    projectIds: input.projectIds ? JSON.stringify([...new Set(input.projectIds)]) : null,
    payload: input.payload ?? "full",
    enabled: input.enabled ?? true,
    disabledReason: input.enabled === false ? "manual" : null,
    disabledAt: input.enabled === false ? now : null,
    secretEnc: await sealSubscriptionSecret(env, id, secret),
    cursor: starts.get(0) ?? 0,
    createdAt: now,
    updatedAt: now,
    },
    starts,
  );
  return { row, secret };
}

export async function requireSubscription(env: Env, id: string): Promise<SubscriptionRow> {
  const row = await getSubscription(catalogDatabase(env), id);
  if (!row) throw new NotFound("subscription", id);
  return row;
}

export async function changeSubscription(env: Env, id: string, input: Partial<SubscriptionInput>): Promise<SubscriptionRow> {
  const url = checkInput(env, input);
  const current = await requireSubscription(env, id);
  const now = nowIso();
  const patch: Partial<NewSubscription> = { updatedAt: now };
  if (url !== undefined) patch.url = url;
  if (input.description !== undefined) patch.description = input.description;
  if (input.eventTypes !== undefined) patch.eventTypes = JSON.stringify([...new Set(input.eventTypes)]);
  if (input.projectIds !== undefined) patch.projectIds = input.projectIds ? JSON.stringify([...new Set(input.projectIds)]) : null;
  if (input.payload !== undefined) patch.payload = input.payload;
  if (input.enabled === false && current.enabled) Object.assign(patch, { enabled: false, disabledReason: "manual", disabledAt: now });
  if (input.enabled === true && !current.enabled) Object.assign(patch, { enabled: true, disabledReason: null, disabledAt: null, failingSince: null });
  return (await updateSubscription(catalogDatabase(env), id, patch)) ?? current;
}

/** A new secret; the old one keeps signing beside it for 24 hours. */
export async function rotateSecret(env: Env, id: string, nowMs = Date.now()): Promise<{ row: SubscriptionRow; secret: string; previousExpiresAt: string }> {
  const current = await requireSubscription(env, id);
  const secret = newSigningSecret();
  const previousExpiresAt = nowIso(nowMs + ROTATION_OVERLAP_MS);
  const row = await updateSubscription(catalogDatabase(env), id, {
    secretEnc: await sealSubscriptionSecret(env, id, secret),
    previousSecretEnc: current.secretEnc,
    previousSecretExpiresAt: previousExpiresAt,
    updatedAt: nowIso(nowMs),
  });
  return { row: row ?? current, secret, previousExpiresAt };
}

/** Turns the subscription back on after an automatic (or manual) disable; pending deliveries resume. */
export async function enableSubscription(env: Env, id: string): Promise<SubscriptionRow> {
  return changeSubscription(env, id, { enabled: true });
}

export async function removeSubscription(env: Env, id: string): Promise<void> {
  if (!(await deleteSubscription(catalogDatabase(env), id))) throw new NotFound("subscription", id);
}

/** A `webhook.ping` delivery, sent like any event (signed, retried). */
export async function queuePing(env: Env, id: string, nowMs = Date.now()): Promise<EventDeliveryRow> {
  const sub = await requireSubscription(env, id);
  if (!sub.enabled) throw new StateConflict(`Subscription ${id} is disabled; enable it first.`);
  const at = nowIso(nowMs);
  const deliveryId = newId(nowMs);
  const eventId = `evt_ping_${deliveryId}`;
  const body = JSON.stringify({ type: "webhook.ping", timestamp: at, data: { eventId, position: null, previousPosition: null, subscriptionId: id } });
  const db = catalogDatabase(env);
  await insertDeliveries(db, id, [
    { id: deliveryId, eventId, eventType: "webhook.ping", origin: "ping", projectId: null, issueId: null, orderKey: `ping:${deliveryId}`, position: 0, positionIndex: 0, body, nextAttemptAt: at, createdAt: at },
  ]);
  return (await getDelivery(db, id, deliveryId))!;
}

export async function redeliver(env: Env, id: string, deliveryId: string, nowMs = Date.now()): Promise<EventDeliveryRow> {
  await requireSubscription(env, id);
  const row = await restartDelivery(catalogDatabase(env), id, deliveryId, nowIso(nowMs));
  if (!row) throw new NotFound("delivery", deliveryId);
  return row;
}

export interface ReplayInput {
  after?: string;
  since?: string;
  until?: string;
  eventTypes?: string[];
}

/** Activity rows a replay reads at most in one call (narrow the window for more). */
export const REPLAY_MAX_ENTRIES = 5_000;

/**
 * Sends again, from the activity streams, the events the subscription already read (up to its cursor
 * in each shard) that match: after a position, or within a time window. Same event ids, same per-issue
 * order. A position names one shard's stream (positions are shard-qualified): `after` alone replays
 * that shard; with `since`, the shards after it are replayed from `since` too, which is how
 * `continueAfter` resumes a window that spans several shards (they are read in shard order).
 */
export async function replay(env: Env, id: string, input: ReplayInput, nowMs = Date.now()): Promise<{ replayId: string; events: number; continueAfter: string | null }> {
  const errors: FieldError[] = [];
  const after = input.after !== undefined && /^\d{1,15}$/.test(input.after) ? splitPosition(Number(input.after)) : null;
  if (input.after !== undefined && !after) errors.push({ field: "after", message: "is not a position (an event's data.position)" });
  if (after && !shardExists(env, after.shard)) errors.push({ field: "after", message: `names shard ${after.shard}, which this deployment does not have` });
  if (input.since && input.until && input.since > input.until) errors.push({ field: "until", message: "is before since" });
  input.eventTypes?.forEach((p, i) => {
    const problem = patternProblem(p);
    if (problem) errors.push({ field: `eventTypes[${i}]`, message: problem });
  });
  if (input.after === undefined && input.since === undefined) errors.push({ field: "after", message: "give after (a position) or since (a time)" });
  if (errors.length > 0) throw new Unprocessable(errors);
  const sub = await requireSubscription(env, id);
  const catalog = catalogDatabase(env);
  const cursors = await shardCursors(catalog, sub.id);
  const since = input.since ? new Date(input.since).toISOString() : null;
  const until = input.until ? new Date(input.until).toISOString() : null;
  const replayId = `replay_${newId(nowMs)}`;
  const deliveries: NewDelivery[] = [];
  let read = 0;
  let continueAfter: string | null = null;
  for (const { shard, db } of allShardDatabases(env)) {
    if (after && (shard < after.shard || (shard > after.shard && !since))) continue;
    if (continueAfter !== null) break;
    const readUpTo = (await shardStart(catalog, db, sub, shard, cursors)).cursor;
    const specs: EventSpec[] = [];
    // A time window starts at its first entry (found by time), not at the start of the stream.
    let afterSeq = Math.max(after && shard === after.shard ? after.seq : 0, since ? await seqBefore(db, since) : 0);
    while (afterSeq < readUpTo) {
      if (read >= REPLAY_MAX_ENTRIES) {
        continueAfter = String(activityPosition(shard, afterSeq));
        break;
      }
      const rows = await listActivity(db, {}, { afterSeq, limit: 500 });
      if (rows.length === 0) break;
      let done = false;
      for (const row of rows) {
        if (row.seq > readUpTo || (until && row.createdAt > until)) {
          done = true;
          break;
        }
        if (read >= REPLAY_MAX_ENTRIES) break;
        read++;
        afterSeq = row.seq;
        if (since && row.createdAt < since) continue;
        specs.push(...eventsOfActivity(row, shard).filter((spec) => wants(sub, spec, input.eventTypes)));
      }
      if (done || rows.length < 500) break;
    }
    deliveries.push(...(await buildDeliveries(catalog, db, sub, specs, replayId, nowIso(nowMs))));
  }
  await insertDeliveries(catalog, id, deliveries);
  return { replayId, events: deliveries.length, continueAfter };
}

export const SUBSCRIPTION_CHIPS = ["disabled", "failing", "dead letters", "backlog", "healthy"] as const;
export type SubscriptionChip = (typeof SUBSCRIPTION_CHIPS)[number];

/** Pending deliveries beyond this count show as a backlog. */
export const BACKLOG_AFTER = 100;

export const SUBSCRIPTION_CHIP_RULES: Record<SubscriptionChip, string> = {
  disabled: "switched off: by hand, by the endpoint answering 410 Gone, or after 5 days of nothing but failed deliveries (the reason is shown next to the chip)",
  failing: "the last attempts failed and none succeeded since (the time of the first failure is shown)",
  "dead letters": "deliveries failed after their last attempt and wait for a redelivery or a replay",
  backlog: `more than ${BACKLOG_AFTER} deliveries wait to be sent`,
  healthy: "none of the above",
};

/** The first rule that holds wins (the rules are written on the page). */
export function subscriptionChip(sub: SubscriptionRow, counts: { pending: number; failed: number }): { chip: SubscriptionChip; reason: string | null } {
  if (!sub.enabled) return { chip: "disabled", reason: sub.disabledReason === "gone" ? "the endpoint answered 410 Gone" : sub.disabledReason === "failing" ? "5 days of failures" : "switched off" };
  if (sub.failingSince) return { chip: "failing", reason: `since ${sub.failingSince}` };
  if (counts.failed > 0) return { chip: "dead letters", reason: `${counts.failed} failed` };
  if (counts.pending > BACKLOG_AFTER) return { chip: "backlog", reason: `${counts.pending} pending` };
  return { chip: "healthy", reason: null };
}
