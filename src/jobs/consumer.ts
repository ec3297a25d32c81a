import type { Env } from "../env";
import type { RpcResult } from "../durable/project-sync";
import { recordPushFailure } from "../sync/push";
import { recordDeliveryFailure } from "../sync/webhook-apply";
import { PushJob, QUEUES, SyncJob } from "./messages";

/** Retry delay for a failed message: exponential, 2 s doubling, capped at 10 minutes. */
export function backoffSeconds(attempts: number): number {
  return Math.min(600, 2 ** Math.min(attempts, 10));
}

function projectStub(env: Env, projectId: string) {
  return env.PROJECT_SYNC.get(env.PROJECT_SYNC.idFromName(projectId));
}

/** Unwraps a Durable Object answer; its errors come back as data and are rethrown here, name kept. */
export function unwrap<T>(result: RpcResult<T>): T {
  if (result.ok) return result.value;
  const error = new Error(result.error.message);
  error.name = result.error.name;
  throw error;
}

function logFailure(queue: string, message: Message<unknown>, err: unknown): void {
  console.error(
    JSON.stringify({
      msg: "queue message failed",
      queue,
      messageId: message.id,
      attempts: message.attempts,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    }),
  );
}

/**
 * Routes each message to its project's Durable Object; malformed messages are acked and logged.
 * Messages are handled concurrently: each project's Durable Object serializes its own work, so
 * messages for different projects need not wait for each other.
 */
export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
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
        logFailure(batch.queue, message, err);
        message.retry({ delaySeconds: backoffSeconds(message.attempts) });
      }
    }),
  );
}

async function handleMessage(queue: string, message: Message<unknown>, env: Env): Promise<void> {
  if (queue === QUEUES.sync || queue === QUEUES.syncDead) {
    const parsed = SyncJob.safeParse(message.body);
    if (!parsed.success) return ackMalformed(queue, message);
    const job = parsed.data;
    if (queue === QUEUES.syncDead) {
      if (job.type === "webhook") await recordDeliveryFailure(env, job.projectId, job.deliveryRowId, "retries exhausted");
      else console.error(JSON.stringify({ msg: "sync job dead-lettered", projectId: job.projectId, mode: job.mode }));
    } else if (job.type === "sync") {
      unwrap(await projectStub(env, job.projectId).requestRun(job.projectId, job.mode, job.trigger));
    } else {
      unwrap(await projectStub(env, job.projectId).applyDelivery(job.projectId, job.deliveryRowId));
    }
    message.ack();
    return;
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
    const outcome = unwrap(await projectStub(env, job.projectId).pushIssue(job.projectId, job.issueId));
    if (outcome.retryAt) {
      // Rate limited: come back at the reset time instead of sleeping (queue delays cap at 12 h).
      const delay = Math.ceil((Date.parse(outcome.retryAt) - Date.now()) / 1000);
      message.retry({ delaySeconds: Math.min(43_200, Math.max(1, delay)) });
    } else {
      message.ack();
    }
    return;
  }
  console.error(JSON.stringify({ msg: "message from an unknown queue acked", queue }));
  message.ack();
}

function ackMalformed(queue: string, message: Message<unknown>): void {
  console.error(JSON.stringify({ msg: "malformed queue message acked", queue, messageId: message.id }));
  message.ack();
}
