/**
 * What a tracker's answer says about the credential that made the request: the rate-limit budget
 * left (`x-ratelimit-remaining` / `-reset` on GitHub and Gitea, `RateLimit-Remaining` / `-Reset` on
 * GitLab), whether the budget is spent (remaining 0, or a secondary-limit 403/429), and whether
 * the credential itself was refused (401). Also the answers a credential gate gives in the
 * tracker's stead, so the adapters treat them like the tracker's own.
 */
import { giteaHttp } from "./gitea/client";
import { githubHttp } from "./github/client";
import { gitlabHttp } from "./gitlab/client";
import { rateLimitRetryAt, type TrackerHttpDialect } from "./http";
import { fromEpochSeconds } from "./timestamps";
import type { Provider } from "./types";

const DIALECTS: Readonly<Record<Provider, TrackerHttpDialect>> = { github: githubHttp, gitlab: gitlabHttp, gitea: giteaHttp };

export interface BudgetObservation {
  /** Requests left in the current window, when the answer says. */
  remaining: number | null;
  /** When the window resets (ISO UTC), when the answer says. */
  resetAt: string | null;
  /** Set when the answer is a rate-limit refusal or shows nothing left: no request before this. */
  limitedUntil: string | null;
}

/** The budget an answer shows, or null when it carries no rate-limit headers and is no refusal. */
export function observeBudget(provider: Provider, status: number, headers: Headers, message: string, nowMs: number): BudgetObservation | null {
  const remainingText = headers.get("x-ratelimit-remaining") ?? headers.get("ratelimit-remaining");
  const resetText = headers.get("x-ratelimit-reset") ?? headers.get("ratelimit-reset");
  const remaining = remainingText !== null && /^\d+$/.test(remainingText.trim()) ? Number(remainingText) : null;
  let resetAt: string | null = null;
  if (resetText !== null && /^\d+$/.test(resetText.trim())) {
    const value = Number(resetText);
    // Epoch seconds (GitHub, GitLab, Gitea); small values are delta seconds (the IETF draft).
    resetAt = fromEpochSeconds(value > 1_000_000_000 ? value : nowMs / 1000 + value);
  }
  let limitedUntil = rateLimitRetryAt(DIALECTS[provider], status, headers, message, nowMs);
  // A success that used the last request: the next one would be refused until the reset.
  if (!limitedUntil && remaining === 0 && resetAt && Date.parse(resetAt) > nowMs) limitedUntil = resetAt;
  if (remaining === null && resetAt === null && limitedUntil === null) return null;
  return { remaining, resetAt, limitedUntil };
}

/** Every tracker answers 401 when the token is unknown, expired or revoked. */
export function isCredentialRefusal(status: number): boolean {
  return status === 401;
}

/**
 * The answer for a request held back because the credential's shared budget is spent: a 429 with
 * `Retry-After` (an HTTP date), which every adapter turns into `RateLimitedError(retryAt)`.
 */
export function budgetSpentResponse(until: string): Response {
  return new Response(JSON.stringify({ message: `rate limit of this credential is spent until ${until} (learned by another project)` }), {
    status: 429,
    headers: { "content-type": "application/json", "retry-after": new Date(until).toUTCString() },
  });
}

/**
 * The answer for a request not sent because the credential is refused, suspended or cannot be
 * minted: a 401, which no adapter accepts as data, so it surfaces as a non-retryable TrackerError.
 */
export function credentialRefusedResponse(message: string): Response {
  return new Response(JSON.stringify({ message }), { status: 401, headers: { "content-type": "application/json" } });
}

/** The answer for a credential that could not be obtained for a passing reason (retryable 503). */
export function credentialUnavailableResponse(message: string): Response {
  return new Response(JSON.stringify({ message }), { status: 503, headers: { "content-type": "application/json" } });
}
