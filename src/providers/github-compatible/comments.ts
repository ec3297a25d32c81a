/**
 * Comments on GitHub and Gitea, whose comment API is the same shape: a repository-wide listing
 * `GET /repos/{o}/{r}/issues/comments?since=` (GitHub: `sort=updated&direction=asc`, and pull
 * request conversation comments mixed in, told apart by `/pull/` in `html_url`; Gitea: ordered by
 * creation, pull request comments carry `pull_request_url` and an empty `issue_url`), per-issue
 * `…/issues/{n}/comments`, and `…/issues/comments/{id}` to read, edit (PATCH) and delete one.
 */
import { z } from "zod";
import { nextPageUrl, type TrackerHttp } from "../http";
import { canonicalText } from "../canonical";
import { announceHead, serverTimeOf } from "../issue-responses";
import { toUtcIso, toWholeSecondSince } from "../timestamps";
import { webUrl } from "../canonical";
import { TrackerError, type CanonicalComment, type CommentPage, type ListPageRequest } from "../types";

export const githubStyleComment = z.object({
  id: z.number(),
  html_url: z.string().nullish(),
  issue_url: z.string().nullish(),
  pull_request_url: z.string().nullish(),
  body: z.string().nullish(),
  user: z.object({ login: z.string() }).nullish(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type GitHubStyleComment = z.infer<typeof githubStyleComment>;

/** True for a pull request conversation comment (GitHub: `/pull/` in html_url; Gitea: `pull_request_url`). */
export function isPullRequestComment(c: GitHubStyleComment): boolean {
  if (c.pull_request_url) return true;
  return /\/pulls?\/\d+/.test(c.html_url ?? "");
}

/** The issue number from `issue_url` (GitHub: API URL, Gitea: HTML URL) or `html_url`. */
export function issueNumberOf(c: GitHubStyleComment): number | null {
  for (const url of [c.issue_url, c.html_url]) {
    const m = /\/issues\/(\d+)(?:[/#?]|$)/.exec(url ?? "");
    if (m) return Number(m[1]);
  }
  return null;
}

export function toCanonicalComment(c: GitHubStyleComment, issueNumber: number): CanonicalComment {
  return {
    externalId: String(c.id),
    issueNumber,
    url: webUrl(c.html_url),
    body: canonicalText(c.body ?? ""),
    author: c.user?.login ?? "",
    internal: false,
    createdAt: toUtcIso(c.created_at),
    updatedAt: toUtcIso(c.updated_at),
  };
}

function parseComment(provider: string, body: unknown): GitHubStyleComment {
  const r = githubStyleComment.safeParse(body);
  if (!r.success) {
    const field = r.error.issues[0]?.path.map(String).join(".") ?? "";
    throw new TrackerError(`${provider} answered a comment without a valid ${field || "body"}`, null, false);
  }
  return r.data;
}

function parseCommentList(provider: string, body: unknown): GitHubStyleComment[] {
  if (!Array.isArray(body)) throw new TrackerError(`${provider} comment list is not a list`, null, false);
  return body.map((item) => parseComment(provider, item));
}

/** The comment calls both trackers answer alike; the adapter supplies its list query. */
export class GitHubStyleComments {
  constructor(
    private readonly http: TrackerHttp,
    /** The adapter's repository path, read per call: a rename learned from the tracker changes it. */
    private readonly repoPathOf: () => string,
    private readonly currentLogin: () => Promise<string>,
  ) {}

  private get repoPath(): string {
    return this.repoPathOf();
  }

  async listPage(request: ListPageRequest, query: Record<string, string | number | null>): Promise<CommentPage> {
    const url =
      request.url ??
      this.http.url(`${this.repoPath}/issues/comments`, { ...query, since: request.since ? toWholeSecondSince(request.since) : null });
    return this.page(url, request);
  }

  /** One page of one issue's comments (created order); null when the issue is gone. */
  async listIssuePage(issueNumber: number, request: ListPageRequest, query: Record<string, string | number | null>): Promise<CommentPage | null> {
    const url = request.url ?? this.http.url(`${this.repoPath}/issues/${issueNumber}/comments`, query);
    return this.page(url, request, [404, 410]);
  }

  private async page(url: string, request: ListPageRequest): Promise<CommentPage>;
  private async page(url: string, request: ListPageRequest, gone: readonly number[]): Promise<CommentPage | null>;
  private async page(url: string, request: ListPageRequest, gone: readonly number[] = []): Promise<CommentPage | null> {
    const res = await this.http.request("GET", url, { headers: request.etag ? { "If-None-Match": request.etag } : {}, accept: [...gone] });
    if (gone.includes(res.status)) return null;
    const serverTime = serverTimeOf(res.headers);
    if (res.status === 304) {
      return { comments: [], nextUrl: null, etag: request.etag ?? null, notModified: true, serverTime, lastUpdatedAt: null, rawCount: 0 };
    }
    // Gitea's comment listing has no Link header: the next page comes from X-Total-Count (nextPageUrl).
    const nextUrl = this.followable(nextPageUrl(res.url, res.headers, Array.isArray(res.body) ? res.body.length : 0));
    announceHead(request, res.body, res.headers, { nextUrl, etag: res.headers.get("etag") });
    const raw = parseCommentList(this.http.provider, res.body);
    const comments: CanonicalComment[] = [];
    for (const c of raw) {
      const number = issueNumberOf(c);
      if (number !== null && !isPullRequestComment(c)) comments.push(toCanonicalComment(c, number));
    }
    const last = raw.at(-1);
    return {
      comments,
      nextUrl,
      etag: res.headers.get("etag"),
      notModified: false,
      serverTime,
      lastUpdatedAt: last ? toUtcIso(last.updated_at) : null,
      rawCount: raw.length,
    };
  }

  private followable(next: string | null): string | null {
    return next !== null && this.http.rebaseLink ? this.http.rebaseLink(next) : next;
  }

  async listIssueComments(issueNumber: number, query: Record<string, string | number | null>): Promise<CanonicalComment[] | null> {
    const url = this.http.url(`${this.repoPath}/issues/${issueNumber}/comments`, query);
    const first = await this.http.request("GET", url, { accept: [404, 410] });
    if (first.status === 404 || first.status === 410) return null;
    const items = parseCommentList(this.http.provider, first.body);
    const next = nextPageUrl(first.url, first.headers, items.length);
    if (next) items.push(...parseCommentList(this.http.provider, await this.http.getAllPages(next)));
    return items.map((c) => toCanonicalComment(c, issueNumber));
  }

  async get(issueNumber: number, externalId: string): Promise<CanonicalComment | null> {
    const res = await this.http.request("GET", this.http.url(`${this.repoPath}/issues/comments/${encodeURIComponent(externalId)}`), { accept: [404, 410] });
    if (res.status === 404 || res.status === 410) return null;
    return toCanonicalComment(parseComment(this.http.provider, res.body), issueNumber);
  }

  async create(issueNumber: number, body: string): Promise<CanonicalComment> {
    const res = await this.http.request("POST", this.http.url(`${this.repoPath}/issues/${issueNumber}/comments`), { json: { body } });
    return toCanonicalComment(parseComment(this.http.provider, res.body), issueNumber);
  }

  async edit(issueNumber: number, externalId: string, body: string): Promise<CanonicalComment> {
    const url = this.http.url(`${this.repoPath}/issues/comments/${encodeURIComponent(externalId)}`);
    const res = await this.http.request("PATCH", url, { json: { body } });
    if (res.body === null) {
      // Gitea answers 204 without a body when nothing changed: read what it holds.
      const current = await this.get(issueNumber, externalId);
      if (!current) throw new TrackerError(`${this.http.provider} comment ${externalId} is gone`, 404, false);
      return current;
    }
    return toCanonicalComment(parseComment(this.http.provider, res.body), issueNumber);
  }

  async remove(externalId: string): Promise<"deleted" | "gone"> {
    const res = await this.http.request("DELETE", this.http.url(`${this.repoPath}/issues/comments/${encodeURIComponent(externalId)}`), { accept: [404, 410] });
    return res.status === 404 || res.status === 410 ? "gone" : "deleted";
  }

  async findOwn(issueNumber: number, since: string, query: Record<string, string | number | null>): Promise<CanonicalComment[]> {
    const login = await this.currentLogin();
    const floor = toWholeSecondSince(since);
    const all = (await this.listIssueComments(issueNumber, { ...query, since: floor })) ?? [];
    return all.filter((c) => c.author.toLowerCase() === login.toLowerCase() && c.createdAt >= toUtcIso(floor));
  }
}
