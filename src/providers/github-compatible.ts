/**
 * What GitHub and Gitea share: Gitea's API v1 and webhooks mirror GitHub's, so the repository
 * path, the issue-to-canonical mapping, the current user, `name → id` lookups, the fields an
 * issue event changed, and the pull_request and push payloads and their summaries live here once.
 * Where the two differ (list parameters, label writes, PATCH status, action names) stays in
 * `github.ts` and `gitea.ts`.
 */
import { z } from "zod";
import { canonicalIssue } from "./canonical";
import type { TrackerHttp } from "./http";
import { TrackerError, type CanonicalIssue, type IssueAction, type IssueFields, type Provider } from "./types";

const user = z.object({ login: z.string() });

/** `/repos/<owner>/<name>`, each part encoded; anything but "owner/name" is a config error. */
export function repositoryPath(provider: Provider, repository: string): string {
  const [owner, name, ...rest] = repository.split("/");
  if (!owner || !name || rest.length > 0) throw new TrackerError(`${provider} repository must be "owner/name"`, null, false);
  return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}

/**
 * A REST issue as both trackers send it; webhooks carry the same object. Each adapter narrows
 * what its tracker sends differently (GitHub's `state`, Gitea's `labels`) with `.extend`.
 */
export const githubStyleIssue = z.object({
  id: z.number(),
  number: z.number(),
  title: z.string(),
  body: z.string().nullish(),
  state: z.string(),
  html_url: z.string(),
  labels: z.array(z.union([z.string(), z.object({ name: z.string() })])).nullish(),
  assignees: z.array(user).nullish(),
  assignee: user.nullish(),
  milestone: z.object({ title: z.string() }).nullish(),
  created_at: z.string(),
  updated_at: z.string(),
  closed_at: z.string().nullish(),
  pull_request: z.unknown().nullish(),
});
type GitHubStyleIssue = z.infer<typeof githubStyleIssue>;

export function toCanonical(issue: GitHubStyleIssue): CanonicalIssue {
  return canonicalIssue({
    externalId: issue.id,
    number: issue.number,
    url: issue.html_url,
    title: issue.title,
    body: issue.body,
    state: issue.state,
    labels: (issue.labels ?? []).map((l) => (typeof l === "string" ? l : l.name)),
    assignees: assigneeLogins(issue),
    milestone: issue.milestone?.title,
    createdAt: issue.created_at,
    updatedAt: issue.updated_at,
    closedAt: issue.closed_at,
  });
}

function assigneeLogins(issue: GitHubStyleIssue): string[] {
  if (issue.assignees) return issue.assignees.map((a) => a.login);
  return issue.assignee ? [issue.assignee.login] : [];
}

/** The token's user, whose login filters "issues I created" when a lost create is looked for. */
export async function currentLogin(http: TrackerHttp): Promise<string> {
  const me = user.safeParse(await http.getJson(http.url("/user")));
  if (!me.success) throw new TrackerError(`${http.provider} GET /user answered without a login`, null, false);
  return me.data.login;
}

/** A helper listing (labels, milestones) read into `name → id`; items that do not parse are skipped. */
export async function idsByName<T>(
  http: TrackerHttp,
  url: string,
  schema: z.ZodType<T>,
  entry: (item: T) => [name: string, id: number],
): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const item of await http.getAllPages(url)) {
    const parsed = schema.safeParse(item);
    if (parsed.success) ids.set(...entry(parsed.data));
  }
  return ids;
}

export function missingMilestone(provider: Provider, title: string, repository: string): TrackerError {
  return new TrackerError(`${provider} milestone ${JSON.stringify(title)} does not exist in ${repository}`, null, false);
}

// ---------- webhooks ----------

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

/** The field an action changes, when the action itself says so. */
const ACTION_FIELDS: Partial<Record<IssueAction, keyof IssueFields>> = {
  closed: "state",
  reopened: "state",
  labeled: "labels",
  assigned: "assignees",
  milestoned: "milestone",
};

const CHANGE_FIELDS: Record<string, keyof IssueFields> = { title: "title", body: "body" };

/** Fields named by the payload's `changes` (title, body) plus the one the action implies; sorted. */
export function changedFieldsOf(action: IssueAction, changes: Record<string, unknown> | null | undefined): string[] {
  const fields = new Set<string>();
  for (const key of Object.keys(changes ?? {})) {
    const field = CHANGE_FIELDS[key];
    if (field) fields.add(field);
  }
  const implied = ACTION_FIELDS[action];
  if (implied) fields.add(implied);
  return [...fields].sort();
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
    url: pr.html_url ?? null,
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
