/**
 * Gitea API v1 adapter and webhook mapping.
 * Quirks: the issue list has no sort parameter (every page must be read, `orderedByUpdate` is
 * false) and `since` compares whole Unix seconds; pull requests are in the list unless
 * `type=issues`; at most 50 items a page by default; PATCH answers 201; labels are set by id
 * through their own endpoint; `assignees` is null when nobody is assigned; timestamps carry the
 * server's UTC offset.
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

const giteaIssue = z.object({
  id: z.number(),
  number: z.number(),
  title: z.string(),
  body: z.string().nullish(),
  state: z.string(),
  html_url: z.string(),
  labels: z.array(z.object({ name: z.string() })).nullish(),
  assignees: z.array(user).nullish(),
  assignee: user.nullish(),
  milestone: z.object({ title: z.string() }).nullish(),
  created_at: z.string(),
  updated_at: z.string(),
  closed_at: z.string().nullish(),
  pull_request: z.unknown().nullish(),
});
type GiteaIssue = z.infer<typeof giteaIssue>;

const namedId = z.object({ id: z.number(), name: z.string() });
const titledId = z.object({ id: z.number(), title: z.string() });

/** Gitea's default `[api] MAX_RESPONSE_ITEMS`. */
const GITEA_PAGE_SIZE = 50;
/** Color for labels this adapter has to create (Gitea, unlike GitHub and GitLab, won't). */
const NEW_LABEL_COLOR = "#ededed";

export class GiteaTracker implements Tracker {
  readonly provider = "gitea" as const;
  readonly pageSize = GITEA_PAGE_SIZE;
  readonly orderedByUpdate = false;
  private readonly http: TrackerHttp;
  private readonly repoPath: string;
  private readonly repository: string;
  private login: string | null = null;
  private labelIds: Map<string, number> | null = null;
  private milestoneIds: Map<string, number> | null = null;

  constructor(config: TrackerConfig) {
    this.http = new TrackerHttp(config);
    this.repository = config.repository;
    const [owner, name, ...rest] = config.repository.split("/");
    if (!owner || !name || rest.length > 0) throw new TrackerError(`gitea repository must be "owner/name"`, null, false);
    this.repoPath = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  }

  get requestCount(): number {
    return this.http.requestCount;
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
    const raw = parseList(res.body);
    const last = raw.at(-1);
    return {
      issues: raw.filter((item) => item.pull_request == null).map(toCanonical),
      nextUrl: parseLinkHeader(res.headers.get("link")).next ?? null,
      etag: null,
      notModified: false,
      serverTime: serverTimeOf(res.headers),
      lastUpdatedAt: last ? toUtcIso(last.updated_at) : null,
      rawCount: raw.length,
    };
  }

  listIssues(request: Omit<ListPageRequest, "url"> = {}): AsyncGenerator<IssuePage> {
    return walkPages((r) => this.listPage(r), request);
  }

  async getIssue(number: number): Promise<IssueLookup> {
    const res = await this.http.request("GET", this.http.url(`${this.repoPath}/issues/${number}`), {
      accept: [403, 404],
    });
    if (res.status === 404) return { status: "deleted" };
    if (res.status === 403) return { status: "no_access" };
    return { status: "found", issue: toCanonical(parseIssue(res.body)) };
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

  async findCreatedIssue(title: string, since: string): Promise<CanonicalIssue | null> {
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
    const floorIso = toUtcIso(floor);
    for (const item of items) {
      const issue = parseIssue(item);
      if (issue.pull_request != null || issue.title !== title) continue;
      if (toUtcIso(issue.created_at) >= floorIso) return toCanonical(issue);
    }
    return null;
  }

  private async currentLogin(): Promise<string> {
    if (this.login === null) {
      const me = user.safeParse(await this.http.getJson(this.http.url("/user")));
      if (!me.success) throw new TrackerError("gitea GET /user answered without a login", null, false);
      this.login = me.data.login;
    }
    return this.login;
  }

  /** Label names to ids; a missing repository label is created, as GitHub and GitLab do on write. */
  private async labelIdsOf(names: readonly string[]): Promise<number[]> {
    if (this.labelIds === null) {
      const items = await this.http.getAllPages(this.http.url(`${this.repoPath}/labels`, { limit: this.pageSize }));
      this.labelIds = new Map();
      for (const item of items) {
        const label = namedId.safeParse(item);
        if (label.success) this.labelIds.set(label.data.name, label.data.id);
      }
    }
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

  private async milestoneId(title: string): Promise<number> {
    if (this.milestoneIds === null) {
      const items = await this.http.getAllPages(
        this.http.url(`${this.repoPath}/milestones`, { state: "all", limit: this.pageSize }),
      );
      this.milestoneIds = new Map();
      for (const item of items) {
        const m = titledId.safeParse(item);
        if (m.success) this.milestoneIds.set(m.data.title, m.data.id);
      }
    }
    const id = this.milestoneIds.get(title);
    if (id === undefined) {
      throw new TrackerError(`gitea milestone ${JSON.stringify(title)} does not exist in ${this.repository}`, null, false);
    }
    return id;
  }
}

function parseIssue(body: unknown): GiteaIssue {
  const result = giteaIssue.safeParse(body);
  if (!result.success) {
    const field = result.error.issues[0]?.path.map(String).join(".") ?? "";
    throw new TrackerError(`gitea answered an issue without a valid ${field || "body"}`, null, false);
  }
  return result.data;
}

function parseList(body: unknown): GiteaIssue[] {
  if (!Array.isArray(body)) throw new TrackerError("gitea issue list is not a list", null, false);
  return body.map(parseIssue);
}

function toCanonical(issue: GiteaIssue): CanonicalIssue {
  return canonicalIssue({
    externalId: issue.id,
    number: issue.number,
    url: issue.html_url,
    title: issue.title,
    body: issue.body,
    state: issue.state,
    labels: (issue.labels ?? []).map((l) => l.name),
    assignees: issue.assignees ? issue.assignees.map((a) => a.login) : issue.assignee ? [issue.assignee.login] : [],
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
  assigned: "assigned",
  unassigned: "assigned",
  label_updated: "labeled",
  label_cleared: "labeled",
  milestoned: "milestoned",
  demilestoned: "milestoned",
};

const ACTION_FIELDS: Partial<Record<IssueAction, keyof IssueFields>> = {
  closed: "state",
  reopened: "state",
  labeled: "labels",
  assigned: "assignees",
  milestoned: "milestone",
};

const CHANGE_FIELDS: Record<string, keyof IssueFields> = { title: "title", body: "body" };

const issuePayload = z.object({
  action: z.string(),
  issue: giteaIssue,
  changes: z.record(z.string(), z.unknown()).nullish(),
});

const pullRequestPayload = z.object({
  action: z.string().optional(),
  number: z.number().optional(),
  pull_request: z
    .object({
      number: z.number().optional(),
      title: z.string().optional(),
      state: z.string().optional(),
      merged: z.boolean().optional(),
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
  commits: z.array(z.unknown()).nullish(),
});

/** `event` is `X-Gitea-Event-Type` when sent (issue_label…), else `X-Gitea-Event` (issues…). */
export function parseGiteaWebhook(event: string, payload: unknown): NormalizedEvent {
  if (event === "issues" || event === "issue_assign" || event === "issue_label" || event === "issue_milestone") {
    return parseIssueEvent(event, payload);
  }
  if (event.startsWith("pull_request") && !event.includes("comment") && !event.includes("review")) {
    const p = parsePayload(pullRequestPayload, payload, "gitea pull_request payload");
    const pr = p.pull_request ?? {};
    return nonIssueEvent("gitea", "pull_request", event, p.action ?? "", {
      number: pr.number ?? p.number ?? null,
      title: pr.title ?? null,
      state: pr.state ?? null,
      merged: pr.merged ?? false,
      url: pr.html_url ?? null,
      headRef: pr.head?.ref ?? null,
      baseRef: pr.base?.ref ?? null,
    });
  }
  if (event === "push") {
    const p = parsePayload(pushPayload, payload, "gitea push payload");
    return nonIssueEvent("gitea", "push", event, "push", {
      ref: p.ref ?? null,
      before: p.before ?? null,
      after: p.after ?? null,
      commits: p.commits?.length ?? 0,
    });
  }
  const action = (payload as { action?: unknown } | null)?.action;
  return nonIssueEvent("gitea", "other", event, typeof action === "string" ? action : "");
}

function parseIssueEvent(event: string, payload: unknown): NormalizedEvent {
  const p = parsePayload(issuePayload, payload, "gitea issues payload");
  if (p.issue.pull_request != null) {
    return nonIssueEvent("gitea", "pull_request", event, p.action, { number: p.issue.number, title: p.issue.title });
  }
  const action = ISSUE_ACTIONS[p.action] ?? "other";
  const changedFields = new Set<string>();
  for (const key of Object.keys(p.changes ?? {})) {
    const field = CHANGE_FIELDS[key];
    if (field) changedFields.add(field);
  }
  const implied = ACTION_FIELDS[action];
  if (implied) changedFields.add(implied);
  return {
    provider: "gitea",
    kind: "issue",
    action,
    event,
    issue: toCanonical(p.issue),
    // Gitea sends the full API issue; a null `assignees` means nobody, not unknown.
    complete: p.issue.labels !== undefined,
    summary: { action: p.action, number: p.issue.number },
    changedFields: [...changedFields].sort(),
    movedTo: null,
  };
}
