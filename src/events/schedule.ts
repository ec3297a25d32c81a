/**
 * When a failed delivery is tried again (Svix's schedule): after the first attempt fails, again
 * immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — nine attempts over about
 * 27.6 hours — each delay with ±20 % jitter so a recovering endpoint is not hit by every retry at once.
 * A `Retry-After` answer pushes the next attempt later, never earlier.
 */
export const RETRY_DELAYS_MS = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** Retry-After beyond this is capped (an endpoint cannot park a delivery for days). */
export const MAX_RETRY_AFTER_MS = 12 * 3_600_000;

/** The delay before the attempt after `attempts` failed ones; null once the last attempt has failed. */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number | null {
  const base = RETRY_DELAYS_MS[attempts - 1];
  if (base === undefined) return null;
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** `Retry-After` as milliseconds from `nowMs` (seconds or an HTTP date); null when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs: number): number | null {
  if (!header) return null;
  const value = header.trim();
  if (/^\d{1,10}$/.test(value)) return Math.min(MAX_RETRY_AFTER_MS, Number(value) * 1000);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - nowMs));
}

/** Automatic disable: only after this long with nothing but failures. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3_600_000;
