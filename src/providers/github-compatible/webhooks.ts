/**
 * The webhook side GitHub and Gitea share: Gitea's payloads mirror GitHub's, so the common issue
 * actions, the fields an issue event changed, and the pull_request and push payloads and their
 * summaries live here once. Action names that differ stay in `github/` and `gitea/`.
 */
import { z } from "zod";
import { webUrl } from "../canonical";
import { changedFieldsOf } from "../webhook-events";
import { toUtcIso } from "../timestamps";
import type { CanonicalPullRequest, CanonicalPush, IssueAction, IssueFields, PullRequestState } from "../types";

/** The `issues` actions Gitea names as GitHub does; each adapter adds its own label (and transfer) actions. */
export const COMMON_ISSUE_ACTIONS: Readonly<Record<string, IssueAction>> = {
  opened: "opened",
  edited: "edited",
  closed: "closed",
  reopened: "reopened",
  deleted: "deleted",
  assigned: "assigned",
  unassigned: "assigned",
  milestoned: "milestoned",
  demilestoned: "milestoned",
};

/** `changes` keys that name synced fields; the action implies the rest. */
const CHANGE_FIELDS: Readonly<Record<string, keyof IssueFields>> = { title: "title", body: "body" };

/** Fields named by the payload's `changes` (title, body) plus the one the action implies; sorted. */
export function issueChangedFields(action: IssueAction, changes: Record<string, unknown> | null | undefined): string[] {
  return changedFieldsOf(action, changes, CHANGE_FIELDS);
}

export const pullRequestPayload = z.object({
  action: z.string().optional(),
  number: z.number().optional(),
  pull_request: z
    .object({
      number: z.number().optional(),
      title: z.string().optional(),
      state: z.string().optional(),
      merged: z.boolean().nullish(),
      draft: z.boolean().optional(),
      html_url: z.string().optional(),
      head: z.object({ ref: z.string() }).partial().optional(),
      base: z.object({ ref: z.string() }).partial().optional(),
    })
    .optional(),
});

/** The pull request summary; `draft` only where the tracker's summary has always carried it (GitHub). */
export function pullRequestSummary(
  p: z.infer<typeof pullRequestPayload>,
  options: { draft: boolean },
): Record<string, unknown> {
  const pr = p.pull_request ?? {};
  return {
    number: pr.number ?? p.number ?? null,
    title: pr.title ?? null,
    state: pr.state ?? null,
    merged: pr.merged ?? false,
    ...(options.draft ? { draft: pr.draft ?? false } : {}),
    url: webUrl(pr.html_url) || null,
    headRef: pr.head?.ref ?? null,
    baseRef: pr.base?.ref ?? null,
  };
}

export const pushPayload = z.object({
  ref: z.string().optional(),
  before: z.string().optional(),
  after: z.string().optional(),
  commits: z.array(z.unknown()).nullish(),
});

export function pushSummary(p: z.infer<typeof pushPayload>): Record<string, unknown> {
  return {
    ref: p.ref ?? null,
    before: p.before ?? null,
    after: p.after ?? null,
    commits: p.commits?.length ?? 0,
  };
}

/** An event this adapter does not map: its `action`, when the payload has a string one. */
export function actionOf(payload: unknown): string {
  const action = (payload as { action?: unknown } | null)?.action;
  return typeof action === "string" ? action : "";
}

/**
 * The pull request as a stored PR needs it (GitHub "pull_request" webhook payload; Gitea's mirrors
 * it: `modules/structs/pull.go`). Null when the payload lacks what a stored PR needs.
 */
const fullPullRequest = z.object({
  pull_request: z.object({
    id: z.union([z.number(), z.string()]),
    number: z.number(),
    title: z.string(),
    body: z.string().nullish(),
    html_url: z.string(),
    state: z.string(),
    draft: z.boolean().nullish(),
    merged: z.boolean().nullish(),
    merged_at: z.string().nullish(),
    closed_at: z.string().nullish(),
    updated_at: z.string().nullish(),
    user: z.object({ login: z.string().nullish() }).nullish(),
    head: z.object({ ref: z.string().nullish() }).nullish(),
    base: z.object({ ref: z.string().nullish() }).nullish(),
  }),
  repository: z.object({ default_branch: z.string().nullish() }).nullish(),
});

/** Gitea marks work in progress by a title prefix (`[repository.pull-request] WORK_IN_PROGRESS_PREFIXES` default). */
const GITEA_WIP_PREFIXES = ["WIP:", "[WIP]"];

export function canonicalPullRequest(payload: unknown, provider: "github" | "gitea"): CanonicalPullRequest | null {
  const parsed = fullPullRequest.safeParse(payload);
  if (!parsed.success) return null;
  const pr = parsed.data.pull_request;
  const merged = pr.merged === true || (pr.merged == null && !!pr.merged_at);
  const wip = provider === "gitea" && GITEA_WIP_PREFIXES.some((p) => pr.title.toUpperCase().startsWith(p));
  const draft = pr.draft === true || wip;
  const state: PullRequestState = merged ? "merged" : pr.state === "closed" ? "closed" : draft ? "draft" : "open";
  return {
    externalId: String(pr.id),
    number: pr.number,
    title: pr.title,
    body: pr.body ?? "",
    url: pr.html_url,
    author: pr.user?.login ?? null,
    state,
    baseRef: pr.base?.ref ?? null,
    headRef: pr.head?.ref ?? null,
    mergedAt: pr.merged_at ? toUtcIso(pr.merged_at) : null,
    closedAt: pr.closed_at ? toUtcIso(pr.closed_at) : null,
    updatedAt: pr.updated_at ? toUtcIso(pr.updated_at) : null,
    defaultBranch: parsed.data.repository?.default_branch ?? null,
  };
}

const fullPush = z.object({
  ref: z.string(),
  commits: z.array(z.object({ id: z.string(), message: z.string(), url: z.string().nullish() })).nullish(),
  repository: z.object({ default_branch: z.string().nullish() }).nullish(),
});

/** A push (GitHub "push" payload; Gitea's mirrors it): the ref, its commits and the default branch. */
export function canonicalPush(payload: unknown): CanonicalPush | null {
  const parsed = fullPush.safeParse(payload);
  if (!parsed.success) return null;
  return {
    ref: parsed.data.ref,
    defaultBranch: parsed.data.repository?.default_branch ?? null,
    commits: (parsed.data.commits ?? []).map((c) => ({ sha: c.id, message: c.message, url: c.url ?? null })),
  };
}
