/**
 * GitHub REST as the fake serves it: issue list with pull requests mixed in, ordered and filtered
 * like api.github.com, `Link` URLs that switch to `/repositories/<id>/issues`, weak ETags with
 * 304s, 410 for deleted and 301 for transferred issues, `Z` timestamps without milliseconds.
 */
import {
  isoSeconds,
  json,
  linkHeader,
  pageOf,
  parseTime,
  readJson,
  stringArray,
  type FakeComment,
  type FakeIssue,
  type FakeLabel,
  type FakeMilestone,
  type FakeRequest,
  type FakeStore,
  type FakeUser,
  type WebhookOptions,
} from "./fake-store.ts";
import { githubGraphql } from "./fake-pulls.ts";

const WEB = "https://github.com";
const DOCS = "https://docs.github.com/rest";

export async function routeGitHub(store: FakeStore, req: FakeRequest): Promise<Response> {
  const repo = `/repos/${store.repository}`;
  const { method, path } = req;
  let pathname = decodeURIComponent(path.split("?")[0] ?? "");
  if (method === "GET" && pathname === "/user") return json(200, user(req.base, store.tokenUser));
  // REST "Get a user": the public profile; `email` is the publicly visible email or null.
  const profile = /^\/users\/([^/]+)$/.exec(pathname);
  if (method === "GET" && profile) {
    const found = store.users.get(decodeURIComponent(profile[1]!));
    return found ? json(200, { ...user(req.base, found), name: null, email: found.publicEmail ?? null }) : json(404, { message: "Not Found", documentation_url: DOCS, status: "404" });
  }
  // GraphQL lives beside the REST root: `/graphql` on github.com, `/api/graphql` on Enterprise.
  if (method === "POST" && (pathname === "/graphql" || pathname === "/api/graphql")) return githubGraphql(store, req);

  // A renamed repository: GitHub redirects every request for the old name, "301 for GET and HEAD,
  // 307 for other methods", Location on the same host under `/repositories/<id>` (REST docs,
  // "Best practices: follow redirects"; repository and issue ids are unchanged).
  for (const old of store.renamedFrom) {
    const prefix = `/repos/${old}`.toLowerCase();
    const lower = pathname.toLowerCase();
    if (lower === prefix || lower.startsWith(`${prefix}/`)) {
      const rest = pathname.slice(prefix.length) + (path.includes("?") ? path.slice(path.indexOf("?")) : "");
      const location = `${req.base}/repositories/${store.repositoryId}${rest}`;
      const status = method === "GET" || method === "HEAD" ? 301 : 307;
      return json(status, { message: status === 301 ? "Moved Permanently" : "Temporary Redirect", url: location, documentation_url: DOCS }, { location });
    }
  }
  // `/repositories/<id>/…` is the repository under its id, whatever its name.
  const byId = `/repositories/${store.repositoryId}`;
  if (pathname === byId || pathname.startsWith(`${byId}/`)) {
    if (pathname !== `${byId}/issues`) pathname = repo + pathname.slice(byId.length);
  }
  if (method === "GET" && pathname.toLowerCase() === repo.toLowerCase()) return json(200, repository(req.base, store));

  const isList = pathname.toLowerCase() === `${repo}/issues`.toLowerCase() || pathname === `/repositories/${store.repositoryId}/issues`;
  if (isList && method === "GET") return listIssues(store, req);
  if (isList && method === "POST") return createIssue(store, req);

  const comments = await routeComments(store, req, repo, pathname);
  if (comments) return comments;

  // The `/repositories/<id>/…` form is where a renamed repository's redirects point.
  const single =
    new RegExp(`^${escape(repo)}/issues/(\\d+)$`, "i").exec(pathname) ??
    new RegExp(`^/repositories/${store.repositoryId}/issues/(\\d+)$`).exec(pathname);
  if (single) {
    const number = Number(single[1]);
    if (method === "GET") return getIssue(store, req, number);
    if (method === "PATCH") return updateIssue(store, req, number);
  }
  if (method === "GET" && pathname.toLowerCase() === `${repo}/milestones`.toLowerCase()) return listMilestones(store, req);
  // REST "List labels for a repository" and "Create a milestone" (title required; a taken title is 422 already_exists).
  if (method === "GET" && pathname.toLowerCase() === `${repo}/labels`.toLowerCase()) {
    return json(200, [...store.labels.values()].map((l) => label(req.base, store, l)));
  }
  if (method === "POST" && pathname.toLowerCase() === `${repo}/milestones`.toLowerCase()) {
    const body = await readJson(req.request);
    if (!body || typeof body.title !== "string" || body.title === "") return validationFailed("title", "missing_field");
    if (store.milestones.has(body.title)) return validationFailed("title", "already_exists");
    return json(201, milestone(req.base, store, store.addMilestone(body.title)));
  }
  return json(404, { message: "Not Found", documentation_url: DOCS, status: "404" });
}

async function listIssues(store: FakeStore, req: FakeRequest): Promise<Response> {
  const q = req.url.searchParams;
  const since = parseTime(q.get("since"));
  if (since === "invalid") return validationFailed("since");
  const state = q.get("state") ?? "open";
  const sort = q.get("sort") ?? "created";
  const direction = q.get("direction") ?? "desc";
  const creator = q.get("creator");
  let items = store.visible().filter((i) => i.kind !== "incident");
  if (state !== "all") items = items.filter((i) => i.state === state);
  // `since` compares whole seconds and includes the instant itself.
  if (typeof since === "number") items = items.filter((i) => Math.floor(i.updatedAt / 1000) * 1000 >= since);
  if (creator) items = items.filter((i) => i.author.toLowerCase() === creator.toLowerCase());
  const key = sort === "updated" ? (i: FakeIssue) => i.updatedAt : (i: FakeIssue) => i.createdAt;
  items.sort((a, b) => (key(a) - key(b) || a.number - b.number) * (direction === "asc" ? 1 : -1));

  // Offset pages are recomputed on every request (GitHub's `page=N` is an offset into the current
  // order): an issue edited between two page requests moves to the end and its neighbours slide up.
  const slice = pageOf(items, q.get("page"), q.get("per_page"), 30, store.perPage);
  const body = slice.items.map((i) => issue(req.base, store, i));
  const text = JSON.stringify(body);
  const etag = `W/"${await sha256Hex(text)}"`;
  const headers: Record<string, string> = { etag, ...rateHeaders(store) };
  // Links always use the repository id form, whatever path the request used.
  const linkBase = new URL(`${req.base}/repositories/${store.repositoryId}/issues`);
  for (const [k, v] of q) if (k !== "page") linkBase.searchParams.set(k, v);
  const link = linkHeader(linkBase, slice, ["prev", "next", "last", "first"]);
  if (link) headers.link = link;
  if (req.request.headers.get("if-none-match") === etag) {
    return new Response(null, { status: 304, headers: { etag, ...rateHeaders(store) } });
  }
  return new Response(text, { status: 200, headers: { "content-type": "application/json; charset=utf-8", ...headers } });
}

function getIssue(store: FakeStore, req: FakeRequest, number: number): Response {
  const found = store.get(number);
  if (!found || found.kind === "incident") return json(404, { message: "Not Found", documentation_url: DOCS, status: "404" });
  if (found.deleted) return json(410, { message: "This issue was deleted", documentation_url: DOCS, status: "410" });
  if (found.transferredTo) {
    return json(
      301,
      { message: "Moved Permanently", url: found.transferredTo.apiUrl, documentation_url: DOCS },
      { location: found.transferredTo.apiUrl },
    );
  }
  return json(200, issue(req.base, store, found), rateHeaders(store));
}

async function createIssue(store: FakeStore, req: FakeRequest): Promise<Response> {
  const body = await readJson(req.request);
  if (!body || typeof body.title !== "string" || body.title === "") return validationFailed("title", "missing_field");
  const fields = await writableFields(store, body);
  if (fields instanceof Response) return fields;
  const created = store.seedIssue({
    title: body.title,
    body: typeof body.body === "string" ? body.body : null,
    author: store.tokenUser.login,
    labels: fields.labels ?? [],
    assignees: fields.assignees ?? [],
    milestone: fields.milestone ?? null,
  });
  const rendered = issue(req.base, store, created);
  return json(201, rendered, { location: String(rendered.url), ...rateHeaders(store) });
}

const STATE_REASONS: readonly unknown[] = ["completed", "not_planned", "duplicate", "reopened"];

async function updateIssue(store: FakeStore, req: FakeRequest, number: number): Promise<Response> {
  const found = store.get(number);
  if (!found || found.deleted) return getIssue(store, req, number);
  const body = await readJson(req.request);
  if (!body) return json(400, { message: "Problems parsing JSON", documentation_url: DOCS, status: "400" });
  if (body.state !== undefined && body.state !== "open" && body.state !== "closed") return validationFailed("state");
  if (body.title !== undefined && typeof body.title !== "string") return validationFailed("title");
  // docs.github.com REST "Update an issue": state_reason is completed, not_planned, duplicate,
  // reopened or null, and is ignored unless `state` changes.
  if (body.state_reason !== undefined && body.state_reason !== null && !STATE_REASONS.includes(body.state_reason as string)) return validationFailed("state_reason");
  const fields = await writableFields(store, body);
  if (fields instanceof Response) return fields;
  store.edit(number, {
    title: body.title as string | undefined,
    body: body.body === undefined ? undefined : ((body.body as string | null) ?? null),
    state: body.state as "open" | "closed" | undefined,
    stateReason: (body.state_reason as string | null | undefined) ?? undefined,
    labels: fields.labels,
    assignees: fields.assignees,
    milestone: fields.milestone,
  });
  return json(200, issue(req.base, store, store.require(number)), rateHeaders(store));
}

/** Labels are created on the fly (as GitHub does); assignees and milestones must exist. */
async function writableFields(
  store: FakeStore,
  body: Record<string, unknown>,
): Promise<{ labels?: string[]; assignees?: string[]; milestone?: string | null } | Response> {
  const out: { labels?: string[]; assignees?: string[]; milestone?: string | null } = {};
  // Without push access GitHub drops these three fields silently and answers success.
  if (store.tokenWithoutPushAccess) return out;
  if (body.labels !== undefined) {
    const labels = stringArray(body.labels);
    if (!labels) return validationFailed("labels");
    out.labels = labels;
  }
  if (body.assignees !== undefined) {
    const assignees = stringArray(body.assignees);
    if (!assignees) return validationFailed("assignees");
    const unknown = assignees.find((login) => !store.users.has(login));
    if (unknown) return validationFailed("assignees", "invalid", unknown);
    out.assignees = assignees;
  }
  if (body.milestone !== undefined) {
    if (body.milestone === null) out.milestone = null;
    else {
      const milestone = store.milestoneBy((m) => m.number === Number(body.milestone));
      if (!milestone) return validationFailed("milestone", "invalid", String(body.milestone));
      out.milestone = milestone.title;
    }
  }
  return out;
}

function listMilestones(store: FakeStore, req: FakeRequest): Response {
  const q = req.url.searchParams;
  const state = q.get("state") ?? "open";
  const all = [...store.milestones.values()].filter((m) => state === "all" || m.state === state);
  const slice = pageOf(all, q.get("page"), q.get("per_page"), 30, 100);
  const base = new URL(`${req.base}/repos/${store.repository}/milestones`);
  for (const [k, v] of q) if (k !== "page") base.searchParams.set(k, v);
  const link = linkHeader(base, slice, ["prev", "next", "last", "first"]);
  return json(200, slice.items.map((m) => milestone(req.base, store, m)), link ? { link } : {});
}

// ---------- comments ----------

/**
 * Issue comments as api.github.com serves them: the repository-wide listing
 * (`/repos/{o}/{r}/issues/comments?since=&sort=updated&direction=asc`, pull request conversation
 * comments included, `Link` over `/repositories/<id>/issues/comments`, ETag/304), per issue
 * (`/issues/{n}/comments`, POST 201), and one comment (`/issues/comments/{id}`: GET, PATCH 200,
 * DELETE 204, 404 once deleted). A new comment touches its issue's `updated_at`.
 */
/** GitHub refuses a comment body over 65,536 characters: 422 "body is too long (maximum is 65536 characters)". */
const MAX_COMMENT_CHARS = 65_536;

async function routeComments(store: FakeStore, req: FakeRequest, repo: string, pathname: string): Promise<Response | null> {
  const lower = pathname.toLowerCase();
  if (req.method === "GET" && (lower === `${repo}/issues/comments`.toLowerCase() || pathname === `/repositories/${store.repositoryId}/issues/comments`)) {
    const q = req.url.searchParams;
    const since = parseTime(q.get("since"));
    if (since === "invalid") return validationFailed("since");
    let items = store.visibleComments();
    if (typeof since === "number") items = items.filter((c) => Math.floor(c.updatedAt / 1000) * 1000 >= since);
    const sort = q.get("sort") ?? "created";
    const asc = (q.get("direction") ?? "asc") === "asc";
    const key = sort === "updated" ? (c: FakeComment) => c.updatedAt : (c: FakeComment) => c.createdAt;
    items.sort((a, b) => (key(a) - key(b) || a.id - b.id) * (asc ? 1 : -1));
    const slice = pageOf(items, q.get("page"), q.get("per_page"), 30, 100);
    const text = JSON.stringify(slice.items.map((c) => comment(req.base, store, c)));
    const etag = `W/"${await sha256Hex(text)}"`;
    const headers: Record<string, string> = { etag, ...rateHeaders(store) };
    const linkBase = new URL(`${req.base}/repositories/${store.repositoryId}/issues/comments`);
    for (const [k, v] of q) if (k !== "page") linkBase.searchParams.set(k, v);
    const link = linkHeader(linkBase, slice, ["prev", "next", "last", "first"]);
    if (link) headers.link = link;
    if (req.request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: { etag, ...rateHeaders(store) } });
    return new Response(text, { status: 200, headers: { "content-type": "application/json; charset=utf-8", ...headers } });
  }
  const one = new RegExp(`^${escape(repo)}/issues/comments/(\\d+)$`, "i").exec(pathname);
  if (one) {
    const found = store.comments.get(Number(one[1]));
    if (!found || found.deleted) return json(404, { message: "Not Found", documentation_url: DOCS, status: "404" });
    if (req.method === "GET") return json(200, comment(req.base, store, found), rateHeaders(store));
    if (req.method === "PATCH") {
      const body = await readJson(req.request);
      if (!body || typeof body.body !== "string") return validationFailed("body", "missing_field");
      if (body.body.length > MAX_COMMENT_CHARS) return validationFailed("body", "custom");
      return json(200, comment(req.base, store, store.editComment(found.id, body.body)), rateHeaders(store));
    }
    if (req.method === "DELETE") {
      store.deleteComment(found.id);
      return new Response(null, { status: 204, headers: rateHeaders(store) });
    }
  }
  const perIssue = new RegExp(`^${escape(repo)}/issues/(\\d+)/comments$`, "i").exec(pathname);
  if (perIssue) {
    const number = Number(perIssue[1]);
    const issue = store.get(number);
    if (!issue || issue.kind === "incident") return json(404, { message: "Not Found", documentation_url: DOCS, status: "404" });
    if (issue.deleted) return json(410, { message: "This issue was deleted", documentation_url: DOCS, status: "410" });
    if (req.method === "GET") {
      const q = req.url.searchParams;
      const since = parseTime(q.get("since"));
      if (since === "invalid") return validationFailed("since");
      let items = store.visibleComments().filter((c) => c.issueNumber === number);
      if (typeof since === "number") items = items.filter((c) => Math.floor(c.updatedAt / 1000) * 1000 >= since);
      const slice = pageOf(items, q.get("page"), q.get("per_page"), 30, 100);
      const base = new URL(`${req.base}${repo}/issues/${number}/comments`);
      for (const [k, v] of q) if (k !== "page") base.searchParams.set(k, v);
      const link = linkHeader(base, slice, ["prev", "next", "last", "first"]);
      return json(200, slice.items.map((c) => comment(req.base, store, c)), { ...rateHeaders(store), ...(link ? { link } : {}) });
    }
    if (req.method === "POST") {
      const body = await readJson(req.request);
      if (!body || typeof body.body !== "string" || body.body === "") return validationFailed("body", "missing_field");
      if (body.body.length > MAX_COMMENT_CHARS) return validationFailed("body", "custom");
      const created = store.addComment(number, { body: body.body, author: store.tokenUser.login });
      const rendered = comment(req.base, store, created);
      return json(201, rendered, { location: String(rendered.url), ...rateHeaders(store) });
    }
  }
  return null;
}

export function comment(base: string, store: FakeStore, c: FakeComment): Record<string, unknown> {
  const issue = store.get(c.issueNumber);
  const isPull = issue?.kind === "pull_request";
  return {
    url: `${base}/repos/${store.repository}/issues/comments/${c.id}`,
    html_url: `${WEB}/${store.repository}/${isPull ? "pull" : "issues"}/${c.issueNumber}#issuecomment-${c.id}`,
    issue_url: `${base}/repos/${store.repository}/issues/${c.issueNumber}`,
    id: c.id,
    node_id: `IC_${c.id}`,
    user: user(base, store.addUser(c.author)),
    created_at: isoSeconds(c.createdAt),
    updated_at: isoSeconds(c.updatedAt),
    author_association: c.author === store.tokenUser.login ? "OWNER" : "CONTRIBUTOR",
    body: c.body,
    performed_via_github_app: null,
  };
}

/** An `issue_comment` delivery as GitHub sends it (created / edited / deleted). */
export function githubCommentPayload(store: FakeStore, base: string, action: string, c: FakeComment, changes?: Record<string, unknown>): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    action,
    issue: issue(base, store, store.require(c.issueNumber)),
    comment: comment(base, store, c),
    repository: repository(base, store),
    sender: user(base, store.addUser(c.author)),
  };
  if (changes) payload.changes = changes;
  return payload;
}

function validationFailed(field: string, code = "invalid", value?: string): Response {
  return json(422, {
    message: "Validation Failed",
    errors: [{ resource: "Issue", code, field, ...(value !== undefined ? { value } : {}) }],
    documentation_url: DOCS,
    status: "422",
  });
}

function rateHeaders(store: FakeStore): Record<string, string> {
  return {
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": "4999",
    "x-ratelimit-reset": String(Math.floor(store.nowMs / 1000) + 3600),
    "x-ratelimit-resource": "core",
    "x-github-media-type": "github.v3; format=json",
  };
}

// ---------- JSON as api.github.com renders it ----------

export function user(base: string, u: FakeUser): Record<string, unknown> {
  return {
    login: u.login,
    id: u.id,
    node_id: `U_${u.id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
    gravatar_id: "",
    url: `${base}/users/${u.login}`,
    html_url: `${WEB}/${u.login}`,
    followers_url: `${base}/users/${u.login}/followers`,
    following_url: `${base}/users/${u.login}/following{/other_user}`,
    gists_url: `${base}/users/${u.login}/gists{/gist_id}`,
    starred_url: `${base}/users/${u.login}/starred{/owner}{/repo}`,
    subscriptions_url: `${base}/users/${u.login}/subscriptions`,
    organizations_url: `${base}/users/${u.login}/orgs`,
    repos_url: `${base}/users/${u.login}/repos`,
    events_url: `${base}/users/${u.login}/events{/privacy}`,
    received_events_url: `${base}/users/${u.login}/received_events`,
    type: "User",
    site_admin: false,
  };
}

function label(base: string, store: FakeStore, l: FakeLabel): Record<string, unknown> {
  return {
    id: l.id,
    node_id: `LA_${l.id}`,
    url: `${base}/repos/${store.repository}/labels/${encodeURIComponent(l.name)}`,
    name: l.name,
    description: null,
    color: l.color,
    default: false,
  };
}

function milestone(base: string, store: FakeStore, m: FakeMilestone): Record<string, unknown> {
  return {
    url: `${base}/repos/${store.repository}/milestones/${m.number}`,
    html_url: `${WEB}/${store.repository}/milestone/${m.number}`,
    labels_url: `${base}/repos/${store.repository}/milestones/${m.number}/labels`,
    id: m.id,
    node_id: `MI_${m.id}`,
    number: m.number,
    state: m.state,
    title: m.title,
    description: null,
    creator: user(base, store.tokenUser),
    open_issues: 0,
    closed_issues: 0,
    created_at: isoSeconds(m.createdAt),
    updated_at: isoSeconds(m.createdAt),
    closed_at: null,
    due_on: null,
  };
}

export function issue(base: string, store: FakeStore, i: FakeIssue): Record<string, unknown> {
  const apiUrl = `${base}/repos/${store.repository}/issues/${i.number}`;
  const isPull = i.kind === "pull_request";
  const htmlUrl = `${WEB}/${store.repository}/${isPull ? "pull" : "issues"}/${i.number}`;
  const assignees = i.assignees.map((login) => user(base, store.addUser(login)));
  const m = i.milestone ? store.milestones.get(i.milestone) : undefined;
  const rendered: Record<string, unknown> = {
    url: apiUrl,
    repository_url: `${base}/repos/${store.repository}`,
    labels_url: `${apiUrl}/labels{/name}`,
    comments_url: `${apiUrl}/comments`,
    events_url: `${apiUrl}/events`,
    html_url: htmlUrl,
    id: i.id,
    node_id: `I_${i.id}`,
    number: i.number,
    title: i.title,
    user: user(base, store.addUser(i.author)),
    labels: i.labels.map((name) => label(base, store, store.ensureLabel(name))),
    state: i.state,
    locked: false,
    assignee: assignees[0] ?? null,
    assignees,
    milestone: m ? milestone(base, store, m) : null,
    comments: 0,
    created_at: isoSeconds(i.createdAt),
    updated_at: isoSeconds(i.updatedAt),
    closed_at: i.closedAt === null ? null : isoSeconds(i.closedAt),
    author_association: i.author === store.tokenUser.login ? "OWNER" : "CONTRIBUTOR",
    active_lock_reason: null,
    body: i.body,
    state_reason: i.stateReason !== undefined ? i.stateReason : i.state === "closed" ? "completed" : null,
    timeline_url: `${apiUrl}/timeline`,
    performed_via_github_app: null,
  };
  if (isPull) {
    // A PR opened through fake-pulls.ts: its draft flag and merge time (REST "List repository issues").
    const pull = store.pulls.get(i.number);
    rendered.draft = pull?.draft ?? false;
    rendered.pull_request = {
      url: `${base}/repos/${store.repository}/pulls/${i.number}`,
      html_url: htmlUrl,
      diff_url: `${htmlUrl}.diff`,
      patch_url: `${htmlUrl}.patch`,
      merged_at: pull?.mergedAt ? new Date(pull.mergedAt).toISOString().replace(/\.\d{3}Z$/, "Z") : null,
    };
  }
  return rendered;
}

function repository(base: string, store: FakeStore): Record<string, unknown> {
  const [owner = "", name = ""] = store.repository.split("/");
  return {
    id: store.repositoryId,
    node_id: `R_${store.repositoryId}`,
    name,
    full_name: store.repository,
    private: false,
    owner: user(base, store.addUser(owner)),
    html_url: `${WEB}/${store.repository}`,
    url: `${base}/repos/${store.repository}`,
  };
}

/** Moves an issue to another repository: the old URL answers 301, the list no longer has it. */
export function transferGitHub(store: FakeStore, base: string, number: number, target = "acme/elsewhere"): FakeIssue {
  const moved = store.require(number);
  const newNumber = 900 + number;
  moved.transferredTo = {
    number: newNumber,
    htmlUrl: `${WEB}/${target}/issues/${newNumber}`,
    apiUrl: `${base}/repos/${target}/issues/${newNumber}`,
  };
  return moved;
}

export function githubIssuePayload(
  store: FakeStore,
  base: string,
  action: string,
  i: FakeIssue,
  options: WebhookOptions,
): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    action,
    issue: issue(base, store, i),
    repository: repository(base, store),
    sender: user(base, store.tokenUser),
  };
  if (options.changes) payload.changes = options.changes;
  if (action === "labeled" || action === "unlabeled") {
    const name = i.labels.at(-1) ?? "bug";
    payload.label = label(base, store, store.ensureLabel(name));
  }
  if (action === "assigned" || action === "unassigned") {
    payload.assignee = user(base, store.addUser(i.assignees.at(-1) ?? store.tokenUser.login));
  }
  if ((action === "milestoned" || action === "demilestoned") && i.milestone) {
    const m = store.milestones.get(i.milestone);
    if (m) payload.milestone = milestone(base, store, m);
  }
  if (action === "transferred" && i.transferredTo) {
    const target = i.transferredTo;
    payload.changes = {
      new_issue: { ...issue(base, store, i), number: target.number, html_url: target.htmlUrl, url: target.apiUrl },
      new_repository: { ...repository(base, store), full_name: target.htmlUrl.split("/").slice(3, 5).join("/") },
    };
  }
  return payload;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 32);
}
