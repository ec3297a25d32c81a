/**
 * GitLab, as the registry knows it: its headers, API host and project reference form, and the one
 * descriptor wiring its REST client (`client.ts`) and webhook mapping (`webhooks.ts`).
 */
import { secretTokenMatches } from "../signatures";
import type { TrackerDescriptor } from "../types";
import { firstHeader, namedRepository } from "../webhook-events";
import { gitlabShapeProblem } from "../webhook-shapes";
import { GitLabTracker, gitlabLabelNameProblem } from "./client";
import { parseGitLabWebhook } from "./webhooks";

const GITLAB_API_BASE_URL = "https://gitlab.com/api/v4";
/** GitLab signs nothing: the header carries the secret itself. */
const GITLAB_TOKEN_HEADER = "x-gitlab-token";
/**
 * `Idempotency-Key` (17.4+) survives retries and `X-Gitlab-Event-UUID` is per event, but
 * `X-Gitlab-Webhook-UUID` is new per request and must not be used.
 */
const GITLAB_DELIVERY_ID_HEADERS = ["idempotency-key", "x-gitlab-event-uuid"] as const;
const GITLAB_EVENT_HEADERS = ["x-gitlab-event"] as const;
/** A namespace path of any depth, or the numeric project id. */
const PROJECT_REFERENCE = /^(\d+|[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+)$/;

export const gitlab: TrackerDescriptor = {
  provider: "gitlab",
  createTracker: (config) => new GitLabTracker(config),
  // The secret itself: 20 to 500 characters, as the projects API accepts it.
  signatureWellFormed: (headers) => {
    const token = headers.get(GITLAB_TOKEN_HEADER) ?? "";
    return token.length >= 20 && token.length <= 500;
  },
  verifyWebhook: (headers, _rawBody, secret) => secretTokenMatches(headers.get(GITLAB_TOKEN_HEADER), secret),
  deliveryIdHeaders: GITLAB_DELIVERY_ID_HEADERS,
  eventHeaders: GITLAB_EVENT_HEADERS,
  webhookShapeProblem: gitlabShapeProblem,
  eventName: (headers) => firstHeader(headers, GITLAB_EVENT_HEADERS),
  parseWebhook: parseGitLabWebhook,
  defaultApiBaseUrl: GITLAB_API_BASE_URL,
  repositoryPattern: PROJECT_REFERENCE,
  repositoryProblem: 'must be "group/project" (any depth) or a numeric id',
  webhookRepository: (payload) => namedRepository(payload, "project", "path_with_namespace"),
  disablesHookOn4xx: true,
  closesIssuesOnDefaultBranchMerge: true,
  // Internal notes (`internal: true`), which a project may opt to push its internal comments as.
  hasInternalComments: true,
  labelNameProblem: gitlabLabelNameProblem,
};

export { GitLabTracker } from "./client";
