/**
 * Gitea, as the registry knows it: its headers and repository form (there is no public instance,
 * so no default API host), and the one descriptor wiring its REST client (`client.ts`) and
 * webhook mapping (`webhooks.ts`).
 */
import { OWNER_NAME_PATTERN, OWNER_NAME_PROBLEM } from "../github-compatible/client";
import { hmacSignatureMatches } from "../signatures";
import type { TrackerDescriptor, WebhookHeaders } from "../types";
import { firstHeader, namedRepository } from "../webhook-events";
import { githubStyleShapeProblem } from "../webhook-shapes";
import { GiteaTracker } from "./client";
import { parseGiteaWebhook } from "./webhooks";

/** The bare hex HMAC-SHA256 of the body, no prefix. */
const GITEA_SIGNATURE_HEADER = "x-gitea-signature";
const SIGNATURE = /^[0-9a-fA-F]{64}$/;
const GITEA_DELIVERY_ID_HEADERS = ["x-gitea-delivery"] as const;
/** `X-Gitea-Event-Type` is finer (`issue_label`…) than `X-Gitea-Event` (`issues`): read it first. */
const GITEA_EVENT_HEADERS = ["x-gitea-event-type", "x-gitea-event"] as const;

/**
 * What Gitea's HMAC covers: always the JSON payload. A form delivery (`payload=<urlencoded JSON>`)
 * is signed before it is form-encoded (services/webhook/deliver.go), so its JSON is verified, not the
 * bytes sent. A form content type without a `payload` field is verified on its raw bytes (and then
 * fails as "not JSON").
 */
function signedBytes(headers: WebhookHeaders, rawBody: Uint8Array): Uint8Array {
  if (!headers.get("content-type")?.toLowerCase().startsWith("application/x-www-form-urlencoded")) return rawBody;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(rawBody);
  } catch {
    return rawBody;
  }
  const payload = new URLSearchParams(text).get("payload");
  return payload === null ? rawBody : new TextEncoder().encode(payload);
}

export const gitea: TrackerDescriptor = {
  provider: "gitea",
  createTracker: (config) => new GiteaTracker(config),
  signatureWellFormed: (headers) => SIGNATURE.test(headers.get(GITEA_SIGNATURE_HEADER)?.trim() ?? ""),
  async verifyWebhook(headers, rawBody, secret) {
    const signature = headers.get(GITEA_SIGNATURE_HEADER)?.trim() ?? "";
    return SIGNATURE.test(signature) ? hmacSignatureMatches(signature, secret, signedBytes(headers, rawBody)) : false;
  },
  deliveryIdHeaders: GITEA_DELIVERY_ID_HEADERS,
  eventHeaders: GITEA_EVENT_HEADERS,
  webhookShapeProblem: githubStyleShapeProblem,
  eventName: (headers) => firstHeader(headers, GITEA_EVENT_HEADERS),
  parseWebhook: parseGiteaWebhook,
  defaultApiBaseUrl: null,
  repositoryPattern: OWNER_NAME_PATTERN,
  repositoryProblem: OWNER_NAME_PROBLEM,
  webhookRepository: (payload) => namedRepository(payload, "repository", "full_name"),
};

export { GiteaTracker } from "./client";
