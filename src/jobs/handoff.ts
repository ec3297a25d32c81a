/**
 * The webhook edge's fast path to applying a stored delivery: after the answer (`waitUntil`), the
 * edge hands the delivery row straight to the project's Durable Object instead of waiting for the
 * queue's batch timeout. The queue stays the safety net: a hand-off that fails (the object is
 * unreachable, a transient D1 or tracker error) sends the ordinary apply job, with its retries and
 * dead letter; a delivery whose send is lost too stays `received` for the cron sweep. Applying is
 * idempotent per delivery (a row that is no longer `received` is left alone, inside the object's
 * serialized chain), so a hand-off and a queued job for the same row apply it once.
 */
import { projectSync } from "../durable/client";
import { kickSubscriptions } from "../durable/events-client";
import type { Env } from "../env";
import { errorText, log } from "../log";
import { enqueueDeliveryApply } from "../queue/send";

/** Errors after which neither a retry nor the queue can help (the consumer acks these too). */
const FINAL_ERRORS = new Set(["NotFound", "ProjectPaused"]);

export async function handOffDelivery(env: Env, projectId: string, deliveryRowId: string): Promise<"applied" | "queued" | "dropped" | "left_for_sweep"> {
  try {
    await projectSync(env, projectId).applyDelivery(deliveryRowId);
    // Event subscriptions hear of the change now, not at the next cron sweep (a hint; never fails the hand-off).
    await kickSubscriptions(env);
    return "applied";
  } catch (err) {
    if (err instanceof Error && FINAL_ERRORS.has(err.name)) return "dropped";
    log.error("webhook hand-off failed; queued for retry", { projectId, deliveryRowId, error: errorText(err, 200) });
  }
  try {
    await enqueueDeliveryApply(env, projectId, deliveryRowId);
    return "queued";
  } catch (err) {
    log.error("webhook enqueue failed; left for the sweep", { projectId, deliveryRowId, error: errorText(err, 200) });
    return "left_for_sweep";
  }
}
