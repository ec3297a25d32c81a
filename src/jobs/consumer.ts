import { projectSync } from "../durable/client";
import { eventDispatcher, kickSubscriptions } from "../durable/events-client";
import type { Env } from "../env";
import { errorText, log } from "../log";
import { CommentPushJob, EventsJob, PushJob, QUEUES, SyncJob } from "../queue/messages";
import { recordCommentPushFailure } from "../sync/comment-push";
import { recordDeliveryFailure } from "../sync/deliveries";
import { recordPushFailure } from "../sync/push";

/** Retry delay for a failed message: exponential, 2 s doubling, capped at 10 minutes. */
export function backoffSeconds(attempts: number): number {
  return Math.min(600, 2 ** Math.min(attempts, 10));
}

/**
 * Routes each message to its project's Durable Object; malformed messages are acked and logged.
 * Messages are handled concurrently: each project's Durable Object serializes its own work, so
 * messages for different projects need not wait for each other.
 * After a batch that applied, pushed or ran something, the event subscriptions are woken (a hint;
 * the cron sweep is the net). Not from inside ProjectSync: a call it starts there would outlive the
 * call and disturb the object's held listing page.
 */
export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const kick = batch.messages.some((m) => (m.body as { type?: unknown } | null)?.type !== "events");
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await handleMessage(batch.queue, message, env);
      } catch (err) {
        if (err instanceof Error && err.name === "NotFound") {
          // The project was deleted after the message was sent: nothing left to do.
          message.ack();
          return;
        }
        if (err instanceof Error && err.name === "ProjectPaused") {
          // Paused (credentials rejected, installation suspended…): retrying cannot help; resuming
          // the project starts a run of its own.
          message.ack();
          return;
        }
        log.error("queue message failed", { queue: batch.queue, messageId: message.id, attempts: message.attempts, error: errorText(err, Infinity) });
        message.retry({ delaySeconds: backoffSeconds(message.attempts) });
      }
    }),
  );
  if (kick && (batch.queue === QUEUES.sync || batch.queue === QUEUES.push)) await kickSubscriptions(env);
}

async function handleMessage(queue: string, message: Message<unknown>, env: Env): Promise<void> {
  if ((queue === QUEUES.sync || queue === QUEUES.syncDead) && (message.body as { type?: unknown } | null)?.type === "events") {
    return handleEventsWake(queue, message, env);
  }
  if (queue === QUEUES.sync || queue === QUEUES.syncDead) {
    const parsed = SyncJob.safeParse(message.body);
    if (!parsed.success) return ackMalformed(queue, message);
    const job = parsed.data;
    if (queue === QUEUES.syncDead) {
      if (job.type === "webhook") await recordDeliveryFailure(env, job.projectId, job.deliveryRowId, "retries exhausted");
      else log.error("sync job dead-lettered", { projectId: job.projectId, mode: job.mode });
    } else if (job.type === "sync") {
      await projectSync(env, job.projectId).requestRun(job.mode, job.trigger);
    } else {
      await projectSync(env, job.projectId).applyDelivery(job.deliveryRowId);
    }
    message.ack();
    return;
  }
  if ((queue === QUEUES.push || queue === QUEUES.pushDead) && (message.body as { type?: unknown } | null)?.type === "comment_push") {
    return handleCommentPush(queue, message, env);
  }
  if (queue === QUEUES.push || queue === QUEUES.pushDead) {
    const parsed = PushJob.safeParse(message.body);
    if (!parsed.success) return ackMalformed(queue, message);
    const job = parsed.data;
    if (queue === QUEUES.pushDead) {
      await recordPushFailure(env, job.projectId, job.issueId, "retries exhausted");
      message.ack();
      return;
    }
    const outcome = await projectSync(env, job.projectId).pushIssue(job.issueId);
    if (outcome.retryAt) {
      // Rate limited: come back at the reset time instead of sleeping (queue delays cap at 12 h).
      const delay = Math.ceil((Date.parse(outcome.retryAt) - Date.now()) / 1000);
      message.retry({ delaySeconds: Math.min(43_200, Math.max(1, delay)) });
    } else {
      message.ack();
    }
    return;
  }
  log.error("message from an unknown queue acked", { queue });
  message.ack();
}

/** A comment push: same queue, retries, rate-limit delays and dead letter as issue pushes. */
async function handleCommentPush(queue: string, message: Message<unknown>, env: Env): Promise<void> {
  const parsed = CommentPushJob.safeParse(message.body);
  if (!parsed.success) return ackMalformed(queue, message);
  const job = parsed.data;
  if (queue === QUEUES.pushDead) {
    await recordCommentPushFailure(env, job.projectId, job.commentId, "retries exhausted");
    message.ack();
    return;
  }
  const outcome = await projectSync(env, job.projectId).pushComment(job.commentId);
  if (outcome.retryAt) {
    const delay = Math.ceil((Date.parse(outcome.retryAt) - Date.now()) / 1000);
    message.retry({ delaySeconds: Math.min(43_200, Math.max(1, delay)) });
  } else {
    message.ack();
  }
}

/**
 * An event subscription's wake: its dispatcher runs a round now. The message carries no delivery, so
 * a duplicate (or a retry) only runs another round, which finds the deliveries already claimed.
 */
async function handleEventsWake(queue: string, message: Message<unknown>, env: Env): Promise<void> {
  const parsed = EventsJob.safeParse(message.body);
  if (!parsed.success) return ackMalformed(queue, message);
  if (queue === QUEUES.sync) await eventDispatcher(env, parsed.data.subscriptionId).deliver();
  message.ack();
}

function ackMalformed(queue: string, message: Message<unknown>): void {
  log.error("malformed queue message acked", { queue, messageId: message.id });
  message.ack();
}
