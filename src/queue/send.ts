/**
 * The one module that sends to the queues. Messages carry ids, never payloads (see messages.ts).
 *
 * Sends that follow a committed D1 write are best effort where a sweep covers a lost send: the
 * outbox row or the `received` delivery stays in D1, and the cron sweep (jobs/sweeps.ts) sends it
 * again. Those helpers log the failure and return; the others throw for the caller to answer.
 */
import type { Env } from "../env";
import { errorText, log } from "../log";
import type { CommentPushJob, EventsJob, PushJob, SyncJob } from "./messages";

/** Queues accept at most 100 messages per `sendBatch`. */
export const MAX_BATCH = 100;

/**
 * Sends the bodies in `sendBatch` calls of at most 100, in order; returns the number of calls. With
 * `onError`, a refused call is reported and the next chunk is still tried; without, it throws.
 */
export async function sendBatch<T>(queue: Queue<T>, bodies: readonly T[], onError?: (err: unknown) => void): Promise<number> {
  let calls = 0;
  for (let i = 0; i < bodies.length; i += MAX_BATCH) {
    const messages = bodies.slice(i, i + MAX_BATCH).map((body) => ({ body }));
    try {
      await queue.sendBatch(messages);
      calls++;
    } catch (err) {
      if (!onError) throw err;
      onError(err);
    }
  }
  return calls;
}

/** Push jobs for issues whose outbox rows are written. Best effort: the cron sweep re-sends a lost one. */
export async function enqueuePushes(env: Env, projectId: string, issueIds: readonly string[]): Promise<void> {
  const jobs = issueIds.map((issueId): PushJob => ({ type: "push", projectId, issueId }));
  await sendBatch(env.PUSH_QUEUE, jobs, (err) =>
    log.error("push enqueue failed; the cron sweep will retry", { projectId, issueIds: issueIds.slice(0, 10), error: errorText(err, 200) }),
  );
}

/** Push jobs for comments whose outbox rows are written. Best effort: the cron sweep re-sends a lost one. */
export async function enqueueCommentPushes(env: Env, projectId: string, commentIds: readonly string[]): Promise<void> {
  const jobs = commentIds.map((commentId): CommentPushJob => ({ type: "comment_push", projectId, commentId }));
  await sendBatch(env.PUSH_QUEUE as Queue<unknown> as Queue<CommentPushJob>, jobs, (err) =>
    log.error("comment push enqueue failed; the cron sweep will retry", { projectId, commentIds: commentIds.slice(0, 10), error: errorText(err, 200) }),
  );
}

/** Comment push jobs again for outbox rows whose first send was lost (the cron sweep). */
export async function resendCommentPushes(env: Env, rows: readonly { projectId: string; commentId: string }[]): Promise<void> {
  await sendBatch(
    env.PUSH_QUEUE as Queue<unknown> as Queue<CommentPushJob>,
    rows.map((r): CommentPushJob => ({ type: "comment_push", ...r })),
  );
}

/** One sync job per project (the cron fan-out); returns the number of `sendBatch` calls. */
export function enqueueSyncRuns(env: Env, projectIds: readonly string[], mode: "incremental" | "full", trigger: "cron"): Promise<number> {
  return sendBatch(
    env.SYNC_QUEUE,
    projectIds.map((projectId): SyncJob => ({ type: "sync", projectId, mode, trigger })),
  );
}

/** Incremental runs for projects that were paused and may sync again (installation unsuspended, repository re-added). */
export async function enqueueResumedRuns(env: Env, projectIds: readonly string[]): Promise<void> {
  await sendBatch(
    env.SYNC_QUEUE,
    projectIds.map((projectId): SyncJob => ({ type: "sync", projectId, mode: "incremental", trigger: "resume" })),
    (err) => log.error("resume enqueue failed; the next cron run covers it", { projects: projectIds.length, error: errorText(err, 200) }),
  );
}

/** Push jobs again for outbox rows whose first send was lost (the cron sweep). */
export async function resendPushes(env: Env, rows: readonly { projectId: string; issueId: string }[]): Promise<void> {
  await sendBatch(
    env.PUSH_QUEUE,
    rows.map((r): PushJob => ({ type: "push", ...r })),
  );
}

/** Apply jobs again for deliveries whose first send was lost (the cron sweep). */
export async function resendDeliveries(env: Env, rows: readonly { projectId: string; id: string }[]): Promise<void> {
  await sendBatch(
    env.SYNC_QUEUE,
    rows.map((r): SyncJob => ({ type: "webhook", projectId: r.projectId, deliveryRowId: r.id })),
  );
}

/** The apply job of a stored delivery. Throws when the queue refuses it; the caller decides what that means. */
export async function enqueueDeliveryApply(env: Env, projectId: string, deliveryRowId: string): Promise<void> {
  await env.SYNC_QUEUE.send({ type: "webhook", projectId, deliveryRowId });
}

/** Delay before the incremental run a webhook asks for: lets a burst of edits settle into one run. */
const SOON_SYNC_DELAY_SECONDS = 30;

/**
 * Asks for an incremental run soon through the queue — never by calling the Durable Object, which is
 * running the very apply that asks and would deadlock its exclusive chain. Best effort: the cron's
 * next incremental run (every enabled project, every 5 minutes) covers a lost send.
 */
export async function requestSoonIncremental(env: Env, projectId: string): Promise<void> {
  try {
    await env.SYNC_QUEUE.send({ type: "sync", projectId, mode: "incremental", trigger: "webhook" }, { delaySeconds: SOON_SYNC_DELAY_SECONDS });
  } catch (err) {
    log.error("soon sync enqueue failed; the next cron run covers it", { projectId, error: errorText(err) });
  }
}

/** One wake per event subscription (the cron sweep); returns the number of sendBatch calls. */
export function enqueueEventWakes(env: Env, subscriptionIds: readonly string[]): Promise<number> {
  const jobs = subscriptionIds.map((subscriptionId): EventsJob => ({ type: "events", subscriptionId }));
  return sendBatch(env.SYNC_QUEUE, jobs, (err) => log.error("event wake enqueue failed", { error: errorText(err, 200) }));
}
