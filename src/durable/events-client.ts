/**
 * The callers' side of the EventDispatcher Durable Objects: one per subscription, named by its id.
 * `kickSubscriptions` wakes every enabled subscription after a change was written; it is a hint for
 * freshness only (the cron sweep wakes them all every 5 minutes), so its failures are logged and dropped.
 */
import { catalogDatabase, catalogIdentity } from "../db/shards";
import { listEnabledSubscriptionIds } from "../db/subscriptions";
import type { Env } from "../env";
import type { RoundResult } from "../events/dispatch";
import { errorText, log } from "../log";

export function eventDispatcher(env: Env, subscriptionId: string) {
  const stub = env.EVENT_DISPATCHER.get(env.EVENT_DISPATCHER.idFromName(subscriptionId));
  return {
    wake: (): Promise<void> => stub.wake(subscriptionId),
    deliver: (): Promise<RoundResult> => stub.deliver(subscriptionId),
  };
}

/** The enabled subscriptions' ids, read at most every few seconds per isolate (kicks are frequent). */
const KICK_LIST_TTL_MS = 5_000;
let cached: { at: number; db: object; ids: string[] } | null = null;

export function forgetSubscriptionList(): void {
  cached = null;
}

export async function kickSubscriptions(env: Env): Promise<void> {
  try {
    const now = Date.now();
    if (!cached || cached.db !== catalogIdentity(env) || now - cached.at > KICK_LIST_TTL_MS || now < cached.at) {
      cached = { at: now, db: catalogIdentity(env), ids: await listEnabledSubscriptionIds(catalogDatabase(env)) };
    }
    await Promise.all(cached.ids.map((id) => eventDispatcher(env, id).wake()));
  } catch (err) {
    log.error("event subscription kick failed; the cron sweep will wake them", { error: errorText(err, 200) });
  }
}
