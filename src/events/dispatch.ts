/**
 * One round of a subscription's dispatcher (run by its Durable Object, one round at a time):
 *
 * 1. read each shard's activity stream past the subscription's cursor in that shard and turn the
 *    matching entries into deliveries, moving that cursor in the same batch (compare-and-set): an
 *    entry becomes a delivery exactly once; a project lives in one shard, so its events keep its order;
 * 2. take the due heads — per order key (an issue) only the oldest pending delivery may go, so an
 *    issue's later events wait while its earlier one is retried, and other issues go on —, claim each
 *    (attempt counted, `next_attempt_at` moved to the end of a lease) and only then send it: a second
 *    round started by a duplicated wake finds nothing to claim; a crash after the send and before the
 *    record leaves the claim, whose lease runs out, and the event is sent again with the same id;
 * 3. record each attempt and its outcome: success, the next attempt on the retry schedule (later if
 *    the endpoint said `Retry-After`), `failed` after the last one (activity
 *    `subscription.delivery_failed`), the subscription disabled on 410 or after 5 days of failures.
 *
 * Limits per round (one Durable Object invocation): at most SEND_BATCH sends, CONCURRENCY at a time,
 * so an endpoint never has more than CONCURRENCY requests of one subscription open (it is not sent
 * events faster than it answers), and a round stays well inside 50 subrequests.
 */
import { listActivity, type ActivityEntry } from "../db/activity";
import { type Database } from "../db/client";
import { allShardDatabases, catalogDatabase } from "../db/shards";
import type { EventDeliveryRow, SubscriptionRow } from "../db/schema";
import {
  claimDeliveries,
  countPending,
  dueHeads,
  lastPositions,
  loadCommentsByIds,
  loadIssuesByIds,
  materializeDeliveries,
  nextHeadDueAt,
  recordAttempts,
  getSubscription,
  seqBefore,
  shardCursors,
  startShardCursor,
  type AttemptRecord,
  type NewDelivery,
  type NewSubscription,
} from "../db/subscriptions";
import type { Env } from "../env";
import { newId, nowIso } from "../ids";
import { errorText, log } from "../log";
import { parseInsecureHosts } from "../providers/endpoints";
import { envelope } from "./envelope";
import { DISABLE_AFTER_FAILING_MS, MAX_ATTEMPTS, retryAfterMs, retryDelayMs } from "./schedule";
import { subscriptionSecrets } from "./secrets";
import { webhookHeaders } from "./signing";
import { eventsOfActivity, typeMatches, type EventSpec } from "./types";
import { checkSubscriptionUrl } from "./url";

export const SEND_BATCH = 25;
export const CONCURRENCY = 5;
export const ATTEMPT_TIMEOUT_MS = 15_000;
/** A claimed delivery whose outcome was never recorded (a crash) is sent again after this. */
export const LEASE_MS = 60_000;
const ACTIVITY_PAGE = 200;
/** Events turned into deliveries per round (an import summary may stand for many). */
const EVENTS_PER_ROUND = 200;
/** Reading stops while this many deliveries are pending: a slow endpoint is not buried in D1 rows. */
export const MAX_PENDING_AHEAD = 2_000;
const RESPONSE_EXCERPT_BYTES = 1_024;

export interface DispatchDeps {
  now: () => number;
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  random: () => number;
}

export const runtimeDeps = (): DispatchDeps => ({ now: () => Date.now(), fetch: (input, init) => fetch(input, init), random: Math.random });

export interface RoundResult {
  /** When the next round should run (ms since epoch); null when nothing waits. */
  nextWakeAt: number | null;
  materialized: number;
  attempted: number;
  /** Activity entries read past the cursor (whether or not they matched). */
  read: number;
  /** False when the subscription is gone or disabled: nothing to watch. */
  active: boolean;
}

function parseList(json: string | null): string[] | null {
  if (json === null) return null;
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : null;
  } catch {
    return null;
  }
}

/**
 * The deliveries for events (a stream read or a replay) of one shard, with previousPosition chained per
 * issue. `catalog` holds the subscription's deliveries; `shardDb` the shard's issues and comments.
 */
export async function buildDeliveries(
  catalog: Database,
  shardDb: Database,
  sub: SubscriptionRow,
  specs: readonly EventSpec[],
  origin: string,
  nowIsoText: string,
): Promise<NewDelivery[]> {
  if (specs.length === 0) return [];
  const issueIds = [...new Set(specs.map((s) => s.issueId).filter((id): id is string => id !== null))];
  const chain = await lastPositions(catalog, sub.id, issueIds, specs[0]!.position);
  const full = sub.payload === "full";
  const issues = full ? await loadIssuesByIds(shardDb, issueIds) : new Map();
  const commentIds = [...new Set(specs.map((s) => s.commentId).filter((id): id is string => id !== null))];
  const comments = full ? await loadCommentsByIds(shardDb, commentIds) : new Map();
  return specs.map((spec) => {
    const previousPosition = spec.issueId ? (chain.get(spec.issueId) ?? null) : null;
    if (spec.issueId) chain.set(spec.issueId, spec.position);
    return {
      id: newId(),
      eventId: spec.eventId,
      eventType: spec.type,
      origin,
      projectId: spec.projectId,
      issueId: spec.issueId,
      orderKey: spec.issueId ? `issue:${spec.issueId}` : `project:${spec.projectId}`,
      position: spec.position,
      positionIndex: spec.positionIndex,
      body: envelope({
        spec,
        previousPosition,
        payload: sub.payload,
        issue: spec.issueId ? issues.get(spec.issueId) : undefined,
        comment: spec.commentId ? comments.get(spec.commentId) : undefined,
      }),
      nextAttemptAt: nowIsoText,
      createdAt: nowIsoText,
    };
  });
}

/** Whether the subscription wants the event (its projects and its event types). */
export function wants(sub: Pick<SubscriptionRow, "projectIds" | "eventTypes">, spec: Pick<EventSpec, "projectId" | "type">, eventTypes?: readonly string[]): boolean {
  const projects = parseList(sub.projectIds);
  if (projects && !projects.includes(spec.projectId)) return false;
  if (eventTypes && !typeMatches(eventTypes, spec.type)) return false;
  return typeMatches(parseList(sub.eventTypes) ?? [], spec.type);
}

/** Where the subscription has read a shard's stream up to (see `subscription_shard_cursors`). */
export async function shardStart(catalog: Database, shardDb: Database, sub: SubscriptionRow, shard: number, cursors: ReadonlyMap<number, number>): Promise<{ cursor: number; recorded: boolean }> {
  if (shard === 0) return { cursor: sub.cursor, recorded: true };
  const cursor = cursors.get(shard);
  if (cursor !== undefined) return { cursor, recorded: true };
  // No position yet (a subscription from before this shard was read, or a newly bound shard): the
  // shard's entries since the subscription was created are still to come, as shard 0's were.
  return { cursor: await seqBefore(shardDb, sub.createdAt), recorded: false };
}

/** Reads one page of one shard's stream past its cursor into deliveries. */
async function materializeShard(
  catalog: Database,
  shardDb: Database,
  shard: number,
  sub: SubscriptionRow,
  start: { cursor: number; recorded: boolean },
  budget: number,
  nowMs: number,
): Promise<{ more: boolean; count: number; read: number }> {
  const rows = await listActivity(shardDb, {}, { afterSeq: start.cursor, limit: ACTIVITY_PAGE });
  if (rows.length === 0) {
    // Fix the start once, so later rounds neither search by time again nor move it.
    if (!start.recorded) await startShardCursor(catalog, sub.id, shard, start.cursor);
    return { more: false, count: 0, read: 0 };
  }
  const specs: EventSpec[] = [];
  let toCursor = start.cursor;
  for (const row of rows) {
    if (specs.length >= budget) break;
    specs.push(...eventsOfActivity(row, shard).filter((spec) => wants(sub, spec)));
    toCursor = row.seq;
  }
  const deliveries = await buildDeliveries(catalog, shardDb, sub, specs, "stream", nowIso(nowMs));
  const moved = await materializeDeliveries(catalog, sub.id, shard, start.cursor, toCursor, deliveries);
  return { more: moved && (rows.length === ACTIVITY_PAGE || toCursor !== rows[rows.length - 1]!.seq), count: moved ? deliveries.length : 0, read: moved ? rows.length : 0 };
}

/** Reads a page of every shard's stream past the subscription's cursors into deliveries. True when more may follow. */
async function materialize(env: Env, catalog: Database, sub: SubscriptionRow, nowMs: number): Promise<{ more: boolean; count: number; read: number }> {
  if ((await countPending(catalog, sub.id)) >= MAX_PENDING_AHEAD) return { more: false, count: 0, read: 0 };
  const cursors = await shardCursors(catalog, sub.id);
  const total = { more: false, count: 0, read: 0 };
  for (const { shard, db } of allShardDatabases(env)) {
    const budget = EVENTS_PER_ROUND - total.count;
    if (budget <= 0) {
      total.more = true;
      break;
    }
    const r = await materializeShard(catalog, db, shard, sub, await shardStart(catalog, db, sub, shard, cursors), budget, nowMs);
    total.more ||= r.more;
    total.count += r.count;
    total.read += r.read;
  }
  return total;
}

interface Outcome {
  status: number | null;
  durationMs: number;
  response: string | null;
  error: string | null;
  retryAfter: string | null;
}

async function excerpt(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_EXCERPT_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all.subarray(0, RESPONSE_EXCERPT_BYTES));
}

/** One POST: never follows a redirect, gives up after 15 s, keeps the answer's first 1 KiB. */
async function send(deps: DispatchDeps, url: string, secrets: readonly string[], row: EventDeliveryRow): Promise<Outcome> {
  const started = deps.now();
  const headers = await webhookHeaders(secrets, row.eventId, started, row.body);
  try {
    const res = await deps.fetch(url, { method: "POST", headers, body: row.body, redirect: "manual", signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
    const response = await excerpt(res).catch(() => "");
    return { status: res.status, durationMs: Math.max(0, deps.now() - started), response, error: null, retryAfter: res.headers.get("retry-after") };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return { status: null, durationMs: Math.max(0, deps.now() - started), response: null, error: timedOut ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s` : errorText(err, 300), retryAfter: null };
  }
}

async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** What one attempt's outcome does to its delivery. */
export function settle(row: EventDeliveryRow, outcome: Outcome, nowMs: number, random: () => number): AttemptRecord["delivery"] & { succeeded: boolean; gone: boolean } {
  const attempts = row.attempts + 1;
  const ok = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
  if (ok) return { id: row.id, status: "succeeded", nextAttemptAt: null, lastStatus: outcome.status, lastError: null, succeeded: true, gone: false };
  const lastError = outcome.error ?? (outcome.status !== null && outcome.status >= 300 && outcome.status < 400 ? `redirect (${outcome.status}) not followed` : `HTTP ${outcome.status}`);
  const gone = outcome.status === 410;
  const delay = retryDelayMs(attempts, random);
  if (delay === null) return { id: row.id, status: "failed", nextAttemptAt: null, lastStatus: outcome.status, lastError, succeeded: false, gone };
  const waitFor = Math.max(delay, retryAfterMs(outcome.retryAfter, nowMs) ?? 0);
  return { id: row.id, status: "pending", nextAttemptAt: nowIso(nowMs + waitFor), lastStatus: outcome.status, lastError, succeeded: false, gone };
}

/** Runs one round for the subscription; see the module comment. */
export async function dispatchRound(env: Env, subscriptionId: string, deps: DispatchDeps): Promise<RoundResult> {
  const db = catalogDatabase(env);
  const sub = await getSubscription(db, subscriptionId);
  if (!sub || !sub.enabled) return { nextWakeAt: null, materialized: 0, attempted: 0, read: 0, active: false };
  const startMs = deps.now();
  const { more, count, read } = await materialize(env, db, sub, startMs);

  const heads = await dueHeads(db, sub.id, nowIso(startMs), SEND_BATCH);
  const claimed = await claimDeliveries(db, heads, nowIso(startMs + LEASE_MS), nowIso(startMs));
  const toSend = heads.filter((h) => claimed.has(h.id));
  if (toSend.length > 0) {
    const check = checkSubscriptionUrl(sub.url, parseInsecureHosts(env.ALLOW_INSECURE_TRACKER_HOSTS));
    const secrets = await subscriptionSecrets(env, sub, startMs);
    const outcomes = await mapConcurrent(toSend, CONCURRENCY, (row): Promise<Outcome> =>
      check.ok ? send(deps, check.value, secrets, row) : Promise.resolve({ status: null, durationMs: 0, response: null, error: `URL refused: it ${check.problem}`, retryAfter: null }),
    );
    await recordRound(db, sub, toSend, outcomes, deps);
  }

  const full = heads.length === SEND_BATCH;
  if (more || full) return { nextWakeAt: deps.now(), materialized: count, attempted: toSend.length, read, active: true };
  const next = await nextHeadDueAt(db, sub.id);
  return { nextWakeAt: next ? Date.parse(next) : null, materialized: count, attempted: toSend.length, read, active: true };
}

async function recordRound(db: Database, sub: SubscriptionRow, rows: readonly EventDeliveryRow[], outcomes: readonly Outcome[], deps: DispatchDeps): Promise<void> {
  const nowMs = deps.now();
  const at = nowIso(nowMs);
  const records: AttemptRecord[] = [];
  const entries: ActivityEntry[] = [];
  let anySuccess = false;
  let gone = false;
  rows.forEach((row, i) => {
    const outcome = outcomes[i]!;
    const delivery = settle(row, outcome, nowMs, deps.random);
    anySuccess ||= delivery.succeeded;
    gone ||= delivery.gone;
    records.push({
      attempt: { id: newId(nowMs), deliveryId: row.id, attemptedAt: at, status: outcome.status, durationMs: outcome.durationMs, response: outcome.response, error: outcome.error },
      delivery: { id: delivery.id, status: delivery.status, nextAttemptAt: delivery.nextAttemptAt, lastStatus: delivery.lastStatus, lastError: delivery.lastError },
    });
    if (delivery.status === "failed") {
      entries.push({
        projectId: row.projectId ?? "",
        issueId: row.issueId,
        kind: "subscription.delivery_failed",
        origin: { source: "push" },
        detail: `subscription ${sub.id}: event ${row.eventId} (${row.eventType}) failed after ${MAX_ATTEMPTS} attempts; last: ${delivery.lastError}`,
        createdAt: at,
      });
    }
  });
  const patch: Partial<NewSubscription> = {};
  if (anySuccess) Object.assign(patch, { lastSuccessAt: at, failingSince: null });
  if (records.some((r) => r.delivery.status !== "succeeded")) {
    patch.lastFailureAt = at;
    if (!anySuccess) patch.failingSince = sub.failingSince ?? at;
  }
  const failingFor = !anySuccess && sub.failingSince ? nowMs - Date.parse(sub.failingSince) : 0;
  const reason = gone ? ("gone" as const) : failingFor >= DISABLE_AFTER_FAILING_MS ? ("failing" as const) : null;
  if (reason) {
    Object.assign(patch, { enabled: false, disabledReason: reason, disabledAt: at, updatedAt: at });
    entries.push({
      projectId: "",
      kind: "subscription.disabled",
      origin: { source: "push" },
      detail: `subscription ${sub.id} disabled: ${reason === "gone" ? "the endpoint answered 410 Gone" : "5 days of nothing but failed deliveries"}`,
      createdAt: at,
    });
    log.info("event subscription disabled", { subscriptionId: sub.id, reason });
  }
  await recordAttempts(db, sub.id, records, Object.keys(patch).length > 0 ? patch : null, entries);
}
