/**
 * Applying stored webhook deliveries, inside the project's Durable Object (so a delivery, a poll page
 * and a push never interleave). Webhooks are hints: a delivery whose payload cannot be merged as a
 * full snapshot asks for a soon incremental run instead, and polling remains the truth.
 */
import { and, eq } from "drizzle-orm";
import { runBatch, type Statement } from "../db/batch";
import { database } from "../db/client";
import {
  decodePayload,
  finishDelivery,
  getDelivery,
  listStaleReceived,
  markDeliveryFailed,
  recordAttemptError,
} from "../db/deliveries";
import { insertEventOnce } from "../db/events";
import { issues, type DeliveryRow } from "../db/schema";
import type { Env } from "../env";
import { nowIso } from "../ids";
import type { SyncJob } from "../jobs/messages";
import { parseWebhook, WebhookPayloadError, type NormalizedEvent, type Provider, type WebhookHeaders } from "../providers";
import { applyGone, applySnapshots } from "./apply";
import type { SyncContext } from "./context";

/** Delay before the incremental run a webhook asks for: lets a burst of edits settle into one run. */
const SOON_SYNC_DELAY_SECONDS = 30;
/** A delivery still `received` this long after arriving lost its queue message (see resendStaleDeliveries). */
const STALE_DELIVERY_MS = 15 * 60_000;

type Outcome = { status: "applied" | "ignored"; note: string | null };

/**
 * Applies one stored delivery: logs its normalized event, merges an issue snapshot (or applies the
 * deletion policy to a deleted/transferred issue), and marks it applied. A delivery that is no longer
 * `received` is left alone, so applying twice changes nothing. Transient errors are recorded and
 * rethrown for the queue to retry; a payload that can never be applied is marked failed at once.
 */
export async function applyDelivery(ctx: SyncContext, deliveryRowId: string): Promise<void> {
  const { db, project } = ctx;
  const row = await getDelivery(db, project.id, deliveryRowId);
  if (!row || row.status !== "received") return;

  let event: NormalizedEvent;
  try {
    if (row.provider !== project.provider) throw new WebhookPayloadError(`delivery is for ${row.provider}, the project now uses ${project.provider}`);
    event = parseWebhook(row.provider, storedHeaders(row.provider, row.event), JSON.parse(await decodePayload(row.payload)));
  } catch (err) {
    if (!(err instanceof WebhookPayloadError || err instanceof SyntaxError)) return recordAndRethrow(ctx, row, err);
    // Retrying cannot fix a payload; the poll picks up whatever change it announced.
    await finishDelivery(db, row.id, "failed", nowIso(), describe(err));
    logFailure("webhook delivery cannot be applied", row, err);
    await requestSoonIncremental(ctx.env, project.id);
    return;
  }

  try {
    const outcome = await act(ctx, event);
    const now = nowIso();
    const statements: Statement[] = [];
    if (event.kind !== "other") statements.push(insertEventOnce(db, eventRow(row, event)));
    statements.push(finishDelivery(db, row.id, outcome.status, now, outcome.note));
    await runBatch(db, statements);
  } catch (err) {
    return recordAndRethrow(ctx, row, err);
  }
}

async function act(ctx: SyncContext, event: NormalizedEvent): Promise<Outcome> {
  if (event.kind === "other") return { status: "ignored", note: null };
  if (event.kind !== "issue") return { status: "applied", note: null };
  if (!ctx.project.syncEnabled) return { status: "ignored", note: "sync is disabled for the project; the issue was not changed" };
  const snapshot = event.issue;
  if (snapshot && (event.action === "deleted" || event.action === "transferred")) {
    const local = await ctx.db
      .select()
      .from(issues)
      .where(and(eq(issues.projectId, ctx.project.id), eq(issues.externalId, snapshot.externalId)))
      .get();
    if (local) {
      await applyGone(ctx, local, event.action === "deleted" ? { status: "deleted" } : { status: "moved", movedTo: event.movedTo }, snapshot.updatedAt);
    }
    return { status: "applied", note: null };
  }
  if (!snapshot || !event.complete) {
    await requestSoonIncremental(ctx.env, ctx.project.id);
    return { status: "applied", note: "payload is not a full snapshot; an incremental sync was requested" };
  }
  const counts = await applySnapshots(ctx, [snapshot], "event");
  if (counts.needsPoll > 0) {
    await requestSoonIncremental(ctx.env, ctx.project.id);
    return { status: "applied", note: "the payload could not be ordered against the stored copy; an incremental sync was requested" };
  }
  return { status: "applied", note: null };
}

/** parseWebhook reads the event name from the headers; only that header is stored with the delivery. */
function storedHeaders(provider: Provider, event: string): WebhookHeaders {
  const names: Record<Provider, string[]> = {
    github: ["x-github-event"],
    gitlab: ["x-gitlab-event"],
    gitea: ["x-gitea-event-type", "x-gitea-event"],
  };
  return { get: (name) => (names[provider].includes(name.toLowerCase()) && event !== "" ? event : null) };
}

function eventRow(row: DeliveryRow, event: NormalizedEvent) {
  const summaryNumber = typeof event.summary.number === "number" ? event.summary.number : null;
  return {
    id: row.id,
    projectId: row.projectId,
    provider: row.provider,
    deliveryId: row.deliveryId,
    kind: event.kind,
    action: event.action,
    externalId: event.issue?.externalId ?? null,
    externalNumber: event.issue?.number ?? summaryNumber,
    data: JSON.stringify({
      event: event.event,
      action: event.action,
      complete: event.complete,
      issue: event.issue,
      summary: event.summary,
      changedFields: event.changedFields,
      movedTo: event.movedTo,
    }),
    occurredAt: event.issue?.updatedAt ?? row.receivedAt,
  };
}

async function recordAndRethrow(ctx: SyncContext, row: DeliveryRow, err: unknown): Promise<never> {
  logFailure("webhook delivery apply failed; the queue retries it", row, err);
  try {
    await recordAttemptError(ctx.db, row.id, describe(err));
  } catch {
    // The original error matters more; the queue retries either way.
  }
  throw err;
}

/**
 * Called by the dead-letter consumer when the queue gave up: the delivery becomes `failed` (shown in
 * the deliveries list and the project status) and an incremental run fetches what it announced.
 */
export async function recordDeliveryFailure(env: Env, projectId: string, deliveryRowId: string, error: string): Promise<void> {
  const marked = await markDeliveryFailed(database(env.DB), projectId, deliveryRowId, error.slice(0, 500), nowIso());
  if (!marked) return;
  console.error(JSON.stringify({ msg: "webhook delivery failed for good", projectId, deliveryRowId, error: error.slice(0, 200) }));
  await requestSoonIncremental(env, projectId);
}

/**
 * Sends the apply job again for deliveries whose queue message was lost (the send after the insert
 * failed): for the cron sweep. Applying is idempotent, so a delivery still in the queue does no harm.
 */
export async function resendStaleDeliveries(env: Env, now: number = Date.now()): Promise<number> {
  const rows = await listStaleReceived(database(env.DB), nowIso(now - STALE_DELIVERY_MS), 500);
  for (let i = 0; i < rows.length; i += 100) {
    const batch = rows.slice(i, i + 100).map((r): { body: SyncJob } => ({ body: { type: "webhook", projectId: r.projectId, deliveryRowId: r.id } }));
    await env.SYNC_QUEUE.sendBatch(batch);
  }
  return rows.length;
}

/**
 * Asks for an incremental run soon through the queue — never by calling the Durable Object, which is
 * running this very apply and would deadlock its exclusive chain. If the send fails, the cron's
 * next incremental run (every enabled project, every 5 minutes) covers it.
 */
async function requestSoonIncremental(env: Env, projectId: string): Promise<void> {
  const job: SyncJob = { type: "sync", projectId, mode: "incremental", trigger: "webhook" };
  try {
    await env.SYNC_QUEUE.send(job, { delaySeconds: SOON_SYNC_DELAY_SECONDS });
  } catch (err) {
    console.error(JSON.stringify({ msg: "soon sync enqueue failed; the next cron run covers it", projectId, error: describe(err) }));
  }
}

function describe(err: unknown): string {
  return (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 500);
}

function logFailure(msg: string, row: DeliveryRow, err: unknown): void {
  console.error(JSON.stringify({ msg, projectId: row.projectId, deliveryRowId: row.id, deliveryId: row.deliveryId, error: describe(err) }));
}
