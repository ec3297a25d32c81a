/**
 * The in-memory tracker state behind every fake: issues (and pull requests / incidents), users,
 * labels, milestones and a controllable clock. Provider modules render it in each tracker's JSON.
 * Erasable TypeScript only, so Node can run it directly (see serve.ts).
 */
import type { Provider } from "../../src/providers/types.ts";

export type FakeItemKind = "issue" | "pull_request" | "incident";

export interface FakeIssue {
  id: number;
  number: number;
  kind: FakeItemKind;
  title: string;
  body: string | null;
  state: "open" | "closed";
  labels: string[];
  assignees: string[];
  milestone: string | null;
  author: string;
  createdAt: number;
  updatedAt: number;
  closedAt: number | null;
  confidential: boolean;
  deleted: boolean;
  /** GitHub: where a transferred issue went (HTML and API URL). */
  transferredTo: { htmlUrl: string; apiUrl: string; number: number } | null;
  /** GitLab: the global id of the issue a move created. */
  movedToId: number | null;
  /** GitHub `state_reason`, set when the state changes (unset: "completed" when closed, null when open). */
  stateReason?: string | null;
}

export interface FakePull {
  id: number;
  number: number;
  title: string;
  body: string;
  state: "open" | "closed";
  draft: boolean;
  merged: boolean;
  headRef: string;
  baseRef: string;
  author: string;
  createdAt: number;
  updatedAt: number;
  closedAt: number | null;
  mergedAt: number | null;
  /** Issues linked in the sidebar (GitHub) — part of closingIssuesReferences beside keywords. */
  linkedIssues: number[];
}

export interface FakeComment {
  id: number;
  /** The issue (or pull request) number it belongs to. */
  issueNumber: number;
  body: string;
  author: string;
  createdAt: number;
  updatedAt: number;
  deleted: boolean;
  /** GitLab: a system note ("changed the description"), not a comment. */
  system: boolean;
  /** GitLab: an internal note. */
  internal: boolean;
}

export interface FakeUser {
  id: number;
  login: string;
  /** The email the user made public on their profile (unset: private). */
  publicEmail?: string;
}

export interface FakeLabel {
  id: number;
  name: string;
  color: string;
}

export interface FakeMilestone {
  id: number;
  number: number;
  title: string;
  state: "open" | "closed";
  createdAt: number;
}

export type IssueSeed = Partial<Omit<FakeIssue, "id" | "number" | "createdAt" | "updatedAt" | "closedAt">> & {
  createdAt?: string;
  updatedAt?: string;
};

export type IssueEdit = Partial<Pick<FakeIssue, "title" | "body" | "state" | "labels" | "assignees" | "milestone" | "stateReason">>;

export interface FakeStoreOptions {
  provider: Provider;
  repository: string;
  /** The fake's clock at start, ISO. */
  startTime: string;
  /** How far the clock moves after each mutation, so updates get distinct timestamps. */
  tickMs: number;
  /** Largest page the fake serves for issue lists, whatever the client asks for. */
  perPage: number;
}

const FIRST_ID: Record<Provider, number> = { github: 1_000_001, gitlab: 2_000_001, gitea: 3_000_001 };

export class FakeStore {
  readonly provider: Provider;
  /** "owner/name" now; `rename` changes it (the id stays). */
  repository: string;
  /** Names the repository had before renames: GitHub keeps redirecting them (see fake-github.ts). */
  readonly renamedFrom: string[] = [];
  /**
   * The token lost access to a private repository: GitHub, GitLab and Gitea then answer 404 (not
   * 403) for the repository and everything in it, as if it did not exist (PROVIDERS.md traps).
   */
  accessLost = false;
  /** Gitea: the server's `ROOT_URL` when it differs from the host the API is called on (Link headers use it). */
  rootUrl: string | null = null;
  /** GitHub repository id (Link URLs) / GitLab project id / Gitea repository id. */
  repositoryId = 4242;
  /** Who the accepted credential acts as (a GitHub App installation acts as `<slug>[bot]`). */
  tokenUser: FakeUser;
  /** GitLab: the token's `expires_at` (a date, `YYYY-MM-DD`), or null for none. */
  tokenExpiresAt: string | null = null;
  readonly issues = new Map<number, FakeIssue>();
  readonly users = new Map<string, FakeUser>();
  readonly labels = new Map<string, FakeLabel>();
  readonly milestones = new Map<string, FakeMilestone>();
  /** Pull requests (GitLab: merge requests) by number; see fake-pulls.ts. */
  readonly pulls = new Map<number, FakePull>();
  /** The repository's default branch. */
  defaultBranch = "main";
  /** GitLab "Auto-close referenced issues on default branch" (on by default); off: closes_issues is empty. */
  autocloseReferencedIssues = true;
  /**
   * GitHub: the token's user has no push access. GitHub then silently drops `labels`, `assignees`
   * and `milestone` from an issue create or edit and still answers 201/200 (REST docs: only users
   * with push access can set them; "Otherwise, they are silently dropped").
   */
  tokenWithoutPushAccess = false;
  /** GitLab Free: an issue has at most one assignee; extra `assignee_ids` are dropped (the first is kept). */
  singleAssignee = false;
  /**
   * Gitea: organisation labels, listed at `/orgs/{owner}/labels` only (the repository's `/labels`
   * lists repository labels alone), usable on every repository of the organisation.
   */
  readonly orgLabels = new Map<string, FakeLabel>();
  /** Gitea: whether the owner is an organisation; for a user-owned repository `/orgs/{owner}/…` is 404. */
  ownerIsOrganisation = false;
  /** Gitea: repository labels created under a name that already existed (Gitea makes a second one). */
  readonly duplicateLabels: FakeLabel[] = [];
  /** Gitea: every name a label was created under while a repository or organisation label had it. */
  readonly duplicatedLabelNames: string[] = [];
  readonly comments = new Map<number, FakeComment>();
  tickMs: number;
  perPage: number;
  private clockMs: number;
  private nextId: number;
  private nextNumber = 1;
  private nextSmallId = 1;

  constructor(options: FakeStoreOptions) {
    this.provider = options.provider;
    this.repository = options.repository;
    this.clockMs = Date.parse(options.startTime);
    this.tickMs = options.tickMs;
    this.perPage = options.perPage;
    this.nextId = FIRST_ID[options.provider];
    this.tokenUser = this.addUser("syndarix-bot");
    for (const login of ["alice", "bob", "carol"]) this.addUser(login);
  }

  // ---------- clock ----------

  get nowMs(): number {
    return this.clockMs;
  }

  set nowMs(value: number) {
    this.clockMs = value;
  }

  advance(ms: number): void {
    this.clockMs += ms;
  }

  /** The instant for a mutation; the clock then moves on by `tickMs`. */
  tick(): number {
    const at = this.clockMs;
    this.clockMs += this.tickMs;
    return at;
  }

  // ---------- reference data ----------

  addUser(login: string): FakeUser {
    const existing = this.users.get(login);
    if (existing) return existing;
    const user = { id: this.users.size + 1, login };
    this.users.set(login, user);
    return user;
  }

  /**
   * A user renames their account: the id stays, every issue and comment shows the new login, and
   * no issue's `updated_at` moves (GitHub: "Changing your username" keeps your content, now under
   * the new name; GitLab and Gitea likewise key users by id).
   */
  renameUser(from: string, to: string): FakeUser {
    const user = this.users.get(from);
    if (!user) throw new Error(`no user ${from}`);
    this.users.delete(from);
    const renamed = { ...user, login: to };
    this.users.set(to, renamed);
    for (const issue of this.issues.values()) {
      issue.assignees = issue.assignees.map((a) => (a === from ? to : a));
      if (issue.author === from) issue.author = to;
    }
    return renamed;
  }

  userById(id: number): FakeUser | undefined {
    for (const user of this.users.values()) if (user.id === id) return user;
    return undefined;
  }

  ensureLabel(name: string, color = "ededed"): FakeLabel {
    const existing = this.labels.get(name) ?? this.orgLabels.get(name);
    if (existing) return existing;
    const label = { id: this.nextSmallId++, name, color: color.replace(/^#/, "") };
    this.labels.set(name, label);
    return label;
  }

  /** Gitea: an organisation label (and the owner becomes an organisation). */
  addOrgLabel(name: string, color = "e11d21"): FakeLabel {
    this.ownerIsOrganisation = true;
    const existing = this.orgLabels.get(name);
    if (existing) return existing;
    const label = { id: this.nextSmallId++, name, color };
    this.orgLabels.set(name, label);
    return label;
  }

  /** Gitea: a repository label, even when one with that name exists (Gitea does not refuse it). */
  createRepoLabel(name: string, color: string): FakeLabel {
    const label = { id: this.nextSmallId++, name, color: color.replace(/^#/, "") };
    if (this.labels.has(name) || this.orgLabels.has(name)) this.duplicatedLabelNames.push(name);
    if (this.labels.has(name)) this.duplicateLabels.push(label);
    else this.labels.set(name, label);
    return label;
  }

  labelById(id: number): FakeLabel | undefined {
    for (const label of [...this.labels.values(), ...this.orgLabels.values(), ...this.duplicateLabels]) if (label.id === id) return label;
    return undefined;
  }

  addMilestone(title: string, state: "open" | "closed" = "open"): FakeMilestone {
    const existing = this.milestones.get(title);
    if (existing) return existing;
    const milestone = { id: this.nextSmallId++ + 100, number: this.milestones.size + 1, title, state, createdAt: this.clockMs };
    this.milestones.set(title, milestone);
    return milestone;
  }

  milestoneBy(predicate: (m: FakeMilestone) => boolean): FakeMilestone | undefined {
    for (const m of this.milestones.values()) if (predicate(m)) return m;
    return undefined;
  }

  // ---------- issues ----------

  seedIssue(seed: IssueSeed = {}): FakeIssue {
    const at = seed.createdAt ? Date.parse(seed.createdAt) : this.tick();
    const number = this.nextNumber++;
    const state = seed.state ?? "open";
    const issue: FakeIssue = {
      id: this.nextId++,
      number,
      kind: seed.kind ?? "issue",
      title: seed.title ?? `Issue ${number}`,
      body: seed.body === undefined ? `Body of issue ${number}` : seed.body,
      state,
      labels: [...(seed.labels ?? [])],
      assignees: [...(seed.assignees ?? [])],
      milestone: seed.milestone ?? null,
      author: seed.author ?? "alice",
      createdAt: at,
      updatedAt: seed.updatedAt ? Date.parse(seed.updatedAt) : at,
      closedAt: state === "closed" ? at : null,
      confidential: seed.confidential ?? false,
      deleted: false,
      transferredTo: null,
      movedToId: null,
    };
    for (const label of issue.labels) this.ensureLabel(label);
    for (const login of issue.assignees) this.addUser(login);
    if (issue.milestone) this.addMilestone(issue.milestone);
    this.issues.set(number, issue);
    return issue;
  }

  /** Seeds `count` items; every `pullRequestEvery`-th one a pull request (GitLab: an incident). */
  seed(count: number, options: { pullRequestEvery?: number } = {}): FakeIssue[] {
    const created: FakeIssue[] = [];
    for (let i = 1; i <= count; i++) {
      const other = options.pullRequestEvery !== undefined && i % options.pullRequestEvery === 0;
      const kind: FakeItemKind = other ? (this.provider === "gitlab" ? "incident" : "pull_request") : "issue";
      created.push(this.seedIssue({ kind, labels: i % 3 === 0 ? ["bug"] : [] }));
    }
    return created;
  }

  get(number: number): FakeIssue | undefined {
    return this.issues.get(number);
  }

  require(number: number): FakeIssue {
    const issue = this.issues.get(number);
    if (!issue) throw new Error(`fake ${this.provider}: no issue #${number}`);
    return issue;
  }

  /** Changes an issue as a person on the tracker would, bumping `updated_at`. */
  edit(number: number, change: IssueEdit): FakeIssue {
    const issue = this.require(number);
    if (change.title !== undefined) issue.title = change.title;
    if (change.body !== undefined) issue.body = change.body;
    if (change.labels !== undefined) {
      issue.labels = [...new Set(change.labels)];
      for (const label of issue.labels) this.ensureLabel(label);
    }
    if (change.assignees !== undefined) {
      issue.assignees = [...new Set(change.assignees)];
      for (const login of issue.assignees) this.addUser(login);
    }
    if (change.milestone !== undefined) {
      issue.milestone = change.milestone;
      if (change.milestone) this.addMilestone(change.milestone);
    }
    const at = this.tick();
    if (change.state !== undefined && change.state !== issue.state) {
      issue.state = change.state;
      issue.closedAt = change.state === "closed" ? at : null;
      // GitHub: a reason only goes with a state change; closing defaults to completed, reopening is "reopened".
      issue.stateReason = change.stateReason ?? (change.state === "closed" ? "completed" : "reopened");
    }
    issue.updatedAt = at;
    return issue;
  }

  delete(number: number): void {
    this.require(number).deleted = true;
  }

  /** Issues visible in lists: not deleted, not transferred away. */
  visible(): FakeIssue[] {
    return [...this.issues.values()].filter((i) => !i.deleted && !i.transferredTo);
  }

  createId(): number {
    return this.nextId++;
  }

  // ---------- comments ----------

  /**
   * Adds a comment as a person on the tracker would. All three trackers touch the issue's
   * `updated_at` when a comment is written (GitLab documents it for notes).
   */
  addComment(issueNumber: number, seed: Partial<Pick<FakeComment, "body" | "author" | "system" | "internal">> = {}): FakeComment {
    const issue = this.require(issueNumber);
    const at = this.tick();
    const comment: FakeComment = {
      id: this.nextId++,
      issueNumber,
      body: seed.body ?? `Comment on #${issueNumber}`,
      author: seed.author ?? "bob",
      createdAt: at,
      updatedAt: at,
      deleted: false,
      system: seed.system ?? false,
      internal: seed.internal ?? false,
    };
    this.addUser(comment.author);
    this.comments.set(comment.id, comment);
    this.touchForNote(issue, at);
    return comment;
  }

  editComment(id: number, body: string): FakeComment {
    const c = this.requireComment(id);
    c.body = body;
    c.updatedAt = this.tick();
    this.touchForNote(this.require(c.issueNumber), c.updatedAt);
    return c;
  }

  /**
   * A comment touches its issue's `updated_at`. GitLab throttles the touch: an issue updated within
   * the last minute is not touched again (`app/models/concerns/throttled_touch.rb`, TOUCH_INTERVAL
   * = 1.minute, `super if (Time.zone.now - updated_at) > TOUCH_INTERVAL`).
   */
  private touchForNote(issue: FakeIssue, at: number): void {
    if (this.provider === "gitlab" && at - issue.updatedAt <= 60_000) return;
    issue.updatedAt = at;
  }

  /** GitLab before 15.3: `internal` on a note create is ignored (the attribute was added in 15.3). */
  ignoresInternalOnCreate = false;
  /** GitLab: quick-action lines a note write executed (they are removed from the stored note). */
  readonly quickActions: string[] = [];

  deleteComment(id: number): void {
    this.requireComment(id).deleted = true;
  }

  requireComment(id: number): FakeComment {
    const c = this.comments.get(id);
    if (!c) throw new Error(`fake ${this.provider}: no comment ${id}`);
    return c;
  }

  /** Live comments, oldest first by creation. */
  visibleComments(): FakeComment[] {
    return [...this.comments.values()].filter((c) => !c.deleted && this.get(c.issueNumber) !== undefined && !this.get(c.issueNumber)!.deleted).sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);
  }
}

// ---------- shared rendering ----------

/** `2024-01-02T03:04:05Z` (GitHub). */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** `2024-01-02T03:04:05.123Z` (GitLab REST). */
export function isoMillis(ms: number): string {
  return new Date(ms).toISOString();
}

/** `2018-09-17 21:01:30 UTC` (older GitLab webhooks). */
export function utcSuffix(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** RFC 3339 in a server zone with a fixed offset, e.g. `2024-01-02T05:04:05+02:00` (Gitea). */
export function withOffset(ms: number, offsetMinutes: number): string {
  const local = new Date(Math.floor(ms / 1000) * 1000 + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 || status === 304 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

export interface PageSlice<T> {
  items: T[];
  page: number;
  perPage: number;
  lastPage: number;
  total: number;
}

export function pageOf<T>(all: T[], pageParam: string | null, perPageParam: string | null, defaultPerPage: number, maxPerPage: number): PageSlice<T> {
  const perPage = Math.max(1, Math.min(maxPerPage, Number(perPageParam ?? defaultPerPage) || defaultPerPage));
  const page = Math.max(1, Number(pageParam ?? 1) || 1);
  const lastPage = Math.max(1, Math.ceil(all.length / perPage));
  return { items: all.slice((page - 1) * perPage, page * perPage), page, perPage, lastPage, total: all.length };
}

/** A `Link` header over `base` (whose query is kept) with `page` replaced per relation. */
export function linkHeader(base: URL, slice: PageSlice<unknown>, rels: ("first" | "prev" | "next" | "last")[]): string {
  const at = (page: number): string => {
    const url = new URL(base.toString());
    url.searchParams.set("page", String(page));
    return url.toString();
  };
  const parts: string[] = [];
  for (const rel of rels) {
    if (rel === "next" && slice.page < slice.lastPage) parts.push(`<${at(slice.page + 1)}>; rel="next"`);
    if (rel === "prev" && slice.page > 1) parts.push(`<${at(slice.page - 1)}>; rel="prev"`);
    if (rel === "first" && slice.page > 1) parts.push(`<${at(1)}>; rel="first"`);
    if (rel === "last" && slice.page < slice.lastPage) parts.push(`<${at(slice.lastPage)}>; rel="last"`);
  }
  return parts.join(", ");
}

export function parseTime(value: string | null): number | null | "invalid" {
  if (value === null || value === "") return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? "invalid" : ms;
}

export async function readJson(request: Request): Promise<Record<string, unknown> | null> {
  const text = await request.text();
  if (text === "") return {};
  try {
    const body = JSON.parse(text) as unknown;
    return body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function stringArray(value: unknown): string[] | null {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : null;
}

export function numberArray(value: unknown): number[] | null {
  return Array.isArray(value) && value.every((v) => typeof v === "number") ? (value as number[]) : null;
}

/** What a provider module gets for one request, its path relative to the API base. */
export interface FakeRequest {
  method: string;
  url: URL;
  /** Path below the API base, still URL-encoded (GitLab's `group%2Fproject`). */
  path: string;
  request: Request;
  /** The API base as seen from outside (`https://api.github.com`, `http://127.0.0.1:8788/api/v4`). */
  base: string;
}

export interface FakeWebhook {
  /** Lower-case header names, as the tracker sends them. */
  headers: Record<string, string>;
  /** The body as sent: the JSON text, or `payload=<urlencoded JSON>` for a form delivery. */
  body: string;
  rawBody: Uint8Array;
  payload: Record<string, unknown>;
}

export interface WebhookOptions {
  changes?: Record<string, unknown>;
  /** GitLab: timestamps in webhooks, `utc` (`… UTC`, older GitLab) or `iso`. */
  gitlabTimeFormat?: "utc" | "iso";
}
