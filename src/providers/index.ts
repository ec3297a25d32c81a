/**
 * The providers capability's front door: adapters by provider, and webhook verification,
 * delivery ids, event names and normalization for all three trackers.
 */
import { GiteaTracker, parseGiteaWebhook } from "./gitea";
import { GitHubTracker, parseGitHubWebhook } from "./github";
import { GitLabTracker, parseGitLabWebhook } from "./gitlab";
import type { NormalizedEvent, Provider, Tracker, TrackerConfig, WebhookHeaders } from "./types";
import { constantTimeEqual, hmacSha256Hex, nonIssueEvent, sha256Hex } from "./webhooks";

export * from "./types";
export { WebhookPayloadError } from "./webhooks";
export { toUtcIso } from "./timestamps";
export { GitHubTracker } from "./github";
export { GitLabTracker } from "./gitlab";
export { GiteaTracker } from "./gitea";

/** Where each tracker's API lives when the project names no host; Gitea is always self-hosted. */
export const DEFAULT_API_BASE_URL: Readonly<Record<Provider, string | null>> = {
  github: "https://api.github.com",
  gitlab: "https://gitlab.com/api/v4",
  gitea: null,
};

export function createTracker(config: TrackerConfig): Tracker {
  switch (config.provider) {
    case "github":
      return new GitHubTracker(config);
    case "gitlab":
      return new GitLabTracker(config);
    case "gitea":
      return new GiteaTracker(config);
  }
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
  switch (provider) {
    case "github": {
      const header = headers.get("x-hub-signature-256")?.trim() ?? "";
      const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header);
      if (!match?.[1]) return false;
      return constantTimeEqual(match[1].toLowerCase(), await hmacSha256Hex(secret, rawBody));
    }
    case "gitea": {
      const header = headers.get("x-gitea-signature")?.trim() ?? "";
      if (!/^[0-9a-fA-F]{64}$/.test(header)) return false;
      return constantTimeEqual(header.toLowerCase(), await hmacSha256Hex(secret, rawBody));
    }
    case "gitlab": {
      const token = headers.get("x-gitlab-token");
      if (token === null) return false;
      return constantTimeEqual(token, secret);
    }
  }
}

/**
 * The id a delivery is deduplicated by. GitLab's `Idempotency-Key` (17.4+) survives retries and
 * `X-Gitlab-Event-UUID` is per event, but `X-Gitlab-Webhook-UUID` is new per request and must not
 * be used. Without a header the body's SHA-256 stands in: identical bytes, same delivery.
 */
export async function deliveryIdOf(provider: Provider, headers: WebhookHeaders, rawBody: Uint8Array): Promise<string> {
  const names: Record<Provider, string[]> = {
    github: ["x-github-delivery"],
    gitea: ["x-gitea-delivery"],
    gitlab: ["idempotency-key", "x-gitlab-event-uuid"],
  };
  for (const name of names[provider]) {
    const value = headers.get(name)?.trim();
    if (value) return value;
  }
  return `sha256:${await sha256Hex(rawBody)}`;
}

/** `X-GitHub-Event`, `X-Gitlab-Event`, or Gitea's `X-Gitea-Event-Type` (finer) else `X-Gitea-Event`. */
export function eventNameOf(provider: Provider, headers: WebhookHeaders): string | null {
  switch (provider) {
    case "github":
      return headers.get("x-github-event");
    case "gitlab":
      return headers.get("x-gitlab-event");
    case "gitea":
      return headers.get("x-gitea-event-type") ?? headers.get("x-gitea-event");
  }
}

/**
 * Normalizes a verified delivery. Issue events must carry what a snapshot needs, else
 * `WebhookPayloadError` names the missing field; unknown events come back as kind "other".
 */
export function parseWebhook(provider: Provider, headers: WebhookHeaders, payload: unknown): NormalizedEvent {
  const event = eventNameOf(provider, headers) ?? "";
  switch (provider) {
    case "github":
      return parseGitHubWebhook(event, payload);
    case "gitlab":
      return parseGitLabWebhook(event, payload);
    case "gitea":
      return event === "" ? nonIssueEvent("gitea", "other", event, "") : parseGiteaWebhook(event, payload);
  }
}
