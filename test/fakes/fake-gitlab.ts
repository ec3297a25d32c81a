/**
 * GitLab REST v4 as the fake serves it: projects by numeric id or URL-encoded path, issues by
 * `iid`, incidents mixed in unless `issue_type=issue`, `Link` + `x-next-page` + `x-total`
 * (omitted past 10,000), `.mmmZ` timestamps, PUT updates with `state_event`, 404 for deleted
 * issues and `moved_to_id` on moved ones. Webhooks in the Issue Hook shape.
 */
import {
  isoMillis,
  json,
  linkHeader,
  numberArray,
  pageOf,
  parseTime,
  readJson,
  stringArray,
  utcSuffix,
  type FakeComment,
  type FakeIssue,
  type FakeRequest,
  type FakeStore,
  type FakeUser,
  type WebhookOptions,
} from "./fake-store.ts";
import { gitlabClosesIssues, gitlabListMergeRequests } from "./fake-pulls.ts";

/** GitLab stops counting (x-total, x-total-pages, rel="last") past this many results. */
const COUNT_LIMIT = 10_000;

export async function routeGitLab(store: FakeStore, req: FakeRequest): Promise<Response> {
  const { method } = req;
  const rawPath = req.path.split("?")[0] ?? "";
  if (method === "GET" && rawPath === "/user") return json(200, user(req.base, store.tokenUser));
  // https://docs.gitlab.com/api/personal_access_tokens/#get-single-personal-access-token (self): the
  // token's own record, `expires_at` a date (tokens must expire since GitLab 16.0).
  if (method === "GET" && rawPath === "/personal_access_tokens/self") {
    return json(200, {
      id: 42,
      name: "syndarix-sync",
      revoked: false,
      created_at: "2024-01-01T00:00:00.000Z",
      description: null,
      scopes: ["api"],
      user_id: store.tokenUser.id,
      last_used_at: null,
      active: true,
      expires_at: store.tokenExpiresAt,
    });
  }
  // doc/api/users.md "Get a single user": `public_email` is "" unless the user set one.
  const profile = /^\/users\/(\d+)$/.exec(rawPath);
  if (method === "GET" && profile) {
    const found = [...store.users.values()].find((u) => u.id === Number(profile[1]));
    return found ? json(200, { ...user(req.base, found), public_email: found.publicEmail ?? "" }) : notFound("User");
  }
  if (method === "GET" && rawPath === "/users") {
    const wanted = req.url.searchParams.get("username");
    const found = wanted ? store.users.get(wanted) : undefined;
    return json(200, found ? [user(req.base, found)] : []);
  }
  const project = /^\/projects\/([^/]+)(\/.*)?$/.exec(rawPath);
  if (!project) return notFound();
  const id = decodeURIComponent(project[1] ?? "");
  if (id !== store.repository && id !== String(store.repositoryId)) return notFound("Project");
  const rest = project[2] ?? "";
  const closes = /^\/merge_requests\/(\d+)\/closes_issues$/.exec(rest);
  if (closes && method === "GET") return gitlabClosesIssues(store, req, Number(closes[1]));
  if (rest === "/merge_requests" && method === "GET") {
    const listed = gitlabListMergeRequests(store, req);
    return listed instanceof Response ? listed : offsetPage(store, req, listed);
  }
  if (rest === "" && method === "GET") {
    const [, name = ""] = store.repository.split("/");
    return json(200, { id: store.repositoryId, name, path: name, path_with_namespace: store.repository, web_url: `${webBase(req.base)}/${store.repository}` });
  }

  if (rest === "/issues" && method === "GET") return listIssues(store, req);
  if (rest === "/issues" && method === "POST") return createIssue(store, req);
  const notes = await routeNotes(store, req, rest);
  if (notes) return notes;
  const single = /^\/issues\/(\d+)$/.exec(rest);
  if (single) {
    const iid = Number(single[1]);
    if (method === "GET") return getIssue(store, req, iid);
    if (method === "PUT") return updateIssue(store, req, iid);
  }
  // GET /projects/:id/labels (with ancestor group labels by default); POST /projects/:id/milestones.
  if (rest === "/labels" && method === "GET") {
    return json(200, [...store.labels.values()].map((l) => ({ id: l.id, name: l.name, color: l.color, description: null })));
  }
  if (rest === "/milestones" && method === "POST") {
    const body = await readJson(req.request);
    if (!body || typeof body.title !== "string" || body.title === "") return json(400, { error: "title is missing" });
    if (store.milestones.has(body.title)) return json(400, { message: "Milestone already exists" });
    const m = store.addMilestone(body.title);
    return json(201, { id: m.id, iid: m.number, project_id: store.repositoryId, title: m.title, state: "active" });
  }
  if (rest === "/milestones" && method === "GET") {
    const title = req.url.searchParams.get("title");
    const all = [...store.milestones.values()].filter((m) => title === null || m.title === title);
    return json(
      200,
      all.map((m) => ({ id: m.id, iid: m.number, project_id: store.repositoryId, title: m.title, state: m.state === "open" ? "active" : "closed" })),
    );
  }
  return notFound();
}

function notFound(what = ""): Response {
  return json(404, { message: `404 ${what ? `${what} ` : ""}Not Found` });
}

function listIssues(store: FakeStore, req: FakeRequest): Response {
  const q = req.url.searchParams;
  const updatedAfter = parseTime(q.get("updated_after"));
  const createdAfter = parseTime(q.get("created_after"));
  if (updatedAfter === "invalid") return json(400, { error: "updated_after is invalid" });
  if (createdAfter === "invalid") return json(400, { error: "created_after is invalid" });
  const state = q.get("state") ?? "all";
  const issueType = q.get("issue_type");
  const author = q.get("author_username");
  let items = store.visible().filter((i) => i.kind !== "pull_request");
  if (issueType) items = items.filter((i) => (issueType === "incident" ? i.kind === "incident" : i.kind === "issue"));
  if (state === "opened") items = items.filter((i) => i.state === "open");
  if (state === "closed") items = items.filter((i) => i.state === "closed");
  // "on or after": inclusive, millisecond precision.
  if (typeof updatedAfter === "number") items = items.filter((i) => i.updatedAt >= updatedAfter);
  if (typeof createdAfter === "number") items = items.filter((i) => i.createdAt >= createdAfter);
  if (author) items = items.filter((i) => i.author === author);
  // doc/api/issues.md and app/finders/issuables/label_filter.rb: `labels` keeps issues carrying every
  // listed label (`None`/`Any`, any case: no label / some label); `not[labels]` those carrying none.
  const labels = q.get("labels");
  if (labels !== null && labels !== "") {
    const names = labels.split(",");
    const lower = names.map((n) => n.toLowerCase());
    if (lower.includes("none")) items = items.filter((i) => i.labels.length === 0);
    else if (lower.includes("any")) items = items.filter((i) => i.labels.length > 0);
    else items = items.filter((i) => names.every((n) => i.labels.includes(n)));
  }
  const notLabels = q.get("not[labels]");
  if (notLabels !== null && notLabels !== "") {
    const names = notLabels.split(",");
    items = items.filter((i) => !names.some((n) => i.labels.includes(n)));
  }
  const key = q.get("order_by") === "updated_at" ? (i: FakeIssue) => i.updatedAt : (i: FakeIssue) => i.createdAt;
  const direction = q.get("sort") === "asc" ? 1 : -1;
  items.sort((a, b) => (key(a) - key(b) || a.id - b.id) * direction);

  return offsetPage(store, req, items.map((i) => issue(req.base, store, i)));
}

/**
 * Offset pagination (`page=N`) is recomputed on every request (GitLab doc/api/rest: offset pages
 * over the current order): a record edited while a client pages moves and its neighbours slide.
 * `Link` + `x-page`/`x-per-page`/`x-next-page`/`x-prev-page`; `x-total`, `x-total-pages` and
 * rel="last" omitted past 10,000 results. Issues and merge requests page alike.
 */
export function offsetPage(store: FakeStore, req: FakeRequest, all: unknown[]): Response {
  const q = req.url.searchParams;
  const slice = pageOf(all, q.get("page"), q.get("per_page"), 20, store.perPage);
  const counted = slice.total <= COUNT_LIMIT;
  const linkBase = new URL(req.url.toString().replace(req.url.origin, new URL(req.base).origin));
  linkBase.searchParams.delete("page");
  const link = linkHeader(linkBase, slice, counted ? ["prev", "next", "first", "last"] : ["prev", "next", "first"]);
  const headers: Record<string, string> = {
    "x-page": String(slice.page),
    "x-per-page": String(slice.perPage),
    "x-next-page": slice.page < slice.lastPage ? String(slice.page + 1) : "",
    "x-prev-page": slice.page > 1 ? String(slice.page - 1) : "",
  };
  if (counted) {
    headers["x-total"] = String(slice.total);
    headers["x-total-pages"] = String(slice.lastPage);
  }
  if (link) headers.link = link;
  return json(200, slice.items, headers);
}

function getIssue(store: FakeStore, req: FakeRequest, iid: number): Response {
  const found = store.get(iid);
  if (!found || found.deleted || found.kind === "pull_request") return notFound();
  return json(200, issue(req.base, store, found));
}

async function createIssue(store: FakeStore, req: FakeRequest): Promise<Response> {
  const body = await readJson(req.request);
  if (!body) return json(400, { error: "body is invalid JSON" });
  if (typeof body.title !== "string" || body.title === "") return json(400, { error: "title is missing" });
  const fields = writableFields(store, body);
  if (fields instanceof Response) return fields;
  const created = store.seedIssue({
    title: body.title,
    body: typeof body.description === "string" ? body.description : null,
    author: store.tokenUser.login,
    labels: fields.labels ?? [],
    assignees: fields.assignees ?? [],
    milestone: fields.milestone ?? null,
  });
  return json(201, issue(req.base, store, created));
}

async function updateIssue(store: FakeStore, req: FakeRequest, iid: number): Promise<Response> {
  const found = store.get(iid);
  if (!found || found.deleted || found.kind === "pull_request") return notFound();
  const body = await readJson(req.request);
  if (!body) return json(400, { error: "body is invalid JSON" });
  if (body.state_event !== undefined && body.state_event !== "close" && body.state_event !== "reopen") {
    return json(400, { error: "state_event does not have a valid value" });
  }
  const fields = writableFields(store, body);
  if (fields instanceof Response) return fields;
  let labels = fields.labels;
  const add = splitLabels(body.add_labels);
  const remove = splitLabels(body.remove_labels);
  if (add || remove) labels = [...(labels ?? found.labels), ...(add ?? [])].filter((l) => !(remove ?? []).includes(l));
  store.edit(iid, {
    title: typeof body.title === "string" ? body.title : undefined,
    body: body.description === undefined ? undefined : ((body.description as string | null) ?? null),
    state: body.state_event === undefined ? undefined : body.state_event === "close" ? "closed" : "open",
    labels,
    assignees: fields.assignees,
    milestone: fields.milestone,
  });
  return json(200, issue(req.base, store, store.require(iid)));
}

/** `labels` is "a,b" (an array is accepted too); unknown assignee or milestone ids are dropped. */
function writableFields(
  store: FakeStore,
  body: Record<string, unknown>,
): { labels?: string[]; assignees?: string[]; milestone?: string | null } | Response {
  const out: { labels?: string[]; assignees?: string[]; milestone?: string | null } = {};
  if (body.labels !== undefined) {
    const labels = splitLabels(body.labels);
    if (!labels) return json(400, { error: "labels is invalid" });
    out.labels = labels;
  }
  if (body.assignee_ids !== undefined) {
    const ids = numberArray(body.assignee_ids);
    if (!ids) return json(400, { error: "assignee_ids is invalid" });
    out.assignees = ids.map((id) => store.userById(id)?.login).filter((l): l is string => l !== undefined);
    // GitLab Free: one assignee per issue; the rest of `assignee_ids` is dropped without an error.
    if (store.singleAssignee) out.assignees = out.assignees.slice(0, 1);
  }
  if (body.milestone_id !== undefined) {
    const id = body.milestone_id;
    out.milestone = id === null || id === 0 ? null : (store.milestoneBy((m) => m.id === Number(id))?.title ?? null);
  }
  return out;
}

function splitLabels(value: unknown): string[] | null {
  if (value === undefined) return null;
  if (typeof value === "string") return value.split(",").map((l) => l.trim()).filter((l) => l !== "");
  return stringArray(value);
}

// ---------- JSON as GitLab renders it ----------

function webBase(base: string): string {
  return base.replace(/\/api\/v4\/?$/, "");
}

function user(base: string, u: FakeUser): Record<string, unknown> {
  return {
    id: u.id,
    username: u.login,
    name: u.login[0]?.toUpperCase() + u.login.slice(1),
    state: "active",
    avatar_url: `https://www.gravatar.com/avatar/${u.id}?s=80&d=identicon`,
    web_url: `${webBase(base)}/${u.login}`,
  };
}

// ---------- notes ----------

/**
 * Issue notes as GitLab serves them: `/issues/:iid/notes` (system notes included, `order_by`
 * created_at|updated_at, `sort`, `Link` + `x-next-page`), POST 201 (`internal` optional), and one
 * note: GET, PUT 200, DELETE 204. A note touches its issue's `updated_at`.
 */
async function routeNotes(store: FakeStore, req: FakeRequest, rest: string): Promise<Response | null> {
  const list = /^\/issues\/(\d+)\/notes$/.exec(rest);
  const one = /^\/issues\/(\d+)\/notes\/(\d+)$/.exec(rest);
  const iid = Number((list ?? one)?.[1] ?? NaN);
  if (!list && !one) return null;
  const issueFound = store.get(iid);
  if (!issueFound || issueFound.deleted || issueFound.kind === "pull_request") return notFound("Issue");
  if (list && req.method === "GET") {
    const q = req.url.searchParams;
    const byUpdated = q.get("order_by") === "updated_at";
    const asc = q.get("sort") === "asc";
    const all = store.visibleComments().filter((c) => c.issueNumber === iid);
    all.sort((a, b) => ((byUpdated ? a.updatedAt - b.updatedAt : a.createdAt - b.createdAt) || a.id - b.id) * (asc ? 1 : -1));
    const slice = pageOf(all, q.get("page"), q.get("per_page"), 20, 100);
    const headers: Record<string, string> = { "x-page": String(slice.page), "x-per-page": String(slice.perPage), "x-total": String(slice.total) };
    if (slice.page < slice.lastPage) headers["x-next-page"] = String(slice.page + 1);
    const base = new URL(`${req.base}${req.path.split("?")[0]}`);
    for (const [k, v] of q) if (k !== "page") base.searchParams.set(k, v);
    const link = linkHeader(base, slice, ["next", "first", "last", "prev"]);
    if (link) headers.link = link;
    return json(200, slice.items.map((c) => note(req.base, store, c)), headers);
  }
  if (list && req.method === "POST") {
    const body = await readJson(req.request);
    if (!body || typeof body.body !== "string" || body.body === "") return json(400, { message: { note: ["can't be blank"] } });
    const created = store.addComment(iid, { body: noteAsStored(store, body.body), author: store.tokenUser.login, internal: body.internal === true && !store.ignoresInternalOnCreate });
    return json(201, note(req.base, store, created));
  }
  if (one) {
    const found = store.comments.get(Number(one[2]));
    if (!found || found.deleted || found.issueNumber !== iid) return notFound("Note");
    if (req.method === "GET") return json(200, note(req.base, store, found));
    if (req.method === "PUT") {
      const body = await readJson(req.request);
      if (!body || typeof body.body !== "string") return json(400, { error: "body is missing" });
      return json(200, note(req.base, store, store.editComment(found.id, noteAsStored(store, body.body))));
    }
    if (req.method === "DELETE") {
      store.deleteComment(found.id);
      return new Response(null, { status: 204 });
    }
  }
  return null;
}

/** The quick actions the fake knows (a subset of GitLab's; any line starting with one is a command). */
const QUICK_ACTION = /^\/(spend|label|unlabel|move|close|reopen|assign|unassign|milestone|estimate|due|title|lock|confidential)\b.*$/gm;

/**
 * What GitLab stores for a note body it is sent: `Gitlab::QuickActions::Extractor` deletes every
 * `\r`, executes and removes each line that starts with a quick action (`/spend 1h`, `/label ~x`,
 * `/move group/other`; lib/gitlab/quick_actions/extractor.rb), and the rest is stripped of leading
 * and trailing whitespace. A backslash-escaped `\/spend` is no command (the regex anchors `/` at the
 * line start) and renders as `/spend` in Markdown.
 */
function noteAsStored(store: FakeStore, body: string): string {
  const text = body.replace(/\r/g, "").replace(QUICK_ACTION, (line) => {
    store.quickActions.push(line);
    return "";
  });
  return text.replace(/\n{3,}/g, "\n\n").trim();
}

export function note(base: string, store: FakeStore, c: FakeComment): Record<string, unknown> {
  const i = store.require(c.issueNumber);
  return {
    id: c.id,
    type: null,
    body: c.body,
    attachment: null,
    author: user(base, store.addUser(c.author)),
    created_at: isoMillis(c.createdAt),
    updated_at: isoMillis(c.updatedAt),
    system: c.system,
    noteable_id: i.id,
    noteable_type: "Issue",
    project_id: store.repositoryId,
    resolvable: false,
    confidential: c.internal,
    internal: c.internal,
    noteable_iid: i.number,
    commands_changes: {},
  };
}

/**
 * A Note Hook delivery for an issue note. GitLab sends `Confidential Note Hook` for internal notes
 * and for every note of a confidential issue, public ones included (`internal: false`): the hook
 * name says who may receive it, the note's `internal` says what it is (docs: user/project/
 * integrations/webhook_events.md, "Comment events").
 */
export function gitlabNotePayload(store: FakeStore, base: string, action: "create" | "update", c: FakeComment): Record<string, unknown> {
  const i = store.require(c.issueNumber);
  const author = store.addUser(c.author);
  const [namespace = "", name = ""] = store.repository.split("/");
  return {
    object_kind: "note",
    event_type: c.internal || i.confidential ? "confidential_note" : "note",
    user: { id: author.id, name: author.login, username: author.login, avatar_url: "", email: "[REDACTED]" },
    project_id: store.repositoryId,
    project: { id: store.repositoryId, name, namespace, web_url: `${webBase(base)}/${store.repository}`, path_with_namespace: store.repository, default_branch: "main" },
    object_attributes: {
      attachment: null,
      author_id: author.id,
      change_position: null,
      commit_id: null,
      created_at: utcSuffix(c.createdAt),
      discussion_id: `d${c.id}`,
      id: c.id,
      line_code: null,
      note: c.body,
      noteable_id: i.id,
      noteable_type: "Issue",
      original_position: null,
      position: null,
      project_id: store.repositoryId,
      resolved_at: null,
      resolved_by_id: null,
      resolved_by_push: null,
      st_diff: null,
      system: c.system,
      type: null,
      updated_at: utcSuffix(c.updatedAt),
      updated_by_id: null,
      description: c.body,
      url: `${issueWebUrl(base, store, i)}#note_${c.id}`,
      internal: c.internal,
      confidential: c.internal,
      action,
    },
    repository: { name, url: `${webBase(base)}/${store.repository}.git`, description: null, homepage: `${webBase(base)}/${store.repository}` },
    issue: issue(base, store, i),
  };
}

export function issueWebUrl(base: string, store: FakeStore, i: FakeIssue): string {
  return `${webBase(base)}/${store.repository}/-/${i.kind === "incident" ? "issues/incident" : "issues"}/${i.number}`;
}

export function issue(base: string, store: FakeStore, i: FakeIssue): Record<string, unknown> {
  const assignees = i.assignees.map((login) => user(base, store.addUser(login)));
  const m = i.milestone ? store.milestones.get(i.milestone) : undefined;
  return {
    id: i.id,
    iid: i.number,
    project_id: store.repositoryId,
    title: i.title,
    description: i.body,
    state: i.state === "open" ? "opened" : "closed",
    created_at: isoMillis(i.createdAt),
    updated_at: isoMillis(i.updatedAt),
    closed_at: i.closedAt === null ? null : isoMillis(i.closedAt),
    closed_by: i.closedAt === null ? null : user(base, store.tokenUser),
    labels: [...i.labels],
    milestone: m
      ? { id: m.id, iid: m.number, project_id: store.repositoryId, title: m.title, description: null, state: "active", created_at: isoMillis(m.createdAt), updated_at: isoMillis(m.createdAt), due_date: null, start_date: null, web_url: `${webBase(base)}/${store.repository}/-/milestones/${m.number}` }
      : null,
    assignees,
    assignee: assignees[0] ?? null,
    author: user(base, store.addUser(i.author)),
    type: i.kind === "incident" ? "INCIDENT" : "ISSUE",
    issue_type: i.kind === "incident" ? "incident" : "issue",
    user_notes_count: 0,
    merge_requests_count: 0,
    upvotes: 0,
    downvotes: 0,
    due_date: null,
    confidential: i.confidential,
    discussion_locked: null,
    web_url: issueWebUrl(base, store, i),
    time_stats: { time_estimate: 0, total_time_spent: 0, human_time_estimate: null, human_total_time_spent: null },
    task_completion_status: { count: 0, completed_count: 0 },
    has_tasks: false,
    references: { short: `#${i.number}`, relative: `#${i.number}`, full: `${store.repository}#${i.number}` },
    severity: "UNKNOWN",
    moved_to_id: i.movedToId,
    service_desk_reply_to: null,
  };
}

/** Moves an issue to another project: the old one is closed and points at the new global id. */
export function moveGitLab(store: FakeStore, number: number): FakeIssue {
  const moved = store.require(number);
  moved.movedToId = store.createId();
  const at = store.tick();
  moved.state = "closed";
  moved.closedAt = at;
  moved.updatedAt = at;
  return moved;
}

/** An Issue Hook body: `action` is GitLab's own (open, update, close, reopen). */
export function gitlabIssuePayload(
  store: FakeStore,
  base: string,
  action: string,
  i: FakeIssue,
  options: WebhookOptions,
): Record<string, unknown> {
  const time = options.gitlabTimeFormat === "iso" ? isoMillis : utcSuffix;
  const labels = i.labels.map((name) => {
    const l = store.ensureLabel(name);
    return { id: l.id, title: l.name, color: `#${l.color}`, project_id: store.repositoryId, created_at: time(store.nowMs), updated_at: time(store.nowMs), template: false, description: null, type: "ProjectLabel", group_id: null };
  });
  const assigneeIds = i.assignees.map((login) => store.addUser(login).id);
  const milestone = i.milestone ? store.milestones.get(i.milestone) : undefined;
  const [namespace = "", name = ""] = store.repository.split("/");
  const project = {
    id: store.repositoryId,
    name,
    description: null,
    web_url: `${webBase(base)}/${store.repository}`,
    namespace,
    path_with_namespace: store.repository,
    default_branch: "main",
  };
  const payload: Record<string, unknown> = {
    object_kind: "issue",
    event_type: i.confidential ? "confidential_issue" : "issue",
    user: { id: store.tokenUser.id, name: store.tokenUser.login, username: store.tokenUser.login, avatar_url: "", email: "[REDACTED]" },
    project,
    object_attributes: {
      author_id: store.addUser(i.author).id,
      closed_at: i.closedAt === null ? null : time(i.closedAt),
      confidential: i.confidential,
      created_at: time(i.createdAt),
      description: i.body,
      discussion_locked: null,
      due_date: null,
      id: i.id,
      iid: i.number,
      last_edited_at: null,
      last_edited_by_id: null,
      milestone_id: milestone?.id ?? null,
      moved_to_id: i.movedToId,
      duplicated_to_id: null,
      project_id: store.repositoryId,
      relative_position: 0,
      state_id: i.state === "open" ? 1 : 2,
      time_estimate: 0,
      title: i.title,
      updated_at: time(i.updatedAt),
      updated_by_id: store.tokenUser.id,
      type: i.kind === "incident" ? "Incident" : "Issue",
      url: issueWebUrl(base, store, i),
      total_time_spent: 0,
      time_change: 0,
      human_total_time_spent: null,
      human_time_change: null,
      human_time_estimate: null,
      assignee_ids: assigneeIds,
      assignee_id: assigneeIds[0] ?? null,
      labels,
      state: i.state === "open" ? "opened" : "closed",
      severity: "unknown",
      action,
    },
    labels,
    changes: options.changes ?? {},
    repository: { name, url: `${webBase(base)}/${store.repository}.git`, description: null, homepage: project.web_url },
  };
  // GitLab leaves `assignees` out entirely when nobody is assigned.
  if (i.assignees.length > 0) {
    payload.assignees = i.assignees.map((login) => {
      const u = store.addUser(login);
      return { id: u.id, name: login, username: login, avatar_url: "", email: "[REDACTED]" };
    });
  }
  return payload;
}
