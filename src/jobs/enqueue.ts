import type { Env } from "../env";

/**
 * Sends the push job for an issue whose outbox row is already written. If the send fails the row
 * stays pending and the cron sweep re-enqueues it, so the caller's write is never lost.
 */
export async function enqueuePush(env: Env, job: { projectId: string; issueId: string }): Promise<void> {
  try {
    await env.PUSH_QUEUE.send({ type: "push", ...job });
  } catch (err) {
    console.error(JSON.stringify({ msg: "push enqueue failed; the cron sweep will retry", ...job, error: String(err) }));
  }
}
