/**
 * The REST side GitHub and Gitea share: Gitea's API v1 mirrors GitHub's, so the repository name
 * and path, the issue-to-canonical mapping, the current user and `name → id` lookups live here
 * once. Where the two differ (list parameters, label writes, PATCH status) stays in `github/` and
 * `gitea/`.
 */
import { z } from "zod";
import { canonicalIssue } from "../canonical";
import type { TrackerHttp, TrackerHttpDialect } from "../http";
import { getFollowingSameOrigin } from "../redirects";
import { RestTracker } from "../rest-tracker";
import { TrackerError, type CanonicalIssue, type Provider, type RepositoryLookup, type TrackerConfig } from "../types";

const user = z.object({ login: z.string() });
/** `GET /repos/{o}/{r}`: only what identifies it. */
const repositoryRef = z.object({ id: z.number(), full_name: z.string() });

/** What a project's repository must look like on either tracker, checked when it is saved. */
export const OWNER_NAME_PATTERN = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
export const OWNER_NAME_PROBLEM = 'must be "owner/name"';

/** `/repos/<owner>/<name>`, each part encoded; anything but "owner/name" is a config error. */
function repositoryPath(provider: Provider, repository: string): string {
  const [owner, name, ...rest] = repository.split("/");
  if (!owner || !name || rest.length > 0) throw new TrackerError(`${provider} repository ${OWNER_NAME_PROBLEM}`, null, false);
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

/**
 * What a GitHub-shaped adapter class holds beyond `RestTracker`: the repository's API path and
 * the token's login, whose issues are searched when a create's answer was lost (read once).
 */
export abstract class GitHubCompatibleTracker extends RestTracker {
  /** Switches to the repository's new name once a read learns it, so writes stop being redirected. */
  protected repoPath: string;
  private readonly providerName: Provider;
  private login: string | null = null;

  constructor(provider: Provider, config: TrackerConfig, dialect: TrackerHttpDialect) {
    super(config, dialect);
    this.providerName = provider;
    this.repoPath = repositoryPath(provider, config.repository);
  }

  async currentUser(): Promise<string> {
    return this.currentLogin();
  }

  /**
   * A renamed repository answers under its old name with a redirect (GitHub: 301 to
   * `/repositories/<id>`, whose body has the new `full_name`); 404 means we cannot see it.
   */
  protected async readRepository(): Promise<RepositoryLookup> {
    const { res } = await getFollowingSameOrigin(this.http, this.http.url(this.repoPath), [404]);
    if (res.status === 404) return { status: "not_found" };
    const repo = repositoryRef.safeParse(res.body);
    if (!repo.success) throw new TrackerError(`${this.providerName} repository answer has no id and full_name`, res.status, false);
    const newPath = repositoryPath(this.providerName, repo.data.full_name);
    if (newPath.toLowerCase() !== this.repoPath.toLowerCase()) this.repoPath = newPath;
    return { status: "found", id: String(repo.data.id), fullName: repo.data.full_name };
  }

  /**
   * Whether a same-origin redirect target is still inside this repository (renamed: by its id path
   * or its new name), read from the repository itself. Anything else is another repository.
   */
  protected async isOwnRepositoryUrl(target: URL): Promise<boolean> {
    const repo = this.repositoryObserved?.status === "found" ? this.repositoryObserved : await this.getRepository();
    if (repo.status !== "found") return false;
    const base = new URL(this.http.baseUrl).pathname.replace(/\/+$/, "");
    const path = decodeURIComponent(target.pathname).toLowerCase();
    const own = [`${base}/repositories/${repo.id}/`, `${base}/repos/${repo.fullName}/`.toLowerCase()];
    return own.some((prefix) => path.startsWith(prefix));
  }

  protected async currentLogin(): Promise<string> {
    if (this.login === null) {
      const me = user.safeParse(await this.http.getJson(this.http.url("/user")));
      if (!me.success) throw new TrackerError(`${this.http.provider} GET /user answered without a login`, null, false);
      this.login = me.data.login;
    }
    return this.login;
  }
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
