/**
 * GitHub REST adapter and `issues` webhook mapping.
 * Quirks: the issue list mixes in pull requests (items with a `pull_request` key); `Link` next
 * URLs switch to `/repositories/<id>/issues` and must be followed verbatim; a conditional GET
 * answering 304 costs no rate limit; a transferred issue answers 301, a deleted one 410, and an
 * issue we may not read 404 — indistinguishable from deleted.
 */
import { z } from "zod";
import { canonicalIssue } from "./canonical";
import { parseLinkHeader, serverTimeOf, TrackerHttp, walkPages } from "./http";
import { toUtcIso, toWholeSecondSince } from "./timestamps";
import {
  TrackerError,
  type CanonicalIssue,
  type IssueAction,
  type IssueFields,
  type IssueLookup,
  type IssuePage,
  type IssueState,
  type ListPageRequest,
  type NormalizedEvent,
  type Tracker,
  type TrackerConfig,
} from "./types";
import { nonIssueEvent, parsePayload } from "./webhooks";

const user = z.object({ login: z.string() });

/** The fields we read from a REST issue; webhooks carry the same object. */
const githubIssue = z.object({
  id: z.number(),
  number: z.number(),
  title: z.string(),
  body: z.string().nullish(),
  state: z.enum(["open", "closed"]),
  html_url: z.string(),
  labels: z.array(z.union([z.string(), z.object({ name: z.string() })])).optional(),
  assignees: z.array(user).nullish(),
  assignee: user.nullish(),
  milestone: z.object({ title: z.string() }).nullish(),
  created_at: z.string(),
  updated_at: z.string(),
  closed_at: z.string().nullish(),
  pull_request: z.unknown().optional(),
});
type GitHubIssue = z.infer<typeof githubIssue>;

const milestoneRef = z.object({ number: z.number(), title: z.string() });

export class GitHubTracker implements Tracker {
  readonly provider = "github" as const;
  readonly pageSize = 100;
  readonly orderedByUpdate = true;
  private readonly http: TrackerHttp;
  private readonly repoPath: string;
  private readonly repository: string;
  private login: string | null = null;
  private milestones: Map<string, number> | null = null;

  constructor(config: TrackerConfig) {
    this.http = new TrackerHttp(config);
    this.repository = config.repository;
    this.repoPath = `/repos/${repositoryPath(config.repository)}`;
  }

  get requestCount(): number {
    return this.http.requestCount;
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
    const raw = parseList(res.body, "issue list");
    const last = raw.at(-1);
    return {
      issues: raw.filter((item) => item.pull_request === undefined).map(toCanonical),
      nextUrl: parseLinkHeader(res.headers.get("link")).next ?? null,
      etag: res.headers.get("etag"),
      notModified: false,
      serverTime,
      lastUpdatedAt: last ? toUtcIso(last.updated_at) : null,
      rawCount: raw.length,
    };
  }

  listIssues(request: Omit<ListPageRequest, "url"> = {}): AsyncGenerator<IssuePage> {
    return walkPages((r) => this.listPage(r), request);
  }

  async getIssue(number: number): Promise<IssueLookup> {
    const res = await this.http.request("GET", this.http.url(`${this.repoPath}/issues/${number}`), {
      accept: [301, 302, 307, 403, 404, 410],
      manualRedirect: true,
    });
    switch (res.status) {
      case 301:
      case 302:
      case 307:
        return { status: "moved", movedTo: res.headers.get("location") };
      case 410:
      case 404:
        return { status: "deleted" };
      case 403:
        return { status: "no_access" };
      default:
        return { status: "found", issue: toCanonical(parseIssue(res.body)) };
    }
  }

  async createIssue(fields: Omit<IssueFields, "state"> & { state?: IssueState }): Promise<CanonicalIssue> {
    const body: Record<string, unknown> = {
      title: fields.title,
      body: fields.body,
      labels: fields.labels,
      assignees: fields.assignees,
    };
    if (fields.milestone !== null) body.milestone = await this.milestoneNumber(fields.milestone);
    const res = await this.http.request("POST", this.http.url(`${this.repoPath}/issues`), { json: body });
    const created = toCanonical(parseIssue(res.body));
    // The create endpoint takes no state: a closed issue is created, then closed.
    if (fields.state === "closed") return this.updateIssue(created.number, { state: "closed" });
    return created;
  }

  async updateIssue(number: number, patch: Partial<IssueFields>): Promise<CanonicalIssue> {
    const body: Record<string, unknown> = {};
    if (patch.title !== undefined) body.title = patch.title;
    if (patch.body !== undefined) body.body = patch.body;
    if (patch.state !== undefined) body.state = patch.state;
    if (patch.labels !== undefined) body.labels = patch.labels;
    if (patch.assignees !== undefined) body.assignees = patch.assignees;
    if (patch.milestone !== undefined) {
      body.milestone = patch.milestone === null ? null : await this.milestoneNumber(patch.milestone);
    }
    const res = await this.http.request("PATCH", this.http.url(`${this.repoPath}/issues/${number}`), { json: body });
    return toCanonical(parseIssue(res.body));
  }

  async findCreatedIssue(title: string, since: string): Promise<CanonicalIssue | null> {
    const creator = await this.currentLogin();
    // `since` filters on updated_at, a superset of "created since"; created_at narrows it.
    const items = await this.http.getAllPages(
      this.http.url(`${this.repoPath}/issues`, {
        state: "all",
        creator,
        since: toWholeSecondSince(since),
        sort: "created",
        direction: "asc",
        per_page: this.pageSize,
      }),
    );
    const floor = toWholeSecondSince(since);
    for (const item of items) {
      const issue = parseIssue(item);
      if (issue.pull_request !== undefined || issue.title !== title) continue;
      if (toUtcIso(issue.created_at) >= toUtcIso(floor)) return toCanonical(issue);
    }
    return null;
  }

  private async currentLogin(): Promise<string> {
    if (this.login === null) {
      const me = user.safeParse(await this.http.getJson(this.http.url("/user")));
      if (!me.success) throw new TrackerError("github GET /user answered without a login", null, false);
      this.login = me.data.login;
    }
    return this.login;
  }

  private async milestoneNumber(title: string): Promise<number> {
    if (this.milestones === null) {
      const items = await this.http.getAllPages(
        this.http.url(`${this.repoPath}/milestones`, { state: "all", per_page: 100 }),
      );
      this.milestones = new Map();
      for (const item of items) {
        const m = milestoneRef.safeParse(item);
        if (m.success) this.milestones.set(m.data.title, m.data.number);
      }
    }
    const number = this.milestones.get(title);
    if (number === undefined) {
      throw new TrackerError(`github milestone ${JSON.stringify(title)} does not exist in ${this.repository}`, null, false);
    }
    return number;
  }
}

function repositoryPath(repository: string): string {
  const [owner, name, ...rest] = repository.split("/");
  if (!owner || !name || rest.length > 0) throw new TrackerError(`github repository must be "owner/name"`, null, false);
  return `${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}

function parseIssue(body: unknown): GitHubIssue {
  const result = githubIssue.safeParse(body);
  if (!result.success) {
    const field = result.error.issues[0]?.path.map(String).join(".") ?? "";
    throw new TrackerError(`github answered an issue without a valid ${field || "body"}`, null, false);
  }
  return result.data;
}

function parseList(body: unknown, what: string): GitHubIssue[] {
  if (!Array.isArray(body)) throw new TrackerError(`github ${what} is not a list`, null, false);
  return body.map(parseIssue);
}

function assigneeLogins(issue: GitHubIssue): string[] {
  if (issue.assignees) return issue.assignees.map((a) => a.login);
  return issue.assignee ? [issue.assignee.login] : [];
}

function toCanonical(issue: GitHubIssue): CanonicalIssue {
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

// ---------- webhooks ----------

const ISSUE_ACTIONS: Record<string, IssueAction> = {
  opened: "opened",
  edited: "edited",
  closed: "closed",
  reopened: "reopened",
  deleted: "deleted",
  transferred: "transferred",
  labeled: "labeled",
  unlabeled: "labeled",
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

const issuesPayload = z.object({
  action: z.string(),
  // Pinned/unpinned deliveries carry a trimmed issue (no state, no labels): accepted, not complete.
  issue: githubIssue.extend({ state: githubIssue.shape.state.optional() }),
  changes: z.record(z.string(), z.unknown()).optional(),
});

const transferChanges = z.object({ new_issue: z.object({ html_url: z.string() }) });

const pullRequestPayload = z.object({
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

const pushPayload = z.object({
  ref: z.string().optional(),
  before: z.string().optional(),
  after: z.string().optional(),
  commits: z.array(z.unknown()).optional(),
});

export function parseGitHubWebhook(event: string, payload: unknown): NormalizedEvent {
  if (event === "issues") return parseIssuesEvent(event, payload);
  if (event === "pull_request") {
    const p = parsePayload(pullRequestPayload, payload, "github pull_request payload");
    const pr = p.pull_request ?? {};
    return nonIssueEvent("github", "pull_request", event, p.action ?? "", {
      number: pr.number ?? p.number ?? null,
      title: pr.title ?? null,
      state: pr.state ?? null,
      merged: pr.merged ?? false,
      draft: pr.draft ?? false,
      url: pr.html_url ?? null,
      headRef: pr.head?.ref ?? null,
      baseRef: pr.base?.ref ?? null,
    });
  }
  if (event === "push") {
    const p = parsePayload(pushPayload, payload, "github push payload");
    return nonIssueEvent("github", "push", event, "push", {
      ref: p.ref ?? null,
      before: p.before ?? null,
      after: p.after ?? null,
      commits: p.commits?.length ?? 0,
    });
  }
  const action = (payload as { action?: unknown } | null)?.action;
  return nonIssueEvent("github", "other", event, typeof action === "string" ? action : "");
}

function parseIssuesEvent(event: string, payload: unknown): NormalizedEvent {
  const p = parsePayload(issuesPayload, payload, "github issues payload");
  const action = ISSUE_ACTIONS[p.action] ?? "other";
  const changedFields = new Set<string>();
  for (const key of Object.keys(p.changes ?? {})) {
    const field = CHANGE_FIELDS[key];
    if (field) changedFields.add(field);
  }
  const implied = ACTION_FIELDS[action];
  if (implied) changedFields.add(implied);
  const transfer = action === "transferred" ? transferChanges.safeParse(p.changes) : null;
  const state = p.issue.state ?? (p.issue.closed_at ? "closed" : "open");
  return {
    provider: "github",
    kind: "issue",
    action,
    event,
    issue: toCanonical({ ...p.issue, state }),
    complete:
      p.issue.state !== undefined &&
      p.issue.labels !== undefined &&
      (p.issue.assignees != null || p.issue.assignee === null),
    summary: { action: p.action, number: p.issue.number },
    changedFields: [...changedFields].sort(),
    movedTo: transfer?.success ? transfer.data.new_issue.html_url : null,
  };
}
