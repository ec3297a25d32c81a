/**
 * Event subscriptions hear a local change as soon as it is written: a successful write through the
 * issue and comment routes wakes the subscriptions after the answer (the change is already in the
 * activity stream, the subscriptions' outbox). Before, they heard it when the push job ran or the cron
 * sweep woke them. A hint only: the sweep still wakes every subscription every 5 minutes.
 */
import type { MiddlewareHandler } from "hono";
import { kickSubscriptions } from "../durable/events-client";
import type { AppEnv } from "./project";

export const kickSubscriptionsAfterWrite: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.res.status < 300) c.executionCtx.waitUntil(kickSubscriptions(c.env));
};
