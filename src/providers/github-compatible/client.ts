/**
 * The REST side GitHub and Gitea share: Gitea's API v1 mirrors GitHub's, so the repository name
 * and path, the issue-to-canonical mapping, the current user and `name → id` lookups live here
 * once. Where the two differ (list parameters, label writes, PATCH status) stays in `github/` and
 * `gitea/`.
 */
import { z } from "zod";
import { canonicalIssue } from "../canonical";
import { exactPath, underPath, type PathRule, type TrackerHttp, type TrackerHttpDialect, type TrackerResponse } from "../http";
import { RestTracker } from "../rest-tracker";
import {
  MissingMilestoneError,
  TrackerError,
  type CanonicalComment,
  type CanonicalIssue,
  type CommentPage,
  type ListPageRequest,
  type Provider,
  type RepositoryLookup,
  type TrackerConfig,
} from "../types";
import { GitHubStyleComments } from "./comments";

const user = z.object({ login: z.string(), id: z.number().nullish() });
/** Redirect answers: followed by the client where its path rules allow, else handed back (`manualRedirect`). */
const REDIRECT_STATUSES = [301, 302, 303, 307, 308] as const;

export function isRedirectStatus(status: number): boolean {
  return (REDIRECT_STATUSES as readonly number[]).includes(status);
}

/** Two URLs naming the same path (case-insensitive, as GitHub and Gitea match repository names). */
function samePath(a: string, b: string): boolean {
  return new URL(a).pathname.toLowerCase() === new URL(b).pathname.toLowerCase();
}
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
    assigneeUsers: issue.assignees ?? (issue.assignee ? [issue.assignee] : []),
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
  /** While `readRepository` reads where a rename redirect pointed (`/repos/<owner>/<name>`): that one path. */
  private renamedRepositoryPath: string | null = null;
  private readonly providerName: Provider;
  private login: string | null = null;
  private readonly actorLogin: (() => Promise<string>) | undefined;
  protected readonly comments: GitHubStyleComments;

  constructor(provider: Provider, config: TrackerConfig, dialect: TrackerHttpDialect, extraPaths: readonly PathRule[] = []) {
    super(config, dialect);
    this.providerName = provider;
    this.repoPath = repositoryPath(provider, config.repository);
    this.actorLogin = config.actorLogin;
    this.comments = new GitHubStyleComments(this.http, () => this.repoPath, () => this.currentLogin());
    // The token goes to this repository's paths (under its current name: `repoPath` follows a rename
    // the tracker confirmed) and `/user` (the token's login), nowhere else.
    this.http.restrictPaths([
      (path) => underPath(this.repoPath)(path),
      (path) => this.renamedRepositoryPath !== null && path === this.renamedRepositoryPath,
      exactPath("/user"),
      // One user's public profile, only while `publicEmail` reads it.
      (path) => this.profilePath !== null && path === this.profilePath,
      ...extraPaths,
    ]);
    // A URL off the old name, or by id, is followed once the repository itself confirms it is this one.
    // Only a URL shaped like a repository path is worth the repository read: a tracker's own Link
    // names a repository by id (`/repositories/<id>`); a redirect may also name its new name. Any
    // other path is refused before anything is sent.
    this.http.confirmOwnPath = async (target, via) =>
      mayNameRepository(this.http.baseUrl, target, via) && (await this.getRepository()).status === "found" && this.isOwnRepositoryUrl(target);
  }

  async currentUser(): Promise<string> {
    return this.currentLogin();
  }

  private profilePath: string | null = null;

  /** `GET /users/{login}` → `email`: the profile's public email (GitHub: null unless made public; Gitea: a noreply address when hidden). */
  async publicEmail(login: string): Promise<string | null> {
    this.profilePath = `/users/${encodeURIComponent(login)}`;
    try {
      const res = await this.http.request("GET", this.http.url(this.profilePath), { accept: [404] });
      if (res.status !== 200) return null;
      const parsed = z.object({ email: z.string().nullish() }).safeParse(res.body);
      return parsed.success && parsed.data.email ? parsed.data.email : null;
    } finally {
      this.profilePath = null;
    }
  }

  // ---------- comments: the same endpoints on GitHub and Gitea; only list query parameters differ ----------

  /** Query parameters for per-issue comment listings (page size). */
  protected abstract commentQuery(): Record<string, string | number | null>;

  listIssueCommentsPage(issueNumber: number, request: ListPageRequest): Promise<CommentPage | null> {
    return this.comments.listIssuePage(issueNumber, request, this.commentQuery());
  }

  getComment(issueNumber: number, externalId: string): Promise<CanonicalComment | null> {
    return this.comments.get(issueNumber, externalId);
  }

  createComment(issueNumber: number, body: string): Promise<CanonicalComment> {
    return this.comments.create(issueNumber, body);
  }

  updateComment(issueNumber: number, externalId: string, body: string): Promise<CanonicalComment> {
    return this.comments.edit(issueNumber, externalId, body);
  }

  deleteComment(_issueNumber: number, externalId: string): Promise<"deleted" | "gone"> {
    return this.comments.remove(externalId);
  }

  findOwnComments(issueNumber: number, since: string): Promise<CanonicalComment[]> {
    return this.comments.findOwn(issueNumber, since, this.commentQuery());
  }

  /**
   * A renamed repository answers under its old name with a redirect: GitHub 301 to
   * `/repositories/<id>` (followed by the client, within its path rules), Gitea 307 to the new
   * `/repos/<owner>/<name>` (handed back, and read here: only that repository object). The body has
   * the id and the current `full_name`; 404 means we cannot see it.
   */
  protected async readRepository(): Promise<RepositoryLookup> {
    const requested = this.http.url(this.repoPath);
    let res = await this.http.request("GET", requested, { accept: [404, ...REDIRECT_STATUSES], manualRedirect: true });
    if (isRedirectStatus(res.status)) {
      const location = res.headers.get("location");
      const renamed = location === null ? null : this.repositoryObjectPath(new URL(location, res.url));
      if (renamed === null) {
        throw new TrackerError(`${this.providerName} GET ${this.repoPath} answered ${res.status} to somewhere that is not a repository on this host`, res.status, false);
      }
      this.renamedRepositoryPath = renamed;
      try {
        res = await this.http.request("GET", this.http.url(renamed), { accept: [404] });
      } finally {
        this.renamedRepositoryPath = null;
      }
    }
    if (res.status === 404) return { status: "not_found" };
    const repo = repositoryRef.safeParse(res.body);
    if (!repo.success) throw new TrackerError(`${this.providerName} repository answer has no id and full_name`, res.status, false);
    const newPath = repositoryPath(this.providerName, repo.data.full_name);
    if (newPath.toLowerCase() !== this.repoPath.toLowerCase()) this.repoPath = newPath;
    return { status: "found", id: String(repo.data.id), fullName: repo.data.full_name };
  }

  /**
   * One issue's GET. A redirect never means "moved" by itself: the client follows those its path
   * rules allow (GitHub's rename answers under `/repositories/<id>/…`), and one it hands back is
   * followed here when it stays in this repository under its new name (Gitea's rename answer).
   * Moved is only an answer from, or a redirect to, another repository (a transfer) or host.
   */
  protected async getIssueAnswer(number: number, accept: readonly number[]): Promise<TrackerResponse | { movedTo: string | null }> {
    const options = { accept: [...REDIRECT_STATUSES, ...accept], manualRedirect: true };
    let res = await this.http.request("GET", this.http.url(`${this.repoPath}/issues/${number}`), options);
    if (isRedirectStatus(res.status)) {
      const location = res.headers.get("location");
      const target = location === null ? null : new URL(location, res.url);
      if (target === null || !(await this.isOwnRepositoryUrl(target))) return { movedTo: location };
      res = await this.http.request("GET", target.toString(), options);
      if (isRedirectStatus(res.status)) return { movedTo: res.headers.get("location") };
    }
    // Followed by the client into another repository (GitHub: a transfer to `/repositories/<other id>/…`).
    if (!samePath(res.url, this.http.url(`${this.repoPath}/issues/${number}`)) && !(await this.isOwnRepositoryUrl(new URL(res.url)))) {
      return { movedTo: res.url };
    }
    return res;
  }

  /**
   * Whether a redirect target is still inside this repository (renamed: by its id path or its new
   * name), read from the repository itself. Anything else — another repository or host — is not.
   */
  protected async isOwnRepositoryUrl(target: URL): Promise<boolean> {
    if (target.origin !== new URL(this.http.baseUrl).origin) return false;
    const repo = this.repositoryObserved?.status === "found" ? this.repositoryObserved : await this.getRepository();
    if (repo.status !== "found") return false;
    const base = new URL(this.http.baseUrl).pathname.replace(/\/+$/, "");
    const path = decodeURIComponent(target.pathname).toLowerCase();
    const own = [`${base}/repositories/${repo.id}/`, `${base}/repos/${repo.fullName}/`.toLowerCase()];
    return own.some((prefix) => path.startsWith(prefix));
  }

  /** `/repos/<owner>/<name>` below the API base when `target` is exactly a repository on this host; else null. */
  private repositoryObjectPath(target: URL): string | null {
    const base = new URL(this.http.baseUrl);
    const basePath = base.pathname.replace(/\/+$/, "");
    if (target.origin !== base.origin || !target.pathname.startsWith(`${basePath}/`)) return null;
    const below = target.pathname.slice(basePath.length);
    return /^\/repos\/[^/]+\/[^/]+$/.test(below) ? below : null;
  }

  protected async currentLogin(): Promise<string> {
    // An installation token may not read `GET /user`; the App says who it acts as.
    if (this.login === null && this.actorLogin) this.login = await this.actorLogin();
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
  return new MissingMilestoneError(title, `${provider} milestone ${JSON.stringify(title)} does not exist in ${repository}`);
}

/** Whether `target` names a repository by id (or, for a redirect, by an owner/name path) under `baseUrl`. */
function mayNameRepository(baseUrl: string, target: URL, via: "link" | "redirect"): boolean {
  const basePath = new URL(baseUrl).pathname.replace(/\/+$/, "");
  if (!target.pathname.startsWith(`${basePath}/`)) return false;
  const path = target.pathname.slice(basePath.length);
  if (/^\/repositories\/\d+(\/|$)/.test(path)) return true;
  return via === "redirect" && /^\/repos\/[^/]+\/[^/]+(\/|$)/.test(path);
}
