/**
 * Gitea API v1 as the fake serves it: issue list newest-created first (there is no sort
 * parameter), pull requests included unless `type=issues`, `since` in whole seconds, at most 50 a
 * page, `Link` + `X-Total-Count`, PATCH answering 201, labels by id through their own endpoint,
 * `assignees: null` when nobody is assigned, timestamps in the server's +02:00 zone.
 */
import { giteaListPulls } from "./fake-pulls.ts";
import {
  json,
  linkHeader,
  numberArray,
  pageOf,
  parseTime,
  readJson,
  stringArray,
  withOffset,
  type FakeComment,
  type FakeIssue,
  type FakeLabel,
  type FakeMilestone,
  type FakeRequest,
  type FakeStore,
  type FakeUser,
  type PageSlice,
} from "./fake-store.ts";

/** The fake Gitea server runs in UTC+02:00. */
const SERVER_OFFSET_MINUTES = 120;
const time = (ms: number): string => withOffset(ms, SERVER_OFFSET_MINUTES);

export async function routeGitea(store: FakeStore, req: FakeRequest): Promise<Response> {
  const { method } = req;
  const pathname = decodeURIComponent(req.path.split("?")[0] ?? "");
  if (method === "GET" && pathname === "/user") return json(200, user(req.base, store.tokenUser));
  // GET /users/{username}: `email` is a noreply address unless the user shows theirs.
  const profile = /^\/users\/([^/]+)$/.exec(pathname);
  if (method === "GET" && profile) {
    const found = store.users.get(profile[1]!);
    if (!found) return json(404, { message: "user does not exist", url: `${webBase(req.base)}/api/swagger` });
    return json(200, { ...user(req.base, found), ...(found.publicEmail ? { email: found.publicEmail } : {}) });
  }
  // Organisation labels live at /orgs/{org}/labels; for a user-owned repository that is a 404.
  const owner = store.repository.split("/")[0]!;
  if (method === "GET" && pathname.toLowerCase() === `/orgs/${owner}/labels`.toLowerCase()) {
    if (!store.ownerIsOrganisation) return notFound();
    return paged(req, [...store.orgLabels.values()].map((l) => label(req.base, store, l)), store.perPage);
  }
  // A renamed repository: Gitea answers every request for the old name with 307 to the same path
  // under the new owner/name, query kept, Location a path from AppSubURL (context.RedirectToRepo).
  for (const old of store.renamedFrom) {
    const prefix = `/repos/${old}`.toLowerCase();
    const lower = pathname.toLowerCase();
    if (lower === prefix || lower.startsWith(`${prefix}/`)) {
      const query = req.path.includes("?") ? req.path.slice(req.path.indexOf("?")) : "";
      const location = `${new URL(req.base).pathname.replace(/\/+$/, "")}/repos/${store.repository}${pathname.slice(prefix.length)}${query}`;
      return new Response(null, { status: 307, headers: { location } });
    }
  }
  const repo = `/repos/${store.repository}`;
  if (method === "GET" && pathname.toLowerCase() === repo.toLowerCase()) {
    const [owner = "", name = ""] = store.repository.split("/");
    return json(200, { id: store.repositoryId, owner: user(req.base, store.addUser(owner)), name, full_name: store.repository, html_url: `${webBase(req.base)}/${store.repository}`, private: true });
  }
  if (!pathname.toLowerCase().startsWith(`${repo}/`.toLowerCase())) return notFound();
  const rest = pathname.slice(repo.length);
  if (rest === "/pulls" && method === "GET") return paged(req, giteaListPulls(store, req), store.perPage);

  const comments = await routeComments(store, req, rest);
  if (comments) return comments;
  if (rest === "/issues" && method === "GET") return listIssues(store, req);
  if (rest === "/issues" && method === "POST") return createIssue(store, req);
  const single = /^\/issues\/(\d+)(\/labels)?$/.exec(rest);
  if (single) {
    const number = Number(single[1]);
    if (single[2] && method === "PUT") return replaceLabels(store, req, number);
    if (!single[2] && method === "GET") return getIssue(store, req, number);
    if (!single[2] && method === "PATCH") return editIssue(store, req, number);
  }
  if (rest === "/labels" && method === "GET") {
    // Repository labels only (organisation labels are not in this list), duplicates included.
    return paged(req, [...store.labels.values(), ...store.duplicateLabels].map((l) => label(req.base, store, l)), store.perPage);
  }
  if (rest === "/labels" && method === "POST") return createLabel(store, req);
  // CreateMilestoneOption: `title` (swagger: POST /repos/{owner}/{repo}/milestones answers 201 Milestone).
  if (rest === "/milestones" && method === "POST") {
    const body = await readJson(req.request);
    if (!body || typeof body.title !== "string" || body.title === "") return json(422, { message: "[Title]: Required" });
    return json(201, milestone(store.addMilestone(body.title)));
  }
  if (rest === "/milestones" && method === "GET") {
    const state = req.url.searchParams.get("state") ?? "open";
    const name = req.url.searchParams.get("name");
    const all = [...store.milestones.values()].filter(
      (m) => (state === "all" || m.state === state) && (name === null || m.title === name),
    );
    return paged(req, all.map((m) => milestone(m)), store.perPage);
  }
  return notFound();
}

function notFound(): Response {
  return json(404, { errors: null, message: "not found", url: "https://gitea.example/api/swagger" });
}

function paged(req: FakeRequest, all: unknown[], maxPerPage: number): Response {
  const q = req.url.searchParams;
  const slice = pageOf(all, q.get("page"), q.get("limit"), 30, maxPerPage);
  return json(200, slice.items, pagingHeaders(req, slice));
}

function pagingHeaders(req: FakeRequest, slice: PageSlice<unknown>, rootUrl: string | null = null): Record<string, string> {
  // Gitea builds Link URLs from its configured ROOT_URL (`setting.AppURL`), not from the host the
  // request came to: behind a proxy or an internal address they name another host.
  const origin = rootUrl ? new URL(rootUrl).origin : new URL(req.base).origin;
  const base = new URL(req.url.toString().replace(req.url.origin, origin));
  base.searchParams.delete("page");
  const headers: Record<string, string> = { "x-total-count": String(slice.total) };
  const link = linkHeader(base, slice, ["next", "last", "first", "prev"]);
  if (link) headers.link = link;
  return headers;
}

function listIssues(store: FakeStore, req: FakeRequest): Response {
  const q = req.url.searchParams;
  const since = parseTime(q.get("since"));
  const before = parseTime(q.get("before"));
  if (since === "invalid" || before === "invalid") return json(422, { message: "invalid time", url: "" });
  const state = q.get("state") ?? "open";
  const type = q.get("type");
  const createdBy = q.get("created_by");
  let items = store.visible().filter((i) => i.kind !== "incident");
  if (type === "issues") items = items.filter((i) => i.kind === "issue");
  if (type === "pulls") items = items.filter((i) => i.kind === "pull_request");
  if (state !== "all") items = items.filter((i) => i.state === state);
  // updated_unix >= since, both in whole seconds.
  if (typeof since === "number") items = items.filter((i) => seconds(i.updatedAt) >= seconds(since));
  if (typeof before === "number") items = items.filter((i) => seconds(i.updatedAt) <= seconds(before));
  if (createdBy) items = items.filter((i) => i.author === createdBy);
  // No sort parameter: newest created first, so an updated old issue is on the last page.
  items.sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
  const slice = pageOf(items, q.get("page"), q.get("limit"), 30, store.perPage);
  return json(200, slice.items.map((i) => issue(req.base, store, i)), pagingHeaders(req, slice, store.rootUrl));
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function getIssue(store: FakeStore, req: FakeRequest, number: number): Response {
  const found = store.get(number);
  if (!found || found.deleted || found.kind === "incident") return notFound();
  return json(200, issue(req.base, store, found));
}

async function createIssue(store: FakeStore, req: FakeRequest): Promise<Response> {
  const body = await readJson(req.request);
  if (!body) return json(422, { message: "invalid JSON", url: "" });
  if (typeof body.title !== "string" || body.title === "") return json(422, { message: "[Title]: Required", url: "" });
  const fields = writableFields(store, body);
  if (fields instanceof Response) return fields;
  let labels: string[] = [];
  if (body.labels !== undefined) {
    const ids = numberArray(body.labels);
    const found = ids?.map((id) => store.labelById(id));
    if (!found || found.some((l) => !l)) return json(422, { message: "label does not exist", url: "" });
    labels = found.map((l) => (l as FakeLabel).name);
  }
  const created = store.seedIssue({
    title: body.title,
    body: typeof body.body === "string" ? body.body : "",
    author: store.tokenUser.login,
    labels,
    assignees: fields.assignees ?? [],
    milestone: fields.milestone ?? null,
    state: body.closed === true ? "closed" : "open",
  });
  return json(201, issue(req.base, store, created));
}

async function editIssue(store: FakeStore, req: FakeRequest, number: number): Promise<Response> {
  const found = store.get(number);
  if (!found || found.deleted) return notFound();
  const body = await readJson(req.request);
  if (!body) return json(422, { message: "invalid JSON", url: "" });
  if (body.state !== undefined && body.state !== "open" && body.state !== "closed") return json(422, { message: "invalid state", url: "" });
  const fields = writableFields(store, body);
  if (fields instanceof Response) return fields;
  store.edit(number, {
    title: typeof body.title === "string" ? body.title : undefined,
    body: typeof body.body === "string" ? body.body : undefined,
    state: body.state as "open" | "closed" | undefined,
    assignees: fields.assignees,
    milestone: fields.milestone,
  });
  // Gitea answers an edit with 201 Created.
  return json(201, issue(req.base, store, store.require(number)));
}

async function replaceLabels(store: FakeStore, req: FakeRequest, number: number): Promise<Response> {
  const found = store.get(number);
  if (!found || found.deleted) return notFound();
  const body = await readJson(req.request);
  const ids = numberArray(body?.labels);
  const labels = ids?.map((id) => store.labelById(id));
  if (!labels || labels.some((l) => !l)) return json(422, { message: "label does not exist", url: "" });
  store.edit(number, { labels: labels.map((l) => (l as FakeLabel).name) });
  return json(200, labels.map((l) => label(req.base, store, l as FakeLabel)));
}

async function createLabel(store: FakeStore, req: FakeRequest): Promise<Response> {
  const body = await readJson(req.request);
  if (!body || typeof body.name !== "string" || typeof body.color !== "string") {
    return json(422, { message: "[Name Color]: Required", url: "" });
  }
  // Gitea does not refuse a name that exists (in the repository or its organisation): it creates a second label.
  return json(201, label(req.base, store, store.createRepoLabel(body.name, body.color)));
}

function writableFields(
  store: FakeStore,
  body: Record<string, unknown>,
): { assignees?: string[]; milestone?: string | null } | Response {
  const out: { assignees?: string[]; milestone?: string | null } = {};
  if (body.assignees !== undefined && body.assignees !== null) {
    const logins = stringArray(body.assignees);
    if (!logins) return json(422, { message: "assignees is invalid", url: "" });
    const unknown = logins.find((l) => !store.users.has(l));
    if (unknown) return json(422, { message: `user does not exist [uid: 0, name: ${unknown}]`, url: "" });
    out.assignees = logins;
  }
  if (body.milestone !== undefined && body.milestone !== null) {
    const id = Number(body.milestone);
    if (id === 0) out.milestone = null;
    else {
      const m = store.milestoneBy((x) => x.id === id);
      if (!m) return json(404, { message: "milestone does not exist", url: "" });
      out.milestone = m.title;
    }
  }
  return out;
}

// ---------- JSON as Gitea renders it ----------

function webBase(base: string): string {
  return base.replace(/\/api\/v1\/?$/, "");
}

function user(base: string, u: FakeUser): Record<string, unknown> {
  return {
    id: u.id,
    login: u.login,
    login_name: "",
    full_name: "",
    email: `${u.login}@noreply.gitea.example`,
    avatar_url: `${webBase(base)}/avatars/${u.id}`,
    html_url: `${webBase(base)}/${u.login}`,
    language: "",
    is_admin: false,
    username: u.login,
  };
}

function label(base: string, store: FakeStore, l: FakeLabel): Record<string, unknown> {
  return {
    id: l.id,
    name: l.name,
    exclusive: false,
    is_archived: false,
    color: l.color,
    description: "",
    url: `${base}/repos/${store.repository}/labels/${l.id}`,
  };
}

function milestone(m: FakeMilestone): Record<string, unknown> {
  return {
    id: m.id,
    title: m.title,
    description: "",
    state: m.state,
    open_issues: 0,
    closed_issues: 0,
    created_at: time(m.createdAt),
    updated_at: time(m.createdAt),
    closed_at: null,
    due_on: null,
  };
}

export function issue(base: string, store: FakeStore, i: FakeIssue): Record<string, unknown> {
  const htmlUrl = `${webBase(base)}/${store.repository}/${i.kind === "pull_request" ? "pulls" : "issues"}/${i.number}`;
  const assignees = i.assignees.map((login) => user(base, store.addUser(login)));
  const m = i.milestone ? store.milestones.get(i.milestone) : undefined;
  const [owner = "", name = ""] = store.repository.split("/");
  return {
    id: i.id,
    url: `${base}/repos/${store.repository}/issues/${i.number}`,
    html_url: htmlUrl,
    number: i.number,
    user: user(base, store.addUser(i.author)),
    original_author: "",
    original_author_id: 0,
    title: i.title,
    body: i.body ?? "",
    ref: "",
    assets: [],
    labels: i.labels.map((n) => label(base, store, store.ensureLabel(n))),
    milestone: m ? milestone(m) : null,
    assignee: assignees[0] ?? null,
    // Gitea sends null, not [], when nobody is assigned.
    assignees: assignees.length > 0 ? assignees : null,
    state: i.state,
    is_locked: false,
    comments: 0,
    created_at: time(i.createdAt),
    updated_at: time(i.updatedAt),
    closed_at: i.closedAt === null ? null : time(i.closedAt),
    due_date: null,
    time_estimate: 0,
    pull_request: i.kind === "pull_request" ? { merged: false, merged_at: null, draft: false, html_url: htmlUrl } : null,
    repository: { id: store.repositoryId, name, owner, full_name: store.repository },
    pin_order: 0,
  };
}

/** The `X-Gitea-Event-Type` Gitea sends for an issue action. */
// ---------- comments ----------

/**
 * Comments as Gitea serves them (swagger: issueGetRepoComments, issueGetComments,
 * issueCreateComment, issueGetComment, issueEditComment, issueDeleteComment): the repository-wide
 * `/issues/comments?since=&before=&page=&limit=` ordered by creation (pull request comments
 * included: `pull_request_url` set, `issue_url` empty), per issue `/issues/{index}/comments`
 * (not paginated; POST answers 201), and one comment: GET, PATCH 200, DELETE 204.
 */
async function routeComments(store: FakeStore, req: FakeRequest, rest: string): Promise<Response | null> {
  const { method } = req;
  if (rest === "/issues/comments" && method === "GET") {
    const q = req.url.searchParams;
    const since = parseTime(q.get("since"));
    if (since === "invalid") return json(422, { message: "since is invalid" });
    let items = store.visibleComments();
    if (typeof since === "number") items = items.filter((c) => seconds(c.updatedAt) >= seconds(since));
    // ListRepoIssueComments (routers/api/v1/repo/issue_comment.go) sets only `X-Total-Count`, no
    // `Link` (the PR adding it was closed unmerged); `limit` is capped at MAX_RESPONSE_ITEMS (50).
    const slice = pageOf(items.map((c) => comment(req.base, store, c)), req.url.searchParams.get("page"), req.url.searchParams.get("limit"), 30, 50);
    return json(200, slice.items, { "x-total-count": String(slice.total) });
  }
  const one = /^\/issues\/comments\/(\d+)$/.exec(rest);
  if (one) {
    const found = store.comments.get(Number(one[1]));
    if (!found || found.deleted) return notFound();
    if (method === "GET") return json(200, comment(req.base, store, found));
    if (method === "PATCH") {
      const body = await readJson(req.request);
      if (!body || typeof body.body !== "string") return json(422, { message: "body is required" });
      return json(200, comment(req.base, store, store.editComment(found.id, body.body)));
    }
    if (method === "DELETE") {
      store.deleteComment(found.id);
      return new Response(null, { status: 204 });
    }
  }
  const perIssue = /^\/issues\/(\d+)\/comments$/.exec(rest);
  if (perIssue) {
    const number = Number(perIssue[1]);
    const issueFound = store.get(number);
    if (!issueFound || issueFound.deleted) return notFound();
    if (method === "GET") {
      const since = parseTime(req.url.searchParams.get("since"));
      let items = store.visibleComments().filter((c) => c.issueNumber === number);
      if (typeof since === "number") items = items.filter((c) => seconds(c.updatedAt) >= seconds(since));
      return json(200, items.map((c) => comment(req.base, store, c)));
    }
    if (method === "POST") {
      const body = await readJson(req.request);
      if (!body || typeof body.body !== "string" || body.body === "") return json(422, { message: "body is required" });
      return json(201, comment(req.base, store, store.addComment(number, { body: body.body, author: store.tokenUser.login })));
    }
  }
  return null;
}

export function comment(base: string, store: FakeStore, c: FakeComment): Record<string, unknown> {
  const i = store.require(c.issueNumber);
  const isPull = i.kind === "pull_request";
  const web = `${webBase(base)}/${store.repository}`;
  return {
    id: c.id,
    html_url: `${web}/${isPull ? "pulls" : "issues"}/${i.number}#issuecomment-${c.id}`,
    pull_request_url: isPull ? `${web}/pulls/${i.number}` : "",
    issue_url: isPull ? "" : `${web}/issues/${i.number}`,
    user: user(base, store.addUser(c.author)),
    original_author: "",
    original_author_id: 0,
    body: c.body,
    assets: [],
    created_at: time(c.createdAt),
    updated_at: time(c.updatedAt),
  };
}

/** An `issue_comment` delivery as Gitea sends it (created / edited / deleted). */
export function giteaCommentPayload(store: FakeStore, base: string, action: string, c: FakeComment): Record<string, unknown> {
  const i = store.require(c.issueNumber);
  const payload = giteaIssuePayload(store, base, action, i, undefined);
  delete payload.number;
  return { ...payload, comment: comment(base, store, c), is_pull: i.kind === "pull_request" };
}

export function giteaEventType(action: string): string {
  if (action === "assigned" || action === "unassigned") return "issue_assign";
  if (action === "label_updated" || action === "label_cleared") return "issue_label";
  if (action === "milestoned" || action === "demilestoned") return "issue_milestone";
  return "issues";
}

export function giteaIssuePayload(
  store: FakeStore,
  base: string,
  action: string,
  i: FakeIssue,
  changes: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const [owner = "", name = ""] = store.repository.split("/");
  const payload: Record<string, unknown> = {
    action,
    number: i.number,
    issue: issue(base, store, i),
    repository: {
      id: store.repositoryId,
      owner: user(base, store.addUser(owner)),
      name,
      full_name: store.repository,
      html_url: `${webBase(base)}/${store.repository}`,
      private: false,
    },
    sender: user(base, store.tokenUser),
    commit_id: "",
  };
  if (changes) payload.changes = changes;
  return payload;
}
