/**
 * The providers capability's front door: adapters by provider, and webhook verification,
 * delivery ids, event names, normalization and repository checks for all three trackers. Each
 * answer is a lookup in the registry; the facts live in `providers/<name>/`.
 */
import { TRACKERS } from "./registry";
import { sha256Hex } from "./signatures";
import { PROVIDERS, type NormalizedEvent, type Provider, type Tracker, type TrackerConfig, type WebhookHeaders, type WebhookRepository } from "./types";

export * from "./types";
export { WebhookPayloadError } from "./webhook-events";
export { toUtcIso } from "./timestamps";
export { GitHubTracker } from "./github";
export { GitLabTracker } from "./gitlab";
export { GiteaTracker } from "./gitea";

/** Where each tracker's API lives when the project names no host; Gitea is always self-hosted. */
export const DEFAULT_API_BASE_URL: Readonly<Record<Provider, string | null>> = Object.fromEntries(
  PROVIDERS.map((provider) => [provider, TRACKERS[provider].defaultApiBaseUrl]),
) as Record<Provider, string | null>;

export function createTracker(config: TrackerConfig): Tracker {
  return TRACKERS[config.provider].createTracker(config);
}

/**
 * Checks a delivery against the project's secret, on the raw bytes as received.
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>` (the legacy `sha1=` header is not
 * accepted); Gitea: `X-Gitea-Signature: <hex HMAC-SHA256>`; GitLab: `X-Gitlab-Token` is the
 * secret itself. Every comparison is constant-time; an empty secret verifies nothing.
 */
export async function verifyWebhook(
  provider: Provider,
  headers: WebhookHeaders,
  rawBody: Uint8Array,
  secret: string,
): Promise<boolean> {
  if (secret === "") return false;
  return TRACKERS[provider].verifyWebhook(headers, rawBody, secret);
}

/**
 * The id a delivery is deduplicated by: the tracker's delivery header (GitLab's are chosen to
 * survive retries). Without one the body's SHA-256 stands in: identical bytes, same delivery.
 */
export async function deliveryIdOf(provider: Provider, headers: WebhookHeaders, rawBody: Uint8Array): Promise<string> {
  for (const name of TRACKERS[provider].deliveryIdHeaders) {
    const value = headers.get(name)?.trim();
    if (value) return value;
  }
  return `sha256:${await sha256Hex(rawBody)}`;
}

/** `X-GitHub-Event`, `X-Gitlab-Event`, or Gitea's `X-Gitea-Event-Type` (finer) else `X-Gitea-Event`. */
export function eventNameOf(provider: Provider, headers: WebhookHeaders): string | null {
  return TRACKERS[provider].eventName(headers);
}

/** The header names that carry the event name, in the order `eventNameOf` reads them. */
export function eventHeaderNames(provider: Provider): readonly string[] {
  return TRACKERS[provider].eventHeaders;
}

/**
 * Normalizes a verified delivery. Issue events must carry what a snapshot needs, else
 * `WebhookPayloadError` names the missing field; unknown events come back as kind "other".
 */
export function parseWebhook(provider: Provider, headers: WebhookHeaders, payload: unknown): NormalizedEvent {
  const tracker = TRACKERS[provider];
  const event = tracker.parseWebhook(tracker.eventName(headers) ?? "", payload);
  return { ...event, repository: event.repository ?? webhookRepository(provider, payload) };
}

/** The repository a delivery names, read before anything else (a foreign one is not parsed further). */
export function webhookRepository(provider: Provider, payload: unknown): WebhookRepository | null {
  return TRACKERS[provider].webhookRepository?.(payload) ?? null;
}

/** GitLab disables a hook after 4xx answers: a delivery we cannot use still gets a 2xx there. */
export function answersBadPayloadWith2xx(provider: Provider): boolean {
  return TRACKERS[provider].disablesHookOn4xx === true;
}

/** Null when `repository` is a valid reference for this tracker, else what it must look like. */
export function repositoryFormatProblem(provider: Provider, repository: string): string | null {
  const { repositoryPattern, repositoryProblem } = TRACKERS[provider];
  return repositoryPattern.test(repository) ? null : repositoryProblem;
}
