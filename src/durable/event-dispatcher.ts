import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { dispatchRound, runtimeDeps, type RoundResult } from "../events/dispatch";

/**
 * One per event subscription (named by its id): the only place its deliveries are sent from, one
 * round at a time (a promise chain, since an `await fetch()` lets other calls in). Its alarm is the
 * retry clock: after each round it is set to the round's next due time (a retry 5 s or 10 h away,
 * or now while a backlog remains), so waiting costs nothing and every round gets a fresh invocation
 * budget. Why a Durable Object rather than queue messages with `delaySeconds`: per-issue order needs
 * one reader of the subscription's pending heads, a queue redelivers and reorders messages, and its
 * delays cap at 12 h (the schedule has 10 h steps plus Retry-After); the queue only carries wakes.
 * Subscriptions are independent objects, so a busy one never starves another.
 *
 * After a wake it keeps watching the activity stream (a round every WATCH_POLL_MS) until WATCH_MS
 * pass without a new entry, so a run that writes for minutes (an import) is followed without a kick
 * after each of its steps.
 */
const WATCH_MS = 60_000;
const WATCH_POLL_MS = 1_000;

export class EventDispatcher extends DurableObject<Env> {
  #tail: Promise<unknown> = Promise.resolve();

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn, fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async #remember(subscriptionId: string): Promise<void> {
    if ((await this.ctx.storage.get<string>("subscriptionId")) !== subscriptionId) await this.ctx.storage.put("subscriptionId", subscriptionId);
  }

  async #round(subscriptionId: string): Promise<RoundResult> {
    const result = await dispatchRound(this.env, subscriptionId, runtimeDeps());
    const now = Date.now();
    if (result.read > 0) await this.ctx.storage.put("watchUntil", now + WATCH_MS);
    const watchUntil = (await this.ctx.storage.get<number>("watchUntil")) ?? 0;
    const poll = result.active && now < watchUntil ? now + WATCH_POLL_MS : null;
    const next = [result.nextWakeAt, poll].filter((t): t is number => t !== null);
    if (next.length > 0) await this.#schedule(Math.min(...next));
    return result;
  }

  async #schedule(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** A change happened (or a delivery was queued): run a round soon, in an alarm of its own. Cheap. */
  async wake(subscriptionId: string): Promise<void> {
    await this.#remember(subscriptionId);
    await this.ctx.storage.put("watchUntil", Date.now() + WATCH_MS);
    await this.#schedule(Date.now());
  }

  /** Runs a round now (the queue's wake): claims make a duplicated call send nothing twice. */
  async deliver(subscriptionId: string): Promise<RoundResult> {
    return this.#exclusive(async () => {
      await this.#remember(subscriptionId);
      return this.#round(subscriptionId);
    });
  }

  override async alarm(): Promise<void> {
    await this.#exclusive(async () => {
      const subscriptionId = await this.ctx.storage.get<string>("subscriptionId");
      if (subscriptionId) await this.#round(subscriptionId);
    });
  }
}
