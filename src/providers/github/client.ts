/**
 * GitHub REST adapter.
 * Quirks: the issue list mixes in pull requests (items with a `pull_request` key); `Link` next
 * URLs switch to `/repositories/<id>/issues` and must be followed verbatim; a conditional GET
 * answering 304 costs no rate limit; a transferred issue answers 301, a deleted one 410, and an
 * issue we may not read 404 — indistinguishable from deleted.
 */
import { z } from "zod";
import {
  GitHubCompatibleTracker,
  githubStyleIssue,
  idsByName,
  missingMilestone,
  toCanonical,
} from "../github-compatible/client";
import { CLOSE_REASONS, type CloseReason, type IssuePatch } from "../types";
import { parseLinkHeader, type TrackerHttpDialect } from "../http";
import { announceHead, firstAcceptedCreatedSince, issuePage, issueParsers, lookupAfterNotFound, serverTimeOf, unreadableIssue } from "../issue-responses";
import { toUtcIso, toWholeSecondSince } from "../timestamps";
import type {
  CanonicalIssue,
  CanonicalPullRequest,
  ClosingIssueRef,
  CommentPage,
  IssueFields,
  IssueLookup,
  IssuePage,
  IssueState,
  ListPageRequest,
  TrackerConfig,
} from "../types";

const CLOSING_QUERY =
  "query($owner:String!,$name:String!,$number:Int!){repository(owner:$owner,name:$name){pullRequest(number:$number){closingIssuesReferences(first:50){nodes{number repository{nameWithOwner}}}}}}";

const closingAnswer = z.object({
  data: z
    .object({
      repository: z
        .object({
          pullRequest: z
            .object({
              closingIssuesReferences: z.object({ nodes: z.array(z.object({ number: z.number(), repository: z.object({ nameWithOwner: z.string() }) })) }).nullish(),
            })
            .nullish(),
        })
        .nullish(),
    })
    .nullish(),
});

/** One aliased `pullRequest` per number (integers, so inlined); GitHub answers each alias or null. */
const closingQueryOfMany = (numbers: readonly number[]) =>
  `query($owner:String!,$name:String!){repository(owner:$owner,name:$name){${numbers
    .map((n) => `pr${n}:pullRequest(number:${n}){closingIssuesReferences(first:50){nodes{number repository{nameWithOwner}}}}`)
    .join(" ")}}}`;

const closingNodes = z.object({ closingIssuesReferences: z.object({ nodes: z.array(z.object({ number: z.number(), repository: z.object({ nameWithOwner: z.string() }) })) }).nullish() });
const closingAnswerOfMany = z.object({ data: z.object({ repository: z.record(z.string(), closingNodes.nullish()).nullish() }).nullish() });

/** GitHub.com answers GraphQL at `/graphql` beside its REST root; GitHub Enterprise at `/api/graphql` beside `/api/v3`. */
function graphqlUrlOf(baseUrl: string): string {
  const url = new URL(baseUrl);
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.origin}${path.endsWith("/api/v3") ? `${path.slice(0, -"/v3".length)}/graphql` : `${path}/graphql`}`;
}

export const githubHttp: TrackerHttpDialect = {
  authHeaders: (token) => ({
    Authorization: `Bearer ${token}`,
    Accept: "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
  }),
  // Secondary and primary limits may answer 403; `rateLimitRetryAt` tells them from permissions.
  forbiddenMayBeRateLimit: true,
};

export const githubIssue = githubStyleIssue.extend({
  state: z.enum(["open", "closed"]),
  // docs.github.com REST "Issues": `state_reason` is completed, not_planned, duplicate, reopened or null.
  state_reason: z.string().nullish(),
  labels: z.array(z.union([z.string(), z.object({ name: z.string() })])).optional(),
  // A `pull_request` key, whatever its value, marks a pull request in the issue list.
  pull_request: z.unknown().optional(),
});
const { parseIssue, parseList } = issueParsers(githubIssue, "github");

/** A GitHub issue (API answer or webhook payload) with its `state_reason` as `closeReason`. */
export function githubCanonical(issue: z.infer<typeof githubIssue>): CanonicalIssue {
  const reason = issue.state_reason;
  // Absent (a trimmed webhook issue): unknown, the stored reason is kept. A reason GitHub adds later
  // is not ours to guess at: unknown values read as "no reason".
  if (reason === undefined) return toCanonical(issue);
  const closeReason = (CLOSE_REASONS as readonly string[]).includes(reason ?? "") ? (reason as CloseReason) : null;
  return { ...toCanonical(issue), closeReason };
}

/**
 * The `state_reason` to send with a state change, when it fits the new state (GitHub ignores it
 * unless `state` changes; `reopened` only goes with `open`).
 */
function stateReasonFor(state: IssueState | undefined, reason: CloseReason | null | undefined): CloseReason | undefined {
  if (state === undefined || reason === undefined || reason === null) return undefined;
  return (state === "open") === (reason === "reopened") ? reason : undefined;
}

const milestoneRef = z.object({ number: z.number(), title: z.string() });
const namedLabel = z.object({ name: z.string() });

/** A pull request as the issue list shows it: `pull_request.merged_at`, `draft`, no refs. */
const issueListPull = z.object({
  id: z.number(),
  number: z.number(),
  title: z.string(),
  body: z.string().nullish(),
  html_url: z.string(),
  state: z.string(),
  draft: z.boolean().nullish(),
  user: z.object({ login: z.string() }).nullish(),
  updated_at: z.string(),
  closed_at: z.string().nullish(),
  pull_request: z.object({ merged_at: z.string().nullish() }),
});

function pullRequestOfIssueItem(item: unknown): CanonicalPullRequest | null {
  const parsed = issueListPull.safeParse(item);
  if (!parsed.success) return null;
  const p = parsed.data;
  const mergedAt = p.pull_request.merged_at ? toUtcIso(p.pull_request.merged_at) : null;
  return {
    externalId: String(p.id),
    number: p.number,
    title: p.title,
    body: p.body ?? "",
    url: p.html_url,
    author: p.user?.login ?? null,
    state: mergedAt ? "merged" : p.state === "closed" ? "closed" : p.draft ? "draft" : "open",
    baseRef: null,
    headRef: null,
    mergedAt,
    closedAt: p.closed_at ? toUtcIso(p.closed_at) : null,
    updatedAt: toUtcIso(p.updated_at),
    defaultBranch: null,
  };
}

export class GitHubTracker extends GitHubCompatibleTracker {
  readonly provider = "github" as const;
  readonly pageSize = 100;
  readonly orderedByUpdate = true;
  /** GitHub: "body is too long (maximum is 65536 characters)". */
  readonly maxCommentLength = 65_536;
  readonly repositoryWideComments = true;
  readonly commentsOrderedByUpdate = true;
  private milestones: Map<string, number> | null = null;

  constructor(config: TrackerConfig) {
    // `Link` next URLs, and the redirects a renamed repository answers, use `/repositories/<id>/…`.
    // The repository object itself too: a renamed repository's `GET /repos/{o}/{r}` redirects to `/repositories/<id>`.
    // Below it, only this repository's id (stored, or read from the tracker when first needed): a
    // Link or redirect naming another id never gets the token for issue or comment calls.
    super("github", config, githubHttp, [
      (path) => {
        const m = /^\/repositories\/(\d+)(\/(issues|milestones|labels)(\/.*)?)?$/.exec(path);
        if (!m) return false;
        const own = this.repositoryObserved?.status === "found" ? this.repositoryObserved.id : (config.repositoryId ?? null);
        return m[2] === undefined || m[1] === own;
      },
    ]);
    this.graphqlUrl = graphqlUrlOf(this.http.baseUrl);
    this.http.allowAbsolutePath(new URL(this.graphqlUrl).pathname);
  }

  private readonly graphqlUrl: string;

  /**
   * GitHub's own closing references (GraphQL `PullRequest.closingIssuesReferences`: keywords it
   * parsed on a default-branch PR plus issues linked in the sidebar). One call per changed PR.
   */
  async closingIssues(number: number): Promise<ClosingIssueRef[] | null> {
    const [owner, name] = this.repoPath.replace(/^\/repos\//, "").split("/").map(decodeURIComponent);
    const res = await this.http.request("POST", this.graphqlUrl, { json: { query: CLOSING_QUERY, variables: { owner, name, number } } });
    const parsed = closingAnswer.safeParse(res.body);
    const nodes = parsed.success ? parsed.data.data?.repository?.pullRequest?.closingIssuesReferences?.nodes : null;
    if (!nodes) return null;
    const own = `${owner}/${name}`.toLowerCase();
    return nodes.map((n) => ({ repository: n.repository.nameWithOwner.toLowerCase() === own ? null : n.repository.nameWithOwner, number: n.number }));
  }

  /**
   * `closingIssues` for a listing page's PRs in one GraphQL request (aliases `pr<N>`; GraphQL
   * answers a PR it cannot resolve as null with an error beside the data, the others still answered).
   */
  async closingIssuesOfMany(numbers: readonly number[]): Promise<Map<number, ClosingIssueRef[]>> {
    const answers = new Map<number, ClosingIssueRef[]>();
    const wanted = [...new Set(numbers)].filter((n) => Number.isSafeInteger(n) && n > 0);
    if (wanted.length === 0) return answers;
    const [owner, name] = this.repoPath.replace(/^\/repos\//, "").split("/").map(decodeURIComponent);
    const own = `${owner}/${name}`.toLowerCase();
    // A listing page holds at most 100; larger asks are split (100 × first:50 stays far under GraphQL's node limit).
    for (let i = 0; i < wanted.length; i += 100) {
      const chunk = wanted.slice(i, i + 100);
      const res = await this.http.request("POST", this.graphqlUrl, { json: { query: closingQueryOfMany(chunk), variables: { owner, name } } });
      const parsed = closingAnswerOfMany.safeParse(res.body);
      const repository = parsed.success ? parsed.data.data?.repository : null;
      for (const n of repository ? chunk : []) {
        const nodes = repository?.[`pr${n}`]?.closingIssuesReferences?.nodes;
        if (nodes) answers.set(n, nodes.map((node) => ({ repository: node.repository.nameWithOwner.toLowerCase() === own ? null : node.repository.nameWithOwner, number: node.number })));
      }
    }
    return answers;
  }

  listCommentsPage(request: ListPageRequest): Promise<CommentPage> {
    return this.comments.listPage(request, { sort: "updated", direction: "asc", per_page: this.pageSize });
  }

  protected commentQuery(): Record<string, string | number | null> {
    return { per_page: this.pageSize };
  }

  async listPage(request: ListPageRequest): Promise<IssuePage> {
    const url =
      request.url ??
      this.http.url(`${this.repoPath}/issues`, {
        state: "all",
        sort: "updated",
        direction: "asc",
        since: request.since ? toWholeSecondSince(request.since) : null,
        per_page: this.pageSize,
      });
    const res = await this.http.request("GET", url, {
      headers: request.etag ? { "If-None-Match": request.etag } : {},
    });
    const serverTime = serverTimeOf(res.headers);
    if (res.status === 304) {
      return { issues: [], nextUrl: null, etag: request.etag ?? null, notModified: true, serverTime, lastUpdatedAt: null, rawCount: 0 };
    }
    const links = { nextUrl: parseLinkHeader(res.headers.get("link")).next ?? null, etag: res.headers.get("etag") };
    announceHead(request, res.body, res.headers, links);
    const raw = parseList(res.body);
    const page = issuePage(raw, raw.filter((item) => item.pull_request === undefined).map(githubCanonical), res.headers, links);
    // The pull requests among the items are kept for development links (no refs in this listing).
    const items = Array.isArray(res.body) ? (res.body as unknown[]) : [];
    return { ...page, pullRequests: items.flatMap((item) => pullRequestOfIssueItem(item) ?? []) };
  }

  async getIssue(number: number): Promise<IssueLookup> {
    // A renamed repository redirects (301) to the same issue under its id: followed, not "moved".
    // Only an answer from, or a redirect to, another repository (a transfer) or host is a move.
    const res = await this.getIssueAnswer(number, [403, 404, 410]);
    if ("movedTo" in res) return { status: "moved", movedTo: res.movedTo };
    // 410 is GitHub's word for deleted; 404 also answers a token that lost access to the repository.
    if (res.status === 404) return lookupAfterNotFound(await this.getRepository());
    return unreadableIssue(res.status) ?? { status: "found", issue: githubCanonical(parseIssue(res.body)) };
  }

  async createIssue(fields: Omit<IssueFields, "state"> & { state?: IssueState; closeReason?: CloseReason | null }): Promise<CanonicalIssue> {
    const body: Record<string, unknown> = {
      title: fields.title,
      body: fields.body,
      labels: fields.labels,
      assignees: fields.assignees,
    };
    if (fields.milestone !== null) body.milestone = await this.milestoneNumber(fields.milestone);
    const res = await this.http.request("POST", this.http.url(`${this.repoPath}/issues`), { json: body });
    const created = githubCanonical(parseIssue(res.body));
    // The create endpoint takes no state: a closed issue is created, then closed.
    if (fields.state === "closed") return this.updateIssue(created.number, { state: "closed", closeReason: fields.closeReason ?? null });
    return created;
  }

  async updateIssue(number: number, patch: IssuePatch): Promise<CanonicalIssue> {
    const body: Record<string, unknown> = {};
    if (patch.title !== undefined) body.title = patch.title;
    if (patch.body !== undefined) body.body = patch.body;
    if (patch.state !== undefined) body.state = patch.state;
    const stateReason = stateReasonFor(patch.state, patch.closeReason);
    if (stateReason !== undefined) body.state_reason = stateReason;
    if (patch.labels !== undefined) body.labels = patch.labels;
    if (patch.assignees !== undefined) body.assignees = patch.assignees;
    if (patch.milestone !== undefined) {
      body.milestone = patch.milestone === null ? null : await this.milestoneNumber(patch.milestone);
    }
    const res = await this.http.request("PATCH", this.http.url(`${this.repoPath}/issues/${number}`), { json: body });
    return githubCanonical(parseIssue(res.body));
  }

  async findCreatedIssue(
    title: string,
    since: string,
    accept?: (issue: CanonicalIssue) => boolean | Promise<boolean>,
  ): Promise<CanonicalIssue | null> {
    const creator = await this.currentLogin();
    const floor = toWholeSecondSince(since);
    // `since` filters on updated_at, a superset of "created since"; created_at narrows it.
    const items = await this.http.getAllPages(
      this.http.url(`${this.repoPath}/issues`, {
        state: "all",
        creator,
        since: floor,
        sort: "created",
        direction: "asc",
        per_page: this.pageSize,
      }),
    );
    return firstAcceptedCreatedSince(items, parseIssue, githubCanonical, title, floor, (i) => i.pull_request !== undefined, accept);
  }

  /** Repository labels (GitHub has no organisation labels on issues). */
  async listLabelNames(): Promise<Set<string>> {
    const items = await this.http.getAllPages(this.http.url(`${this.repoPath}/labels`, { per_page: 100 }));
    return new Set(items.flatMap((item) => {
      const parsed = namedLabel.safeParse(item);
      return parsed.success ? [parsed.data.name] : [];
    }));
  }

  /** `POST /repos/{owner}/{repo}/milestones` (REST: "Create a milestone"; `title` required). */
  async createMilestone(title: string): Promise<void> {
    await this.http.request("POST", this.http.url(`${this.repoPath}/milestones`), { json: { title } });
    this.milestones = null;
  }

  private async milestoneNumber(title: string): Promise<number> {
    this.milestones ??= await idsByName(
      this.http,
      this.http.url(`${this.repoPath}/milestones`, { state: "all", per_page: 100 }),
      milestoneRef,
      (m) => [m.title, m.number],
    );
    const number = this.milestones.get(title);
    if (number === undefined) throw missingMilestone("github", title, this.repository);
    return number;
  }
}
