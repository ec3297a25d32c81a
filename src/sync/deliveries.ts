/**
 * Applying stored webhook deliveries, inside the project's Durable Object (so a delivery, a poll page
 * and a push never interleave). Webhooks are hints: a delivery whose payload cannot be merged as a
 * full snapshot asks for a soon incremental run instead, and polling remains the truth.
 */
import { database } from "../db/client";
import { decodePayload, finishDelivery, finishDeliveryWithEvent, getDelivery, markDeliveryFailed, recordAttemptError } from "../db/deliveries";
import { getIssueByExternalId } from "../db/issues";
import type { DeliveryRow } from "../db/schema";
import type { Env } from "../env";
import { nowIso } from "../ids";
import { errorText, log } from "../log";
import { eventHeaderNames, parseWebhook, WebhookPayloadError, type NormalizedEvent, type Provider, type WebhookHeaders } from "../providers";
import { requestSoonIncremental } from "../queue/send";
import { applySnapshots } from "./apply-snapshots";
import type { SyncContext } from "./context";
import { applyGone } from "./deletion";
import { foreignDeliveryReason } from "./repository";
import { learnRepositoryId } from "../db/projects";

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
    await finishDelivery(db, row.id, "failed", nowIso(), errorText(err));
    logFailure("webhook delivery cannot be applied", row, err);
    await requestSoonIncremental(ctx.env, project.id);
    return;
  }

  try {
    const outcome = await act(ctx, event);
    await finishDeliveryWithEvent(db, {
      id: row.id,
      status: outcome.status,
      now: nowIso(),
      note: outcome.note,
      event: event.kind !== "other" ? eventRow(row, event) : null,
    });
  } catch (err) {
    return recordAndRethrow(ctx, row, err);
  }
}

async function act(ctx: SyncContext, event: NormalizedEvent): Promise<Outcome> {
  // Stored before the project learned its repository's id, or replayed: checked again here.
  const foreign = foreignDeliveryReason(ctx.project, event.repository);
  if (foreign) return { status: "ignored", note: foreign };
  if (ctx.project.trackerRepositoryId === null && event.repository?.id) {
    // The name matched: this is the project's repository, and its id is learned once.
    await learnRepositoryId(ctx.db, ctx.project.id, event.repository.id);
  }
  if (event.kind === "other") return { status: "ignored", note: null };
  if (event.kind !== "issue") return { status: "applied", note: null };
  if (!ctx.project.syncEnabled) return { status: "ignored", note: "sync is disabled for the project; the issue was not changed" };
  const snapshot = event.issue;
  if (snapshot && (event.action === "deleted" || event.action === "transferred")) {
    const local = await getIssueByExternalId(ctx.db, ctx.project.id, snapshot.externalId);
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
  const names = eventHeaderNames(provider);
  return { get: (name) => (names.includes(name.toLowerCase()) && event !== "" ? event : null) };
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
    await recordAttemptError(ctx.db, row.id, errorText(err));
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
  log.error("webhook delivery failed for good", { projectId, deliveryRowId, error: error.slice(0, 200) });
  await requestSoonIncremental(env, projectId);
}

function logFailure(msg: string, row: DeliveryRow, err: unknown): void {
  log.error(msg, { projectId: row.projectId, deliveryRowId: row.id, deliveryId: row.deliveryId, error: errorText(err) });
}
