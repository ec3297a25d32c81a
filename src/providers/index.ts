/**
 * The providers capability's front door: adapters by provider, and webhook verification,
 * delivery ids, event names, normalization and repository checks for all three trackers. Each
 * answer is a lookup in the registry; the facts live in `providers/<name>/`.
 */
import { TRACKERS } from "./registry";
import { isDotSegment } from "./endpoints";
import { sha256Hex } from "./signatures";
import { PROVIDERS, type NormalizedEvent, type Provider, type Tracker, type TrackerConfig, type WebhookHeaders, type WebhookRepository } from "./types";

export * from "./types";
import { WebhookPayloadError } from "./webhook-events";
export { WebhookPayloadError };
export { toUtcIso } from "./timestamps";
export { checkApiBaseUrl, originOf, parseInsecureHosts } from "./endpoints";
export { GitHubTracker } from "./github";
export { GitLabTracker } from "./gitlab";
export { GiteaTracker } from "./gitea";
export * from "./credential-budget";
export {
  AppAuthError,
  AppCredentialsRejected,
  appBotLogin,
  DEFAULT_GITHUB_APP_API_BASE_URL,
  fetchAppSlug,
  fetchInstallationState,
  InstallationGone,
  InstallationSuspended,
  mintInstallationToken,
  tokenNeedsRefresh,
  type InstallationToken,
} from "./github/app-installation-token";
export { AppIdInvalid, AppPrivateKeyInvalid } from "./github/app-jwt";
export { parseAppDelivery, type AppDelivery, type AppRepositoryRef } from "./github/app-webhooks";

/** True when the tracker has internal comments a project may opt to push (GitLab's internal notes). */
export function hasInternalComments(provider: Provider): boolean {
  return TRACKERS[provider].hasInternalComments === true;
}

/** Trackers whose projects may connect with an App installation (`installationId`) instead of a token. */
export const APP_INSTALLATION_PROVIDERS: readonly Provider[] = ["github"];

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

/** True when the delivery's signature/token header is present and well formed (no storage read needed). */
export function webhookSignatureWellFormed(provider: Provider, headers: WebhookHeaders): boolean {
  return TRACKERS[provider].signatureWellFormed(headers);
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
  const event = tracker.eventName(headers) ?? "";
  const shape = tracker.webhookShapeProblem(event, payload);
  if (shape) throw new WebhookPayloadError(`${provider} ${event} payload: (event): ${shape}; refused`);
  let parsed: NormalizedEvent;
  try {
    parsed = tracker.parseWebhook(event, payload);
  } catch (err) {
    // An unparseable timestamp is bad input like a missing field: a 4xx naming it, never a 500.
    if (err instanceof RangeError) throw new WebhookPayloadError(`${provider} ${event} payload: (timestamp): ${err.message.slice(0, 120)}`);
    throw err;
  }
  return { ...parsed, repository: parsed.repository ?? webhookRepository(provider, payload) };
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
  if (!repositoryPattern.test(repository)) return repositoryProblem;
  // "../user" once made a sync call `GET /user/issues` with the token: no segment may be a dot segment.
  if (repository.split("/").some(isDotSegment)) return `${repositoryProblem}, without "." or ".." segments`;
  return null;
}

/** Null when the tracker can hold `name` as one label, else why not. */
export function labelNameProblem(provider: Provider, name: string): string | null {
  return TRACKERS[provider].labelNameProblem?.(name) ?? null;
}

/** SHA-256 (hex) of a delivery's raw body: the same signed body is the same delivery, whatever its headers say. */
export function bodyDigest(rawBody: Uint8Array): Promise<string> {
  return sha256Hex(rawBody);
}

/** True when the tracker itself closes an issue whose closing PR merges into the default branch. */
export function closesIssuesOnDefaultBranchMerge(provider: Provider): boolean {
  return TRACKERS[provider].closesIssuesOnDefaultBranchMerge === true;
}

/**
 * The host issue URLs of a project live on: GitHub.com's API is `api.github.com` and its pages
 * `github.com`; GitHub Enterprise, GitLab and Gitea serve the API under the web host.
 */
export function webHostOf(provider: Provider, apiBaseUrl: string): string | null {
  try {
    const host = new URL(apiBaseUrl).host.toLowerCase();
    return provider === "github" && host.startsWith("api.") ? host.slice(4) : host;
  } catch {
    return null;
  }
}
