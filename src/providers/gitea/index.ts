/**
 * Gitea, as the registry knows it: its headers and repository form (there is no public instance,
 * so no default API host), and the one descriptor wiring its REST client (`client.ts`) and
 * webhook mapping (`webhooks.ts`).
 */
import { OWNER_NAME_PATTERN, OWNER_NAME_PROBLEM } from "../github-compatible/client";
import { hmacSignatureMatches } from "../signatures";
import type { TrackerDescriptor } from "../types";
import { firstHeader, namedRepository } from "../webhook-events";
import { GiteaTracker } from "./client";
import { parseGiteaWebhook } from "./webhooks";

/** The bare hex HMAC-SHA256 of the body, no prefix. */
const GITEA_SIGNATURE_HEADER = "x-gitea-signature";
const SIGNATURE = /^[0-9a-fA-F]{64}$/;
const GITEA_DELIVERY_ID_HEADERS = ["x-gitea-delivery"] as const;
/** `X-Gitea-Event-Type` is finer (`issue_label`…) than `X-Gitea-Event` (`issues`): read it first. */
const GITEA_EVENT_HEADERS = ["x-gitea-event-type", "x-gitea-event"] as const;

export const gitea: TrackerDescriptor = {
  provider: "gitea",
  createTracker: (config) => new GiteaTracker(config),
  async verifyWebhook(headers, rawBody, secret) {
    const signature = headers.get(GITEA_SIGNATURE_HEADER)?.trim() ?? "";
    return SIGNATURE.test(signature) ? hmacSignatureMatches(signature, secret, rawBody) : false;
  },
  deliveryIdHeaders: GITEA_DELIVERY_ID_HEADERS,
  eventHeaders: GITEA_EVENT_HEADERS,
  eventName: (headers) => firstHeader(headers, GITEA_EVENT_HEADERS),
  parseWebhook: parseGiteaWebhook,
  defaultApiBaseUrl: null,
  repositoryPattern: OWNER_NAME_PATTERN,
  repositoryProblem: OWNER_NAME_PROBLEM,
  webhookRepository: (payload) => namedRepository(payload, "repository", "full_name"),
};

export { GiteaTracker } from "./client";
