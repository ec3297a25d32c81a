/**
 * GitHub, as the registry knows it: its headers, API host and repository form, and the one
 * descriptor wiring its REST client (`client.ts`) and webhook mapping (`webhooks.ts`).
 */
import { OWNER_NAME_PATTERN, OWNER_NAME_PROBLEM } from "../github-compatible/client";
import { hmacSignatureMatches } from "../signatures";
import type { TrackerDescriptor } from "../types";
import { firstHeader, namedRepository } from "../webhook-events";
import { githubStyleShapeProblem } from "../webhook-shapes";
import { GitHubTracker } from "./client";
import { parseGitHubWebhook } from "./webhooks";

const GITHUB_API_BASE_URL = "https://api.github.com";
/** `sha256=<hex HMAC-SHA256>`; the legacy `X-Hub-Signature` (sha1) is not accepted. */
const GITHUB_SIGNATURE_HEADER = "x-hub-signature-256";
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;
const GITHUB_DELIVERY_ID_HEADERS = ["x-github-delivery"] as const;
const GITHUB_EVENT_HEADERS = ["x-github-event"] as const;

export const github: TrackerDescriptor = {
  provider: "github",
  createTracker: (config) => new GitHubTracker(config),
  signatureWellFormed: (headers) => SIGNATURE.test(headers.get(GITHUB_SIGNATURE_HEADER)?.trim() ?? ""),
  async verifyWebhook(headers, rawBody, secret) {
    const match = SIGNATURE.exec(headers.get(GITHUB_SIGNATURE_HEADER)?.trim() ?? "");
    return match?.[1] ? hmacSignatureMatches(match[1], secret, rawBody) : false;
  },
  deliveryIdHeaders: GITHUB_DELIVERY_ID_HEADERS,
  eventHeaders: GITHUB_EVENT_HEADERS,
  webhookShapeProblem: githubStyleShapeProblem,
  eventName: (headers) => firstHeader(headers, GITHUB_EVENT_HEADERS),
  parseWebhook: parseGitHubWebhook,
  defaultApiBaseUrl: GITHUB_API_BASE_URL,
  repositoryPattern: OWNER_NAME_PATTERN,
  repositoryProblem: OWNER_NAME_PROBLEM,
  webhookRepository: (payload) => namedRepository(payload, "repository", "full_name"),
  closesIssuesOnDefaultBranchMerge: true,
};

export { GitHubTracker } from "./client";
