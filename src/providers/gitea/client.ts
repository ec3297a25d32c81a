/**
 * Gitea API v1 adapter.
 * Quirks: the issue list has no sort parameter (every page must be read, `orderedByUpdate` is
 * false) and `since` compares whole Unix seconds; pull requests are in the list unless
 * `type=issues`; at most 50 items a page by default; PATCH answers 201; labels are set by id
 * through their own endpoint; `assignees` is null when nobody is assigned; timestamps carry the
 * server's UTC offset.
 */
import { z } from "zod";
import {
  GitHubCompatibleTracker,
  githubStyleIssue,
  idsByName,
  missingMilestone,
  toCanonical,
} from "../github-compatible/client";
import { canonicalPullRequest } from "../github-compatible/webhooks";
import { parseLinkHeader, underPath, type TrackerHttpDialect } from "../http";
import { announceHead, countHeader, firstAcceptedCreatedSince, issuePage, issueParsers, lookupAfterNotFound, pullRequestPageHead, unreadableIssue } from "../issue-responses";
import { toWholeSecondSince } from "../timestamps";
import {
  TrackerError,
  type CanonicalIssue,
  type CommentPage,
  type IssueFields,
  type IssueLookup,
  type IssuePage,
  type IssueState,
  type ListPageRequest,
  type TrackerConfig,
  type PullRequestPage,
} from "../types";

export const giteaHttp: TrackerHttpDialect = {
  authHeaders: (token) => ({ Authorization: `token ${token}` }),
  // Gitea's own limiter answers 429; a 403 is always a permission error.
  forbiddenMayBeRateLimit: false,
};

/** Labels are always objects; `pull_request` is null on a plain issue. */
export const giteaIssue = githubStyleIssue.extend({ labels: z.array(z.object({ name: z.string() })).nullish() });
const { parseIssue, parseList } = issueParsers(giteaIssue, "gitea");

const namedId = z.object({ id: z.number(), name: z.string() });
const titledId = z.object({ id: z.number(), title: z.string() });

/** Gitea's default `[api] MAX_RESPONSE_ITEMS`. */
const GITEA_PAGE_SIZE = 50;
/** Color for labels this adapter has to create (Gitea, unlike GitHub and GitLab, won't). */
const NEW_LABEL_COLOR = "#ededed";

export class GiteaTracker extends GitHubCompatibleTracker {
  readonly provider = "gitea" as const;
  readonly pageSize = GITEA_PAGE_SIZE;
  readonly orderedByUpdate = false;
  private labelIds: Map<string, number> | null = null;
  private milestoneIds: Map<string, number> | null = null;
  /** Gitea: a TEXT column, no limit of its own. */
  readonly maxCommentLength = Number.MAX_SAFE_INTEGER;
  readonly repositoryWideComments = true;
  // Gitea orders the repository-wide comment listing by creation, not by update.
  readonly commentsOrderedByUpdate = false;

  constructor(config: TrackerConfig) {
    // Organisation labels apply to the organisation's repositories: `/orgs/{owner}/labels` is read too.
    super("gitea", config, giteaHttp, [underPath(`/orgs/${encodeURIComponent(config.repository.split("/")[0] ?? "")}/labels`)]);
    // Every listing Gitea pages with `Link` names its ROOT_URL host: followed on our API base only.
    this.http.rebaseLink = (link) => rebaseOntoApi(link, this.http.baseUrl);
  }

  listCommentsPage(request: ListPageRequest): Promise<CommentPage> {
    return this.comments.listPage(request, { limit: this.pageSize });
  }

  protected commentQuery(): Record<string, string | number | null> {
    return {};
  }

  async listPage(request: ListPageRequest): Promise<IssuePage> {
    const url =
      request.url ??
      this.http.url(`${this.repoPath}/issues`, {
        state: "all",
        type: "issues",
        since: request.since ? toWholeSecondSince(request.since) : null,
        limit: this.pageSize,
      });
    const res = await this.http.request("GET", url);
    const next = parseLinkHeader(res.headers.get("link")).next ?? null;
    // Gitea counts the listing in `X-Total-Count`.
    const links = { nextUrl: next === null ? null : rebaseOntoApi(next, this.http.baseUrl), total: countHeader(res.headers, "x-total-count") };
    announceHead(request, res.body, res.headers, links);
    const raw = parseList(res.body);
    return issuePage(raw, raw.filter((item) => item.pull_request == null).map(toCanonical), res.headers, links);
  }

  /**
   * Pull requests, most recently updated first (`GET /repos/{o}/{r}/pulls?state=all&sort=recentupdate`,
   * `Link` + `X-Total-Count`): there is no `since` filter, so the listing ends at the first page
   * reaching past `since`. Each PR names its base repository's default branch (`base.repo.default_branch`).
   * No early head: whether the listing goes on depends on the items.
   */
  async listPullRequestsPage(request: ListPageRequest): Promise<PullRequestPage> {
    const url = request.url ?? this.http.url(`${this.repoPath}/pulls`, { state: "all", sort: "recentupdate", limit: this.pageSize });
    const res = await this.http.request("GET", url);
    const items = Array.isArray(res.body) ? (res.body as unknown[]) : [];
    const pullRequests = items.flatMap((item) => {
      const parsed = canonicalPullRequest({ pull_request: item, repository: { default_branch: (item as { base?: { repo?: { default_branch?: unknown } } })?.base?.repo?.default_branch } }, "gitea");
      return parsed ? [parsed] : [];
    });
    const since = request.since ?? null;
    const reachedSince = since !== null && pullRequests.some((p) => p.updatedAt !== null && p.updatedAt < since);
    const next = parseLinkHeader(res.headers.get("link")).next ?? null;
    const head = pullRequestPageHead(items, res.headers, {
      nextUrl: reachedSince || next === null ? null : rebaseOntoApi(next, this.http.baseUrl),
      total: countHeader(res.headers, "x-total-count"),
    });
    return { ...head, pullRequests: since === null ? pullRequests : pullRequests.filter((p) => p.updatedAt === null || p.updatedAt >= since) };
  }

  async getIssue(number: number): Promise<IssueLookup> {
    // A renamed repository redirects (307) to its new name: followed there, not "moved".
    const res = await this.getIssueAnswer(number, [403, 404]);
    if ("movedTo" in res) return { status: "moved", movedTo: res.movedTo };
    // Gitea answers 404 for a deleted issue and for a repository the token can no longer read.
    if (res.status === 404) return lookupAfterNotFound(await this.getRepository());
    return unreadableIssue(res.status) ?? { status: "found", issue: toCanonical(parseIssue(res.body)) };
  }

  async createIssue(fields: Omit<IssueFields, "state"> & { state?: IssueState }): Promise<CanonicalIssue> {
    const body: Record<string, unknown> = {
      title: fields.title,
      body: fields.body,
      assignees: fields.assignees,
      labels: await this.labelIdsOf(fields.labels),
      closed: fields.state === "closed",
    };
    if (fields.milestone !== null) body.milestone = await this.milestoneId(fields.milestone);
    const res = await this.http.request("POST", this.http.url(`${this.repoPath}/issues`), { json: body });
    return toCanonical(parseIssue(res.body));
  }

  async updateIssue(number: number, patch: Partial<IssueFields>): Promise<CanonicalIssue> {
    const issuePath = `${this.repoPath}/issues/${number}`;
    if (patch.labels !== undefined) {
      // The edit endpoint has no labels field: the set is replaced through its own endpoint.
      await this.http.request("PUT", this.http.url(`${issuePath}/labels`), {
        json: { labels: await this.labelIdsOf(patch.labels) },
      });
    }
    const body: Record<string, unknown> = {};
    if (patch.title !== undefined) body.title = patch.title;
    if (patch.body !== undefined) body.body = patch.body;
    if (patch.state !== undefined) body.state = patch.state;
    if (patch.assignees !== undefined) body.assignees = patch.assignees;
    // Milestone 0 removes it.
    if (patch.milestone !== undefined) body.milestone = patch.milestone === null ? 0 : await this.milestoneId(patch.milestone);
    if (Object.keys(body).length === 0) {
      return toCanonical(parseIssue(await this.http.getJson(this.http.url(issuePath))));
    }
    // Gitea answers this PATCH with 201 Created.
    const res = await this.http.request("PATCH", this.http.url(issuePath), { json: body });
    return toCanonical(parseIssue(res.body));
  }

  async findCreatedIssue(
    title: string,
    since: string,
    accept?: (issue: CanonicalIssue) => boolean | Promise<boolean>,
  ): Promise<CanonicalIssue | null> {
    const createdBy = await this.currentLogin();
    const floor = toWholeSecondSince(since);
    const items = await this.http.getAllPages(
      this.http.url(`${this.repoPath}/issues`, {
        state: "all",
        type: "issues",
        created_by: createdBy,
        since: floor,
        limit: this.pageSize,
      }),
    );
    return firstAcceptedCreatedSince(items, parseIssue, toCanonical, title, floor, (i) => i.pull_request != null, accept);
  }

  /**
   * Label names to ids, resolved against repository and organisation labels (`/repos/{o}/{r}/labels`
   * lists repository labels only). A name found in neither is created as a repository label, as
   * GitHub and GitLab do on write; Gitea would create a second label under an existing name, so the
   * lists are read again before any create.
   */
  private async labelIdsOf(names: readonly string[]): Promise<number[]> {
    this.labelIds ??= await this.listLabelIds();
    if (names.some((name) => !this.labelIds!.has(name))) this.labelIds = await this.listLabelIds();
    const ids: number[] = [];
    for (const name of names) {
      let id = this.labelIds.get(name);
      if (id === undefined) {
        const res = await this.http.request("POST", this.http.url(`${this.repoPath}/labels`), {
          json: { name, color: NEW_LABEL_COLOR },
        });
        const created = namedId.safeParse(res.body);
        if (!created.success) throw new TrackerError(`gitea did not return the created label`, res.status, false);
        id = created.data.id;
        this.labelIds.set(name, id);
      }
      ids.push(id);
    }
    return ids;
  }

  /** Repository labels win over organisation labels of the same name (the more specific one). */
  private async listLabelIds(): Promise<Map<string, number>> {
    const repoLabels = await idsByName(
      this.http,
      this.http.url(`${this.repoPath}/labels`, { limit: this.pageSize }),
      namedId,
      (label) => [label.name, label.id],
    );
    const ids = await this.orgLabelIds();
    for (const [name, id] of repoLabels) ids.set(name, id);
    return ids;
  }

  /** Organisation labels; a user-owned repository has none (`/orgs/{owner}/labels` answers 404). */
  private async orgLabelIds(): Promise<Map<string, number>> {
    const owner = this.repository.split("/")[0]!;
    const url = this.http.url(`/orgs/${encodeURIComponent(owner)}/labels`, { limit: this.pageSize });
    const first = await this.http.request("GET", url, { accept: [404] });
    const ids = new Map<string, number>();
    if (first.status === 404) return ids;
    const items: unknown[] = Array.isArray(first.body) ? [...(first.body as unknown[])] : [];
    const next = parseLinkHeader(first.headers.get("link")).next;
    if (next) items.push(...(await this.http.getAllPages(next)));
    for (const item of items) {
      const parsed = namedId.safeParse(item);
      if (parsed.success) ids.set(parsed.data.name, parsed.data.id);
    }
    return ids;
  }

  /** Repository and organisation labels (the ones `labelIdsOf` resolves names against). */
  async listLabelNames(): Promise<Set<string>> {
    this.labelIds = await this.listLabelIds();
    return new Set(this.labelIds.keys());
  }

  /** `POST /repos/{owner}/{repo}/milestones` (CreateMilestoneOption: `title`). */
  async createMilestone(title: string): Promise<void> {
    await this.http.request("POST", this.http.url(`${this.repoPath}/milestones`), { json: { title } });
    this.milestoneIds = null;
  }

  private async milestoneId(title: string): Promise<number> {
    this.milestoneIds ??= await idsByName(
      this.http,
      this.http.url(`${this.repoPath}/milestones`, { state: "all", limit: this.pageSize }),
      titledId,
      (m) => [m.title, m.id],
    );
    const id = this.milestoneIds.get(title);
    if (id === undefined) throw missingMilestone("gitea", title, this.repository);
    return id;
  }
}

/**
 * Gitea builds `Link` URLs from its `ROOT_URL`, which may name another host than the API base we
 * call (a proxy, an internal address). The path from the API root on, and the query, are re-based
 * onto our API base, so the token only ever goes where the project points; a link whose path has
 * no API root in it is refused.
 */
export function rebaseOntoApi(link: string, apiBaseUrl: string): string {
  const base = new URL(apiBaseUrl);
  const target = new URL(link, base);
  if (target.origin === base.origin) return target.toString();
  const root = base.pathname.replace(/\/+$/, "");
  const at = target.pathname.indexOf(`${root}/`);
  if (at < 0) throw new TrackerError(`gitea next page link is not under the API root ${root || "/"}`, null, false);
  return `${base.origin}${target.pathname.slice(at)}${target.search}`;
}
