/**
 * The webhook side GitHub and Gitea share: Gitea's payloads mirror GitHub's, so the common issue
 * actions, the fields an issue event changed, and the pull_request and push payloads and their
 * summaries live here once. Action names that differ stay in `github/` and `gitea/`.
 */
import { z } from "zod";
import { webUrl } from "../canonical";
import { changedFieldsOf } from "../webhook-events";
import type { IssueAction, IssueFields } from "../types";

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
