/**
 * Applying stored webhook deliveries, inside the project's Durable Object (so a delivery, a poll page
 * and a push never interleave). Webhooks are hints: a delivery whose payload cannot be merged as a
 * full snapshot asks for a soon incremental run instead, and polling remains the truth.
 */
import { INLINE_TEXT_BYTES, utf8Bytes } from "../db/bytes";
import { projectDatabaseById } from "../db/shards";
import { decodePayload, finishDeliveriesWithEvents, finishDelivery, finishDeliveryWithEvent, getDeliveries, markDeliveryFailed, recordAttemptError } from "../db/deliveries";
import { getIssueByExternalId } from "../db/issues";
import { loadTombstones, tombstoneOf, type Tombstone } from "../db/tombstones";
import type { DeliveryRow } from "../db/schema";
import type { Env } from "../env";
import { nowIso } from "../ids";
import { errorText, log } from "../log";
import { eventHeaderNames, parseWebhook, WebhookPayloadError, type CanonicalIssue, type NormalizedEvent, type Provider, type WebhookHeaders } from "../providers";
import { requestSoonIncremental } from "../queue/send";
import { applySnapshots } from "./apply-snapshots";
import { applyCommentEvent } from "./comment-deliveries";
import { applyWaitingComments } from "./comments";
import type { SyncContext } from "./context";
import { applyGone } from "./deletion";
import { noteForeignDelivery } from "./foreign-deliveries";
import { applyPullRequest, applyPush } from "./pull-requests";
import { foreignDeliveryReason } from "./repository";
import { learnRepositoryId } from "../db/projects";

type Outcome = { status: "applied" | "ignored"; note: string | null; issueApplied?: true };

/**
 * Applies one stored delivery: logs its normalized event, merges an issue snapshot (or applies the
 * deletion policy to a deleted/transferred issue), and marks it applied. A delivery that is no longer
 * `received` is left alone, so applying twice changes nothing. Transient errors are recorded and
 * rethrown for the queue to retry; a payload that can never be applied is marked failed at once.
 */
export async function applyDelivery(ctx: SyncContext, deliveryRowId: string): Promise<void> {
  const [err] = await applyDeliveries(ctx, [deliveryRowId]);
  if (err !== null) throw err;
}

/**
 * Applies a turn of stored deliveries of one project (the Durable Object takes a burst together),
 * each exactly as applyDelivery would, in the order given. What every delivery would read by itself
 * is read once for the turn: the delivery rows, and the deletion proofs of the issues they carry
 * (read again for an issue an earlier delivery of the turn touched); comments waiting for their
 * issues are applied once, after the turn (a failure there leaves them waiting for the next apply or
 * run). Returns each delivery's error, or null.
 */
export async function applyDeliveries(ctx: SyncContext, deliveryRowIds: readonly string[]): Promise<(unknown | null)[]> {
  const { db, project } = ctx;
  const rows = await getDeliveries(db, project.id, deliveryRowIds);
  const turn: { id: string; row: DeliveryRow | null; event: NormalizedEvent | null; parseError: unknown }[] = [];
  for (const id of deliveryRowIds) {
    const row = rows.get(id) ?? null;
    if (!row || row.status !== "received") {
      turn.push({ id, row: null, event: null, parseError: null });
      continue;
    }
    try {
      if (row.provider !== project.provider) throw new WebhookPayloadError(`delivery is for ${row.provider}, the project now uses ${project.provider}`);
      turn.push({ id, row, event: parseWebhook(row.provider, storedHeaders(row.provider, row.event), JSON.parse(await decodePayload(row.payload))), parseError: null });
    } catch (err) {
      turn.push({ id, row, event: null, parseError: err });
    }
  }
  const issueIds = turn.flatMap((t) => (t.event?.kind === "issue" && t.event.issue ? [t.event.issue.externalId] : []));
  const proofs = issueIds.length > 0 ? await loadTombstones(db, project.id, issueIds) : new Map<string, Tombstone>();
  const touched = new Set<string>();
  const proofOf = async (externalId: string): Promise<string | null> => {
    if (touched.has(externalId)) return tombstoneOf(db, project.id, externalId);
    touched.add(externalId);
    return proofs.get(externalId)?.proof ?? null;
  };
  const errors: (unknown | null)[] = new Array(turn.length).fill(null);
  let issuesApplied = false;
  // Consecutive plain issue snapshots (the common burst) are merged in one apply and finished in one
  // batch; anything else, or a second delivery for an issue already in the group, goes on its own.
  let group: { index: number; row: DeliveryRow; event: NormalizedEvent; snapshot: CanonicalIssue }[] = [];
  const flush = async () => {
    if (group.length === 0) return;
    const taken = group;
    group = [];
    const failed = await applyMerged(ctx, taken);
    taken.forEach((g) => (errors[g.index] = failed));
    if (failed === null) issuesApplied = true;
  };
  for (const [index, { row, event, parseError }] of turn.entries()) {
    if (!row) continue;
    const snapshot = event ? await mergeable(ctx, event, proofOf) : null;
    if (event && snapshot) {
      if (group.some((g) => g.snapshot.externalId === snapshot.externalId)) await flush();
      group.push({ index, row, event, snapshot });
      continue;
    }
    await flush();
    try {
      issuesApplied = (await applyParsed({ ...ctx, origin: { source: "webhook", deliveryId: row.deliveryId } }, row, event, parseError, proofOf)) || issuesApplied;
    } catch (err) {
      errors[index] = err;
    }
  }
  await flush();
  // Comments that arrived before their issue are applied now that it may exist.
  if (issuesApplied) {
    try {
      await applyWaitingComments(ctx);
    } catch (err) {
      log.error("waiting comments could not be applied after the deliveries; they wait for the next apply or run", { projectId: project.id, error: errorText(err) });
    }
  }
  return errors;
}

/**
 * The snapshot of a delivery that `act` would merge as it is — a complete issue snapshot, neither
 * deleted nor transferred, of this repository (whose id is known), sync enabled, newer than any
 * deletion proof — or null: then it takes the one-by-one path. Reads the proof (once per issue).
 */
async function mergeable(ctx: SyncContext, event: NormalizedEvent, proofOf: (externalId: string) => Promise<string | null>): Promise<CanonicalIssue | null> {
  const snapshot = event.issue;
  if (event.kind !== "issue" || !snapshot || !event.complete || event.action === "deleted" || event.action === "transferred") return null;
  if (!ctx.project.syncEnabled || foreignDeliveryReason(ctx.project, event.repository)) return null;
  if (ctx.project.trackerRepositoryId === null && event.repository?.id) return null;
  const proof = await proofOf(snapshot.externalId);
  if (proof !== null && snapshot.updatedAt <= proof) {
    // `act` reads it again and ignores the delivery.
    return null;
  }
  return snapshot;
}

/**
 * Merges a group of plain issue deliveries in one apply (each change attributed to its delivery) and
 * finishes them in one batch. Null when done; else the error, recorded on every delivery of the group
 * (they stay `received` and are retried together or one by one).
 */
async function applyMerged(ctx: SyncContext, group: { row: DeliveryRow; event: NormalizedEvent; snapshot: CanonicalIssue }[]): Promise<unknown | null> {
  const origins = new Map(group.map((g) => [g.snapshot.externalId, { source: "webhook" as const, deliveryId: g.row.deliveryId }]));
  try {
    const counts = await applySnapshots({ ...ctx, origin: origins.get(group[0]!.snapshot.externalId) }, group.map((g) => g.snapshot), "event", { origins });
    const ambiguous = new Set(counts.ambiguous);
    if (ambiguous.size > 0) await requestSoonIncremental(ctx.env, ctx.project.id);
    const now = nowIso();
    await finishDeliveriesWithEvents(
      ctx.db,
      group.map((g) => ({
        id: g.row.id,
        status: "applied" as const,
        now,
        note: ambiguous.has(g.snapshot.externalId) ? "the payload could not be ordered against the stored copy; an incremental sync was requested" : null,
        event: eventRow(g.row, g.event),
      })),
    );
    return null;
  } catch (err) {
    for (const g of group) {
      logFailure("webhook delivery apply failed; the queue retries it", g.row, err);
      await recordAttemptError(ctx.db, g.row.id, errorText(err)).catch(() => undefined);
    }
    return err;
  }
}

/** One delivery of a turn, parsed (or not); true when it merged an issue snapshot. */
async function applyParsed(
  ctx: SyncContext,
  row: DeliveryRow,
  event: NormalizedEvent | null,
  parseError: unknown,
  proofOf: (externalId: string) => Promise<string | null>,
): Promise<boolean> {
  const { db, project } = ctx;
  if (!event) {
    if (!(parseError instanceof WebhookPayloadError || parseError instanceof SyntaxError)) return recordAndRethrow(ctx, row, parseError);
    // Retrying cannot fix a payload; the poll picks up whatever change it announced.
    await finishDelivery(db, row.id, "failed", nowIso(), errorText(parseError));
    logFailure("webhook delivery cannot be applied", row, parseError);
    await requestSoonIncremental(ctx.env, project.id);
    return false;
  }
  try {
    const outcome = await act(ctx, event, proofOf);
    await finishDeliveryWithEvent(db, {
      id: row.id,
      status: outcome.status,
      now: nowIso(),
      note: outcome.note,
      event: event.kind !== "other" ? eventRow(row, event) : null,
    });
    return outcome.issueApplied === true;
  } catch (err) {
    return recordAndRethrow(ctx, row, err);
  }
}

async function act(ctx: SyncContext, event: NormalizedEvent, proofOf: (externalId: string) => Promise<string | null>): Promise<Outcome> {
  // Stored before the project learned its repository's id, or replayed: checked again here.
  const foreign = foreignDeliveryReason(ctx.project, event.repository);
  if (foreign) {
    await noteForeignDelivery(ctx.db, ctx.project.id, ctx.origin?.deliveryId ?? null, foreign);
    return { status: "ignored", note: foreign };
  }
  if (ctx.project.trackerRepositoryId === null && event.repository?.id) {
    // The name matched: this is the project's repository, and its id is learned once.
    await learnRepositoryId(ctx.db, ctx.project.id, event.repository.id);
  }
  if (event.kind === "other") return { status: "ignored", note: null };
  if (event.kind === "comment") return applyCommentEvent(ctx, event);
  if (event.kind === "pull_request" || event.kind === "push") return applyDevelopmentEvent(ctx, event);
  if (event.kind !== "issue") return { status: "applied", note: null };
  if (!ctx.project.syncEnabled) return { status: "ignored", note: "sync is disabled for the project; the issue was not changed" };
  const snapshot = event.issue;
  // A tracker issue deleted and removed here stays removed, whatever an old delivery says; a copy
  // changed after the deletion was proven revives it (applySnapshots).
  const proof = snapshot ? await proofOf(snapshot.externalId) : null;
  if (snapshot && proof !== null && (event.action === "deleted" || event.action === "transferred" || snapshot.updatedAt <= proof)) {
    return { status: "ignored", note: "the tracker issue was deleted; a delivery no newer than the deletion cannot bring it back" };
  }
  if (snapshot && (event.action === "deleted" || event.action === "transferred")) return actOnGone(ctx, event, snapshot);
  if (!snapshot || !event.complete) {
    await requestSoonIncremental(ctx.env, ctx.project.id);
    return { status: "applied", note: "payload is not a full snapshot; an incremental sync was requested" };
  }
  const counts = await applySnapshots(ctx, [snapshot], "event");
  if (counts.needsPoll > 0) {
    await requestSoonIncremental(ctx.env, ctx.project.id);
    return { status: "applied", note: "the payload could not be ordered against the stored copy; an incremental sync was requested", issueApplied: true };
  }
  return { status: "applied", note: null, issueApplied: true };
}

/** Pull request and push deliveries: development links (a payload without a full PR or push only logs). */
async function applyDevelopmentEvent(ctx: SyncContext, event: NormalizedEvent): Promise<Outcome> {
  if (!ctx.project.syncEnabled) return { status: "ignored", note: "sync is disabled for the project; development links were not changed" };
  if (event.pullRequest) return applyPullRequest(ctx, event.pullRequest);
  if (event.push) return applyPush(ctx, event.push);
  return { status: "applied", note: null };
}

/**
 * A delivery saying the issue was deleted or transferred. Only the body is signed, so a body can be
 * replayed under another event name: the claim obeys the ordering rule of every snapshot (older
 * than the stored copy → ignored), and is confirmed with the tracker before any policy applies.
 */
async function actOnGone(ctx: SyncContext, event: NormalizedEvent, snapshot: CanonicalIssue): Promise<Outcome> {
  const local = await getIssueByExternalId(ctx.db, ctx.project.id, snapshot.externalId);
  if (!local) return { status: "applied", note: null };
  if (local.externalUpdatedAt && snapshot.updatedAt < local.externalUpdatedAt) {
    return { status: "ignored", note: `the ${event.action} payload is older than the stored copy` };
  }
  const lookup = await ctx.tracker.getIssue(local.externalNumber ?? snapshot.number);
  if (lookup.status === "found" && lookup.issue.externalId === snapshot.externalId) {
    // The tracker still has it: the delivery was not true (or not any more). Its current copy is the truth.
    await applySnapshots(ctx, [lookup.issue], "event");
    return { status: "ignored", note: `the tracker still has the issue; the ${event.action} delivery was not applied` };
  }
  if (lookup.status === "no_access" || lookup.status === "found") {
    await requestSoonIncremental(ctx.env, ctx.project.id);
    return { status: "ignored", note: `the tracker did not confirm the ${event.action}; an incremental sync was requested` };
  }
  // Gone is confirmed; where it went, the tracker's answer or else the delivery says.
  const moved = lookup.status === "moved" || event.action === "transferred";
  const movedTo = (lookup.status === "moved" ? lookup.movedTo : null) ?? event.movedTo;
  await applyGone(ctx, local, moved ? { status: "moved", movedTo } : { status: "deleted" }, snapshot.updatedAt);
  return { status: "applied", note: null };
}

/** parseWebhook reads the event name from the headers; only that header is stored with the delivery. */
function storedHeaders(provider: Provider, event: string): WebhookHeaders {
  const names = eventHeaderNames(provider);
  return { get: (name) => (names.includes(name.toLowerCase()) && event !== "" ? event : null) };
}

/**
 * The event log keeps the snapshot, but a body that would take the row past D1's byte limit (a
 * GitLab description may be ~4 MB of UTF-8) is left out and flagged: the issue itself holds it.
 */
function loggedIssue(event: NormalizedEvent): { issue: NormalizedEvent["issue"]; bodyOmitted?: true } {
  if (!event.issue || utf8Bytes(event.issue.body ?? "") <= INLINE_TEXT_BYTES) return { issue: event.issue };
  return { issue: { ...event.issue, body: "" }, bodyOmitted: true };
}

/** The same for a comment event: a note too large for the event row is logged without its text. */
function loggedComment(event: NormalizedEvent): { comment?: NormalizedEvent["comment"]; commentBodyOmitted?: true } {
  if (!event.comment) return {};
  if (utf8Bytes(event.comment.comment.body) <= INLINE_TEXT_BYTES) return { comment: event.comment };
  return { comment: { ...event.comment, comment: { ...event.comment.comment, body: "" } }, commentBodyOmitted: true };
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
    // Comment events: the comment's tracker id (the issue's number is `externalNumber`).
    externalId: event.issue?.externalId ?? event.comment?.comment.externalId ?? null,
    externalNumber: event.issue?.number ?? summaryNumber,
    data: JSON.stringify({
      event: event.event,
      action: event.action,
      complete: event.complete,
      ...loggedIssue(event),
      summary: event.summary,
      changedFields: event.changedFields,
      movedTo: event.movedTo,
      ...loggedComment(event),
    }),
    occurredAt: event.issue?.updatedAt ?? event.comment?.comment.updatedAt ?? row.receivedAt,
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
  const marked = await markDeliveryFailed(await projectDatabaseById(env, projectId), projectId, deliveryRowId, error.slice(0, 500), nowIso());
  if (!marked) return;
  log.error("webhook delivery failed for good", { projectId, deliveryRowId, error: error.slice(0, 200) });
  await requestSoonIncremental(env, projectId);
}

function logFailure(msg: string, row: DeliveryRow, err: unknown): void {
  log.error(msg, { projectId: row.projectId, deliveryRowId: row.id, deliveryId: row.deliveryId, error: errorText(err) });
}
