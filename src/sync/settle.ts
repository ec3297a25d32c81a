/**
 * The one push-settle rule, for every record kind (issues, comments).
 *
 * A push is a few rounds of: read what the tracker holds, send what differs, store the answer. The
 * tracker's answer is the truth — what it stored (stripped, normalised, a quick action removed)
 * becomes the base and the local copy of what was sent — so one write settles it. A round that
 * does not settle (a local edit arrived meanwhile) goes again, at most MAX_ROUNDS times in one
 * call; still unsettled, the message comes back after UNSETTLED_RETRY_MS, never at once, and the
 * queue's retry limit bounds the writes (the dead letter then fails the row with a reason).
 */
import { nowIso } from "../ids";
import { RateLimitedError, TrackerError } from "../providers/types";

export interface PushOutcome {
  /** Rate limited or paced: retry the message at this instant (ISO UTC). Null: done, ack it. */
  retryAt: string | null;
}

export type Step = { kind: "done" } | { kind: "wait"; retryAt: string } | { kind: "again" };
export const DONE: Step = { kind: "done" };
export const AGAIN: Step = { kind: "again" };

/** Rounds within one call when local edits keep arriving during tracker calls. */
export const MAX_ROUNDS = 3;
/** A push still unsettled after its rounds comes back after this long (never at once). */
export const UNSETTLED_RETRY_MS = 30_000;
/** A push that found the repository unreadable (access lost) tries again after this long. */
export const ACCESS_LOST_RETRY_MS = 10 * 60_000;

/** Runs `once` until it is done or waits, at most MAX_ROUNDS times; then a delayed retry. */
export async function settleRounds(once: () => Promise<Step>, now: () => number = Date.now): Promise<PushOutcome> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const step = await once();
    if (step.kind === "done") return { retryAt: null };
    if (step.kind === "wait") return { retryAt: step.retryAt };
  }
  return { retryAt: nowIso(now() + UNSETTLED_RETRY_MS) };
}

/** What a push failure does to its outbox row, whatever the record kind. */
export interface FailureHooks {
  /** The push was a create (its rate limit holds back the project's other creates too). */
  isCreate: boolean;
  defer(retryAt: string): Promise<void>;
  delayCreates(retryAt: string): Promise<void>;
  recordAttempt(message: string, now: string): Promise<void>;
}

/**
 * The failures every kind handles alike: a rate limit waits for its reset; a transient error is
 * recorded and thrown (the queue retries it with backoff); a refused credential (401) leaves the row
 * pending — the project is paused (credentials.ts) and the row is sent once it resumes, never failed
 * for good over a token. Anything else is the caller's: returned as the TrackerError to classify.
 */
export async function commonFailure(err: unknown, hooks: FailureHooks): Promise<Step | TrackerError> {
  const now = nowIso();
  if (err instanceof RateLimitedError) {
    await hooks.defer(err.retryAt);
    if (hooks.isCreate) await hooks.delayCreates(err.retryAt);
    return { kind: "wait", retryAt: err.retryAt };
  }
  if (!(err instanceof TrackerError)) throw err;
  if (err.retryable) {
    await hooks.recordAttempt(err.message, now);
    throw err;
  }
  if (err.status === 401) {
    await hooks.recordAttempt(err.message, now);
    return DONE;
  }
  return err;
}
