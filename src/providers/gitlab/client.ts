/**
 * GitLab REST v4 adapter.
 * Quirks: issues are addressed by `iid`; the project by numeric id or URL-encoded full path;
 * writes take `description`, comma-joined `labels`, `assignee_ids` (user ids, not names),
 * `milestone_id` and `state_event`; nothing is ever deleted visibly except by a 404; a moved issue
 * stays readable, closed, with `moved_to_id` set.
 */
import { z } from "zod";
import { canonicalIssue } from "../canonical";
import { exactPath, parseLinkHeader, underPath, type TrackerHttpDialect } from "../http";
import { GitLabNotes } from "./comments";
import { announceHead, countHeader, firstAcceptedCreatedSince, issuePage, issueParsers, lookupAfterNotFound, pullRequestPageHead, unreadableIssue } from "../issue-responses";
import { RestTracker } from "../rest-tracker";
import { toUtcIso } from "../timestamps";
import {
  MissingMilestoneError,
  type CanonicalPullRequest,
  type ClosingIssueRef,
  type PullRequestPage,
  TrackerError,
  type CanonicalComment,
  type CanonicalIssue,
  type CommentPage,
  type IssueFields,
  type IssueLookup,
  type IssuePage,
  type IssueState,
  type ListFilter,
  type ListPageRequest,
  type RepositoryLookup,
  type TrackerConfig,
} from "../types";

export const gitlabHttp: TrackerHttpDialect = {
  authHeaders: (token) => ({ "PRIVATE-TOKEN": token }),
  // GitLab's limits answer 429; a 403 is always a permission error.
  forbiddenMayBeRateLimit: false,
};

/**
 * GitLab's `labels` write parameter is comma-separated, and its array form is split on commas too
 * (API::Validations::Types::CommaSeparatedToArray): a name with a comma would become two labels.
 */
export function gitlabLabelNameProblem(name: string): string | null {
  return name.includes(",") ? "GitLab cannot set a label whose name contains a comma (it would become two labels)" : null;
}

/** The `labels` parameter; refuses, rather than splits, a name with a comma. */
function labelsParam(labels: readonly string[]): string {
  const bad = labels.find((name) => gitlabLabelNameProblem(name) !== null);
  if (bad !== undefined) throw new TrackerError(`gitlab label ${JSON.stringify(bad)}: ${gitlabLabelNameProblem(bad)}`, null, false);
  return labels.join(",");
}

const userRef = z.object({ id: z.number(), username: z.string() });

const gitlabIssue = z.object({
  id: z.number(),
  iid: z.number(),
  title: z.string(),
  description: z.string().nullish(),
  state: z.string(),
  web_url: z.string(),
  labels: z.array(z.union([z.string(), z.object({ name: z.string() })])).optional(),
  assignees: z.array(z.object({ username: z.string(), id: z.number().nullish() })).nullish(),
  assignee: z.object({ username: z.string(), id: z.number().nullish() }).nullish(),
  milestone: z.object({ title: z.string() }).nullish(),
  created_at: z.string(),
  updated_at: z.string(),
  closed_at: z.string().nullish(),
  moved_to_id: z.number().nullish(),
  issue_type: z.string().optional(),
  type: z.string().optional(),
});
type GitLabIssue = z.infer<typeof gitlabIssue>;
const { parseIssue, parseList } = issueParsers(gitlabIssue, "gitlab");

const milestoneRef = z.object({ id: z.number(), title: z.string() });
const projectRef = z.object({ id: z.number(), path_with_namespace: z.string() });
const tokenSelf = z.object({ expires_at: z.string().nullish() });
const closesIssue = z.object({ iid: z.number(), project_id: z.number(), web_url: z.string() });
const listedMergeRequest = z.object({
  id: z.number(),
  iid: z.number(),
  title: z.string(),
  description: z.string().nullish(),
  web_url: z.string(),
  state: z.string(),
  draft: z.boolean().nullish(),
  work_in_progress: z.boolean().nullish(),
  source_branch: z.string().nullish(),
  target_branch: z.string().nullish(),
  updated_at: z.string(),
  merged_at: z.string().nullish(),
  closed_at: z.string().nullish(),
  author: z.object({ username: z.string() }).nullish(),
});

export class GitLabTracker extends RestTracker {
  readonly provider = "gitlab" as const;
  readonly pageSize = 100;
  readonly orderedByUpdate = true;
  private readonly projectPath: string;
  private username: string | null = null;
  private readonly userIds = new Map<string, number>();
  private readonly milestoneIds = new Map<string, number>();

  /** GitLab: `Note::MAX_NOTE_LENGTH` (1,000,000 characters). */
  readonly maxCommentLength = 1_000_000;
  readonly repositoryWideComments = false;
  readonly commentsOrderedByUpdate = true;
  private readonly notes: GitLabNotes;

  constructor(config: TrackerConfig) {
    super(config, gitlabHttp);
    // Numeric ids pass through; "group/sub/project" becomes "group%2Fsub%2Fproject".
    this.projectPath = `/projects/${encodeURIComponent(config.repository)}`;
    // The token goes to this project's paths, `/user` (own username) and `/users` (username → id).
    // `/personal_access_tokens/self`: the token's own expiry, shown in credential health.
    this.http.restrictPaths([
      underPath(this.projectPath),
      exactPath("/user"),
      exactPath("/users"),
      exactPath("/personal_access_tokens/self"),
      // One user's profile (`/users/:id`), only while `publicEmail` reads it.
      (path) => this.profilePath !== null && path === this.profilePath,
    ]);
    this.notes = new GitLabNotes(this.http, this.projectPath, this.pageSize, () => this.currentUsername());
  }

  /**
   * Merge requests changed since an instant, oldest change first (doc/api/merge_requests.md "List
   * project merge requests": `updated_after` is "on or after", `order_by=updated_at`, `sort=asc`;
   * offset pages with `Link` / `x-next-page`, `X-Total` omitted past 10,000). The listing names no
   * default branch: automation waits for the Merge Request Hook.
   */
  async listPullRequestsPage(request: ListPageRequest): Promise<PullRequestPage> {
    const url =
      request.url ??
      this.http.url(`${this.projectPath}/merge_requests`, {
        state: "all",
        order_by: "updated_at",
        sort: "asc",
        updated_after: request.since ? toUtcIso(request.since) : null,
        per_page: this.pageSize,
      });
    const res = await this.http.request("GET", url);
    const links = { nextUrl: nextPageUrl(url, res.headers), total: countHeader(res.headers, "x-total") };
    announceHead(request, res.body, res.headers, links);
    const items = Array.isArray(res.body) ? (res.body as unknown[]) : [];
    const pullRequests = items.flatMap((item) => {
      const parsed = listedMergeRequest.safeParse(item);
      if (!parsed.success) return [];
      const m = parsed.data;
      const draft = m.draft === true || m.work_in_progress === true;
      const state = m.state === "merged" ? "merged" : m.state === "closed" || m.state === "locked" ? "closed" : draft ? "draft" : "open";
      return [
        {
          externalId: String(m.id),
          number: m.iid,
          title: m.title,
          body: m.description ?? "",
          url: m.web_url,
          author: m.author?.username ?? null,
          state,
          baseRef: m.target_branch ?? null,
          headRef: m.source_branch ?? null,
          mergedAt: m.merged_at ? toUtcIso(m.merged_at) : null,
          closedAt: m.closed_at ? toUtcIso(m.closed_at) : null,
          updatedAt: toUtcIso(m.updated_at),
          defaultBranch: null,
        } satisfies CanonicalPullRequest,
      ];
    });
    return { ...pullRequestPageHead(items, res.headers, links), pullRequests };
  }

  /**
   * GitLab's own closing references: `GET /projects/:id/merge_requests/:iid/closes_issues` (the
   * issues the MR closes on merge, by the project's closing pattern). Another project's issue is
   * named by the path in its `web_url`.
   */
  async closingIssues(number: number): Promise<ClosingIssueRef[] | null> {
    const items = await this.http.getAllPages(this.http.url(`${this.projectPath}/merge_requests/${number}/closes_issues`, { per_page: 100 }));
    const parsed = z.array(closesIssue).safeParse(items);
    if (!parsed.success) return null;
    return parsed.data.map((i) => {
      const path = /^https?:\/\/[^/]+\/(.+?)\/(?:-\/)?issues\/\d+$/.exec(i.web_url)?.[1] ?? null;
      const own = this.repository.toLowerCase();
      return { repository: path === null || path.toLowerCase() === own || String(i.project_id) === this.repository ? null : path, number: i.iid };
    });
  }

  listCommentsPage(): Promise<CommentPage> {
    return Promise.reject(new TrackerError("gitlab has no repository-wide note listing", null, false));
  }

  listIssueCommentsPage(issueNumber: number, request: ListPageRequest): Promise<CommentPage | null> {
    return this.notes.listPage(issueNumber, request);
  }

  getComment(issueNumber: number, externalId: string): Promise<CanonicalComment | null> {
    return this.notes.get(issueNumber, externalId);
  }

  createComment(issueNumber: number, body: string, options: { internal?: boolean } = {}): Promise<CanonicalComment> {
    return this.notes.create(issueNumber, body, options.internal === true);
  }

  updateComment(issueNumber: number, externalId: string, body: string): Promise<CanonicalComment> {
    return this.notes.edit(issueNumber, externalId, body);
  }

  deleteComment(issueNumber: number, externalId: string): Promise<"deleted" | "gone"> {
    return this.notes.remove(issueNumber, externalId);
  }

  findOwnComments(issueNumber: number, since: string): Promise<CanonicalComment[]> {
    return this.notes.findOwn(issueNumber, since);
  }

  /** `GET /personal_access_tokens/self` → `expires_at` (a date); 404 for tokens that are not personal/project/group tokens. */
  async credentialExpiresAt(): Promise<string | null> {
    const res = await this.http.request("GET", this.http.url("/personal_access_tokens/self"), { accept: [403, 404] });
    if (res.status !== 200) return null;
    const parsed = tokenSelf.safeParse(res.body);
    return parsed.success ? (parsed.data.expires_at ?? null) : null;
  }

  async listPage(request: ListPageRequest): Promise<IssuePage> {
    const url =
      request.url ??
      this.http.url(`${this.projectPath}/issues`, {
        updated_after: request.since ? toUtcIso(request.since) : null,
        order_by: "updated_at",
        sort: "asc",
        issue_type: "issue",
        per_page: this.pageSize,
        ...listFilterParams(request.filter),
      });
    const res = await this.http.request("GET", url);
    // GitLab counts the listing in `X-Total`, and omits it past 10,000 results (then: unknown).
    const links = { nextUrl: nextPageUrl(url, res.headers), total: countHeader(res.headers, "x-total") };
    announceHead(request, res.body, res.headers, links);
    const raw = parseList(res.body);
    return issuePage(raw, raw.filter(isPlainIssue).map(toCanonical), res.headers, links);
  }

  async getIssue(number: number): Promise<IssueLookup> {
    const res = await this.http.request("GET", this.http.url(`${this.projectPath}/issues/${number}`), {
      accept: [403, 404],
    });
    // GitLab answers 404 for a deleted issue and for a project the token can no longer read.
    if (res.status === 404) return lookupAfterNotFound(await this.getRepository());
    const unreadable = unreadableIssue(res.status);
    if (unreadable) return unreadable;
    const issue = parseIssue(res.body);
    // The old issue stays readable after a move; only the new one's global id is given, and
    // GET /issues/:id is admin-only, so where it went is not something we can name.
    if (issue.moved_to_id) return { status: "moved", movedTo: null };
    return { status: "found", issue: toCanonical(issue) };
  }

  async createIssue(fields: Omit<IssueFields, "state"> & { state?: IssueState }): Promise<CanonicalIssue> {
    const body: Record<string, unknown> = {
      title: fields.title,
      description: fields.body,
      labels: labelsParam(fields.labels),
      assignee_ids: await this.userIdsOf(fields.assignees),
    };
    if (fields.milestone !== null) body.milestone_id = await this.milestoneId(fields.milestone);
    const res = await this.http.request("POST", this.http.url(`${this.projectPath}/issues`), { json: body });
    const created = toCanonical(parseIssue(res.body));
    if (fields.state === "closed") return this.updateIssue(created.number, { state: "closed" });
    return created;
  }

  async updateIssue(number: number, patch: Partial<IssueFields>): Promise<CanonicalIssue> {
    const body: Record<string, unknown> = {};
    if (patch.title !== undefined) body.title = patch.title;
    if (patch.body !== undefined) body.description = patch.body;
    if (patch.state !== undefined) body.state_event = patch.state === "closed" ? "close" : "reopen";
    // `labels` replaces the set; an empty string clears it.
    if (patch.labels !== undefined) body.labels = labelsParam(patch.labels);
    if (patch.assignees !== undefined) body.assignee_ids = await this.userIdsOf(patch.assignees);
    if (patch.milestone !== undefined) {
      body.milestone_id = patch.milestone === null ? null : await this.milestoneId(patch.milestone);
    }
    const res = await this.http.request("PUT", this.http.url(`${this.projectPath}/issues/${number}`), { json: body });
    return toCanonical(parseIssue(res.body));
  }

  async findCreatedIssue(
    title: string,
    since: string,
    accept?: (issue: CanonicalIssue) => boolean | Promise<boolean>,
  ): Promise<CanonicalIssue | null> {
    const author = await this.currentUsername();
    const items = await this.http.getAllPages(
      this.http.url(`${this.projectPath}/issues`, {
        author_username: author,
        created_after: toUtcIso(since),
        order_by: "created_at",
        sort: "asc",
        issue_type: "issue",
        per_page: this.pageSize,
      }),
    );
    return firstAcceptedCreatedSince(items, parseIssue, toCanonical, title, since, () => false, accept);
  }

  async currentUser(): Promise<string> {
    return this.currentUsername();
  }

  /** `GET /projects/:id`: a renamed project is still found by its old path; 404 means no access. */
  protected async readRepository(): Promise<RepositoryLookup> {
    const res = await this.http.request("GET", this.http.url(this.projectPath), { accept: [404] });
    if (res.status === 404) return { status: "not_found" };
    const project = projectRef.safeParse(res.body);
    if (!project.success) throw new TrackerError("gitlab project answer has no id and path_with_namespace", res.status, false);
    return { status: "found", id: String(project.data.id), fullName: project.data.path_with_namespace };
  }

  private async currentUsername(): Promise<string> {
    if (this.username === null) {
      const me = userRef.safeParse(await this.http.getJson(this.http.url("/user")));
      if (!me.success) throw new TrackerError("gitlab GET /user answered without a username", null, false);
      this.username = me.data.username;
    }
    return this.username;
  }

  private profilePath: string | null = null;

  /** The user's `public_email` (doc/api/users.md "Get a single user"; empty unless the user set one). */
  async publicEmail(login: string): Promise<string | null> {
    let id: number;
    try {
      id = (await this.userIdsOf([login]))[0]!;
    } catch (err) {
      if (err instanceof TrackerError && err.status === null) return null; // no such user
      throw err;
    }
    this.profilePath = `/users/${id}`;
    try {
      const res = await this.http.request("GET", this.http.url(this.profilePath), { accept: [404] });
      if (res.status !== 200) return null;
      const parsed = z.object({ public_email: z.string().nullish() }).safeParse(res.body);
      return parsed.success && parsed.data.public_email ? parsed.data.public_email : null;
    } finally {
      this.profilePath = null;
    }
  }

  /** GitLab assigns by user id: each username is looked up once per adapter. */
  private async userIdsOf(usernames: readonly string[]): Promise<number[]> {
    const ids: number[] = [];
    for (const username of usernames) {
      let id = this.userIds.get(username);
      if (id === undefined) {
        const found = z
          .array(userRef)
          .safeParse(await this.http.getJson(this.http.url("/users", { username })));
        id = found.success ? found.data.find((u) => u.username.toLowerCase() === username.toLowerCase())?.id : undefined;
        if (id === undefined) throw new TrackerError(`gitlab user ${JSON.stringify(username)} does not exist`, null, false);
        this.userIds.set(username, id);
      }
      ids.push(id);
    }
    return ids;
  }

  /** Project labels and those of its ancestor groups (`include_ancestor_groups` defaults to true). */
  async listLabelNames(): Promise<Set<string>> {
    const items = await this.http.getAllPages(this.http.url(`${this.projectPath}/labels`, { include_ancestor_groups: true, per_page: 100 }));
    return new Set(items.flatMap((item) => {
      const parsed = z.object({ name: z.string() }).safeParse(item);
      return parsed.success ? [parsed.data.name] : [];
    }));
  }

  /** `POST /projects/:id/milestones` (`title` required). */
  async createMilestone(title: string): Promise<void> {
    await this.http.request("POST", this.http.url(`${this.projectPath}/milestones`), { json: { title } });
    // Forget a cached miss: the next lookup reads the new milestone's id.
    this.milestoneIds.clear();
  }

  private async milestoneId(title: string): Promise<number> {
    let id = this.milestoneIds.get(title);
    if (id === undefined) {
      const items = await this.http.getAllPages(
        this.http.url(`${this.projectPath}/milestones`, { title, include_ancestors: true, per_page: 100 }),
      );
      for (const item of items) {
        const m = milestoneRef.safeParse(item);
        if (m.success && m.data.title === title) id = m.data.id;
      }
      if (id === undefined) {
        throw new MissingMilestoneError(title, `gitlab milestone ${JSON.stringify(title)} does not exist in ${this.repository}`);
      }
      this.milestoneIds.set(title, id);
    }
    return id;
  }
}

/** `Link: rel="next"` verbatim; without it, `x-next-page` applied to the current URL. */
function nextPageUrl(current: string, headers: Headers): string | null {
  const next = parseLinkHeader(headers.get("link")).next;
  if (next) return next;
  const page = headers.get("x-next-page")?.trim();
  if (!page) return null;
  const url = new URL(current);
  url.searchParams.set("page", page);
  return url.toString();
}

/** `issue_type=issue` already filters; this guards instances that ignore the parameter. */
function isPlainIssue(issue: GitLabIssue): boolean {
  if (issue.issue_type !== undefined) return issue.issue_type === "issue";
  return issue.type === undefined || issue.type.toUpperCase() === "ISSUE";
}

function toCanonical(issue: GitLabIssue): CanonicalIssue {
  const canonical = canonicalIssue({
    externalId: issue.id,
    number: issue.iid,
    url: issue.web_url,
    title: issue.title,
    body: issue.description,
    state: issue.state,
    labels: (issue.labels ?? []).map((l) => (typeof l === "string" ? l : l.name)),
    assignees: issue.assignees
      ? issue.assignees.map((a) => a.username)
      : issue.assignee
        ? [issue.assignee.username]
        : [],
    assigneeUsers: (issue.assignees ?? (issue.assignee ? [issue.assignee] : [])).map((a) => ({ login: a.username, id: a.id })),
    milestone: issue.milestone?.title,
    createdAt: issue.created_at,
    updatedAt: issue.updated_at,
    closedAt: issue.closed_at,
  });
  // A moved issue stays in the listing (closed, `moved_to_id` set): the sync must see it as gone.
  return issue.moved_to_id ? { ...canonical, movedTo: String(issue.moved_to_id) } : canonical;
}

/**
 * The scope as GitLab list filters (doc/api/issues.md; app/finders/issuables/label_filter.rb):
 * `labels` keeps issues carrying every listed label, `not[labels]` those carrying none of them,
 * `state=opened`, `created_after` (inclusive). Names GitLab would read otherwise are left to the
 * local filter: `None`/`Any` (any case) are keywords, and a comma splits a name in two.
 */
export function listFilterParams(filter: ListFilter | null | undefined): Record<string, string> {
  if (!filter) return {};
  const literal = (name: string) => name !== "" && !name.includes(",") && !["none", "any"].includes(name.toLowerCase());
  const out: Record<string, string> = {};
  // Every required label must be sent, or the filter would keep fewer issues than asked: all or nothing.
  if (filter.labelsAll && filter.labelsAll.length > 0 && filter.labelsAll.every(literal)) out.labels = filter.labelsAll.join(",");
  // Sending only some excluded labels keeps more issues than asked, which the local filter drops.
  const none = (filter.labelsNone ?? []).filter(literal);
  if (none.length > 0) out["not[labels]"] = none.join(",");
  if (filter.openOnly) out.state = "opened";
  if (filter.createdSince) out.created_after = toUtcIso(filter.createdSince);
  return out;
}
