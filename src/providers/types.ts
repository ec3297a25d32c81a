/**
 * The one interface every tracker adapter implements. Nothing outside `src/providers/` knows a
 * tracker's URL shapes, JSON or headers: the sync engine, webhooks and push only see these types.
 */

export const PROVIDERS = ["github", "gitlab", "gitea"] as const;
export type Provider = (typeof PROVIDERS)[number];

export type IssueState = "open" | "closed";

/**
 * Why an issue is in its state, where the tracker keeps it (GitHub `state_reason`): `completed`,
 * `not_planned`, `duplicate` on a closed issue, `reopened` on a reopened one. GitLab and Gitea have
 * no such field.
 */
export const CLOSE_REASONS = ["completed", "not_planned", "duplicate", "reopened"] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** A write's fields; `closeReason` goes with a state change (trackers without the field ignore it). */
export type IssuePatch = Partial<IssueFields> & { closeReason?: CloseReason | null };

/** The fields both sides hold and sync. `milestone` is the milestone's title. */
export interface IssueFields {
  title: string;
  body: string;
  state: IssueState;
  labels: string[];
  assignees: string[];
  milestone: string | null;
}

/** A tracker issue mapped to one provider-independent shape. All timestamps are ISO-8601 UTC with `Z`. */
export interface CanonicalIssue extends IssueFields {
  /** The tracker's global id (GitHub `id`, GitLab `id`, Gitea `id`), as a string. */
  externalId: string;
  /** The number used in URLs (GitHub/Gitea `number`, GitLab `iid`). */
  number: number;
  /** The human URL (`html_url` / `web_url`). */
  url: string;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  /**
   * Set when the tracker still lists the issue but it has moved elsewhere (GitLab keeps a moved
   * issue readable, closed, with `moved_to_id`): the sync treats it as gone, not as an edit.
   */
  movedTo?: string | null;
  /** Who opened the issue (login / username), when the answer says. */
  author?: string | null;
  /** Assignee login → the tracker's numeric user id (as a string), when the answer carries ids: renamed logins are followed. */
  assigneeIds?: Record<string, string>;
  /** The tracker's state reason (GitHub `state_reason`); absent on trackers without one. */
  closeReason?: CloseReason | null;
}

export interface IssuePage {
  /** Issues on this page, pull requests / merge requests / non-issue work items already removed. */
  issues: CanonicalIssue[];
  /** The `Link: rel="next"` URL, verbatim, or null on the last page. */
  nextUrl: string | null;
  /** GitHub: the page's ETag, to send back as `If-None-Match`. */
  etag: string | null;
  /** True when the tracker answered 304 Not Modified to `If-None-Match` (no items then). */
  notModified: boolean;
  /** The tracker's clock from the `Date` header, ISO UTC, when present. */
  serverTime: string | null;
  /** `updated_at` of the last raw item on the page (pull requests included), ISO UTC; null if empty. */
  lastUpdatedAt: string | null;
  /** Raw items on the page before pull requests were removed. */
  rawCount: number;
  /**
   * How many items the whole listing (this query, every page) holds, when the tracker says: GitLab
   * `X-Total` (omitted past 10,000 results), Gitea `X-Total-Count`. GitHub gives none: null/absent.
   */
  total?: number | null;
  /** GitHub: the pull requests among the page's items (the issue list carries them), for development links. */
  pullRequests?: CanonicalPullRequest[];
}

/**
 * What a listing page says about where the listing goes, known from the raw answer (headers and the
 * last raw item's `updated_at`) before its items are validated and normalised.
 */
export type IssuePageHead = Omit<IssuePage, "issues">;

/**
 * A narrowing of the issue listing that a tracker may apply itself (the sync scope pushed down). Every
 * issue it leaves out is out of scope; the caller still filters what it gets (trackers without list
 * filters ignore it). Label names are the tracker's.
 */
export interface ListFilter {
  /** Only issues carrying every one of these labels. */
  labelsAll?: string[];
  /** Only issues carrying none of these labels. */
  labelsNone?: string[];
  /** Only open issues. */
  openOnly?: boolean;
  /** Only issues created at or after this instant (ISO UTC). */
  createdSince?: string;
}

export interface ListPageRequest {
  /** Only issues updated at or after this instant (ISO UTC); omit for all issues. */
  since?: string | null;
  /** The scope to push down to the tracker's list filters (first page only: next URLs carry it). */
  filter?: ListFilter | null;
  /** Fetch this exact URL (a `nextUrl` from an earlier page); `since` is then ignored. */
  url?: string | null;
  /** Send `If-None-Match` with this ETag (GitHub only; other trackers ignore it). */
  etag?: string | null;
  /**
   * Called once with the page's head as soon as the raw answer is read, before its items are
   * validated and normalised (so a caller may request the next page meanwhile). An adapter that
   * does not call it leaves the caller to take the head from the finished page.
   */
  onHead?: (head: IssuePageHead) => void;
}

export type IssueLookup =
  | { status: "found"; issue: CanonicalIssue }
  | { status: "deleted" }
  | { status: "moved"; movedTo: string | null }
  | { status: "no_access" }
  /** The issue answered 404 and so did the repository itself: the token lost access; nothing is proven gone. */
  | { status: "access_lost" };

/** The repository as the tracker identifies it: its id survives renames and transfers. */
export interface RepositoryIdentity {
  id: string;
  /** "owner/name" (GitLab: the full path) as the tracker answers it now. */
  fullName: string;
}

export type RepositoryLookup = ({ status: "found" } & RepositoryIdentity) | { status: "not_found" };

export interface Tracker extends CommentTracker, PullRequestTracker {
  readonly provider: Provider;
  /** Largest page size the tracker allows for issue lists. */
  readonly pageSize: number;
  /** True when list results are ordered by `updated_at` ascending (GitHub, GitLab), false for Gitea. */
  readonly orderedByUpdate: boolean;
  /** HTTP requests made by this adapter instance so far (304s included). */
  readonly requestCount: number;

  /** One page of issues. Throws `RateLimitedError` / `TrackerError`. */
  listPage(request: ListPageRequest): Promise<IssuePage>;
  /** Every page from the first, following `nextUrl` verbatim; a caller may stop between pages. */
  listIssues(request?: Omit<ListPageRequest, "url">): AsyncGenerator<IssuePage>;
  getIssue(number: number): Promise<IssueLookup>;
  createIssue(fields: Omit<IssueFields, "state"> & { state?: IssueState; closeReason?: CloseReason | null }): Promise<CanonicalIssue>;
  /** Sends only the given fields. Returns the issue as the tracker stored it. */
  updateIssue(number: number, patch: IssuePatch): Promise<CanonicalIssue>;
  /**
   * Finds an issue this token's user created at or after `since` with exactly this title: how a
   * create whose response was lost is adopted instead of created twice. Null when there is none.
   */
  findCreatedIssue(title: string, since: string, accept?: (issue: CanonicalIssue) => boolean | Promise<boolean>): Promise<CanonicalIssue | null>;
  /** Reads the repository itself (same-origin redirects followed): 404 there means the token lost access. */
  getRepository(): Promise<RepositoryLookup>;
  /** What this adapter last learned about the repository while answering (null: it never read it). */
  readonly repositoryObserved: RepositoryLookup | null;
  /** The token's own user (login / username), read once. */
  currentUser(): Promise<string>;
  /** Every label an issue of the repository can carry (GitLab: group labels too; Gitea: organisation labels too). */
  listLabelNames(): Promise<Set<string>>;
  /** Creates an open milestone with this title (milestonePolicy.createMissing). */
  createMilestone(title: string): Promise<void>;
  /** The public email of a tracker user's profile, null when it shows none (trackers keep most private). */
  publicEmail?(login: string): Promise<string | null>;
  /**
   * When the token itself expires (ISO date or instant), null when it does not or the tracker does
   * not say. Only trackers whose tokens expire implement it (GitLab).
   */
  credentialExpiresAt?(): Promise<string | null>;
}

// ---------- comments ----------

/** A tracker comment mapped to one provider-independent shape (timestamps ISO UTC with `Z`). */
export interface CanonicalComment {
  /** GitHub/Gitea comment `id`, GitLab note `id`, as a string. */
  externalId: string;
  /** The number of the issue it belongs to (GitHub/Gitea `number`, GitLab `iid`). */
  issueNumber: number;
  url: string;
  body: string;
  /** Login/username of the tracker account that wrote it. */
  author: string;
  /** GitLab `internal: true` notes; always false elsewhere. */
  internal: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface CommentPage {
  /** Issue comments on this page; pull request conversation comments already removed. */
  comments: CanonicalComment[];
  nextUrl: string | null;
  etag: string | null;
  notModified: boolean;
  serverTime: string | null;
  /** `updated_at` of the last raw item (pull request comments included), ISO UTC; null if empty. */
  lastUpdatedAt: string | null;
  rawCount: number;
}

/**
 * Comment methods every adapter implements. GitHub and Gitea list a whole repository's comments
 * changed since an instant (`repositoryWideComments`); GitLab only per issue.
 */
export interface CommentTracker {
  readonly repositoryWideComments: boolean;
  /** The longest comment body the tracker accepts, in characters (GitHub 65,536; GitLab 1,000,000). */
  readonly maxCommentLength: number;
  /** True when the repository-wide listing is ordered by `updated_at` ascending (GitHub). */
  readonly commentsOrderedByUpdate: boolean;
  /** One page of the repository-wide listing (GitHub/Gitea; GitLab throws). */
  listCommentsPage(request: ListPageRequest): Promise<CommentPage>;
  /**
   * One page of one issue's comments in creation order (stable while read), system notes removed,
   * for the one listing loop; `request.url` is a `nextUrl` of an earlier page. Null when the issue is gone.
   */
  listIssueCommentsPage(issueNumber: number, request: ListPageRequest): Promise<CommentPage | null>;
  /** One comment, or null when it is gone. */
  getComment(issueNumber: number, externalId: string): Promise<CanonicalComment | null>;
  /** `internal`: GitLab only (an internal note); the other trackers are never asked for one. */
  createComment(issueNumber: number, body: string, options?: { internal?: boolean }): Promise<CanonicalComment>;
  updateComment(issueNumber: number, externalId: string, body: string): Promise<CanonicalComment>;
  /** Deletes; "gone" when the tracker no longer had it. */
  deleteComment(issueNumber: number, externalId: string): Promise<"deleted" | "gone">;
  /** Comments this token's user wrote on the issue at or after `since`: how a lost create is adopted. */
  findOwnComments(issueNumber: number, since: string): Promise<CanonicalComment[]>;
}

export interface TrackerConfig {
  provider: Provider;
  apiBaseUrl: string;
  /** "owner/name"; GitLab: the full path "group/sub/project" or the numeric id. */
  repository: string;
  token: string;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Max attempts for 5xx / network errors inside one call (bounded backoff). Default 3. */
  maxAttempts?: number;
  /** Per-request timeout in ms, body included (default 20 s). */
  timeoutMs?: number;
  /** Used for backoff waits; tests pass a no-op. */
  sleep?: (ms: number) => Promise<void>;
  /** Clock for rate-limit `retryAt` computed from relative `Retry-After` (epoch ms). Default Date.now. */
  now?: () => number;
  /**
   * The login the tracker shows as the author of what this credential creates, when `GET /user`
   * cannot tell (a GitHub App's installation token acts as `<slug>[bot]`).
   */
  actorLogin?: () => Promise<string>;
  /** The repository's id as last confirmed by the tracker, when known: id-addressed paths must carry it. */
  repositoryId?: string | null;
}

/** The tracker refused for rate limiting; try again at `retryAt` (ISO UTC). Never sleep on it. */
export class RateLimitedError extends Error {
  override readonly name = "RateLimitedError";
  constructor(
    readonly retryAt: string,
    readonly status: number,
  ) {
    super(`tracker rate limit reached; retry at ${retryAt}`);
  }
}

/**
 * Any other tracker failure. `retryable` is true for 5xx and network errors (after the adapter's own
 * bounded retries), false for 4xx such as 422 validation errors or 401/403 permission errors.
 * The message never holds the token or the request body.
 */
export class TrackerError extends Error {
  override readonly name = "TrackerError";
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** A write named a milestone the repository does not have (the sync's milestone policy decides what follows). */
export class MissingMilestoneError extends TrackerError {
  constructor(
    readonly title: string,
    message: string,
  ) {
    super(message, null, false);
  }
}

// ---------- webhooks ----------

export type EventKind = "issue" | "pull_request" | "push" | "other" | "comment";

/** Canonical issue actions across trackers. */
export type IssueAction =
  | "opened"
  | "edited"
  | "closed"
  | "reopened"
  | "deleted"
  | "transferred"
  | "labeled"
  | "assigned"
  | "milestoned"
  | "other";

export interface NormalizedEvent {
  provider: Provider;
  kind: EventKind;
  /** Canonical action for issues (see IssueAction); the tracker's own action string otherwise. */
  action: string;
  /** The tracker's event name header value (e.g. "issues", "Issue Hook"). */
  event: string;
  /** Issue events: the issue as the payload shows it, mapped like API reads. */
  issue: CanonicalIssue | null;
  /**
   * False when the payload does not carry every synced field reliably (so it must not be merged as
   * a full snapshot; the project gets a soon incremental run instead).
   */
  complete: boolean;
  /** Pull request / merge request / push: a small summary (number, title, state, ref, url…). */
  summary: Record<string, unknown>;
  /** Names of the fields the payload's `changes` says changed, when it says. */
  changedFields: string[];
  /** For transfers/moves: where the issue went, when known. */
  movedTo: string | null;
  /** The repository (GitLab: project) the payload is about, as far as it says: org/group hooks send others too. */
  repository?: WebhookRepository | null;
  /** Comment events (kind "comment"): the comment and what happened to it. */
  comment?: CommentEvent;
  /** Pull request / merge request events: the PR, when the payload carries what a stored PR needs. */
  pullRequest?: CanonicalPullRequest | null;
  /** Push events: the branch and its commits. */
  push?: CanonicalPush | null;
}

// ---------- development links ----------

export type PullRequestState = "open" | "draft" | "merged" | "closed";

/** A pull request (GitLab: merge request) mapped to one shape; timestamps ISO UTC. */
export interface CanonicalPullRequest {
  externalId: string;
  /** GitHub/Gitea `number`, GitLab `iid`. */
  number: number;
  title: string;
  body: string;
  url: string;
  author: string | null;
  state: PullRequestState;
  baseRef: string | null;
  headRef: string | null;
  mergedAt: string | null;
  closedAt: string | null;
  /** Null when the payload does not say (old Gitea): the copy is then applied unordered. */
  updatedAt: string | null;
  /** The repository's default branch, when the payload says. */
  defaultBranch: string | null;
}

export interface PushCommit {
  sha: string;
  message: string;
  url: string | null;
}

export interface CanonicalPush {
  /** The full ref (`refs/heads/main`). */
  ref: string;
  defaultBranch: string | null;
  commits: PushCommit[];
}

/** An issue a tracker itself says a pull request closes. `repository` null: the PR's own. */
export interface ClosingIssueRef {
  repository: string | null;
  number: number;
}

/** Pull request methods (optional: a tracker without them gets keyword links only). */
/** A page of a PR listing: the issue page's head fields (the listing loop reads them) and the PRs. */
export interface PullRequestPage extends IssuePageHead {
  pullRequests: CanonicalPullRequest[];
}

export interface PullRequestTracker {
  /**
   * One page of pull requests updated at or after `since` (all when null), for trackers whose issue
   * listing does not carry them (GitLab merge requests, Gitea pulls); `url` continues a listing.
   */
  listPullRequestsPage?(request: ListPageRequest): Promise<PullRequestPage>;
  /**
   * The issues the tracker says the PR closes (GitHub GraphQL `closingIssuesReferences`, GitLab
   * `closes_issues`). Null when the tracker cannot tell.
   */
  closingIssues?(number: number): Promise<ClosingIssueRef[] | null>;
  /**
   * The same for many PRs in one request (GitHub: one GraphQL query, an alias per PR), for a
   * listing page. A PR the tracker could not tell about is absent from the map.
   */
  closingIssuesOfMany?(numbers: readonly number[]): Promise<Map<number, ClosingIssueRef[]>>;
}

export interface CommentEvent {
  action: "created" | "edited" | "deleted";
  comment: CanonicalComment;
}

export interface WebhookHeaders {
  get(name: string): string | null;
}

// ---------- one tracker, as the registry holds it ----------

/**
 * Everything the rest of the worker may ask about one tracker. Each `providers/<name>/index.ts`
 * exports one; `registry.ts` keys them by provider, so nothing switches on the provider.
 */
export interface TrackerDescriptor {
  readonly provider: Provider;
  createTracker(config: TrackerConfig): Tracker;
  /**
   * True when the delivery carries its signature/token header in the tracker's form: checked before
   * any storage read, so an unsigned request costs no D1 read, body read or decryption.
   */
  signatureWellFormed(headers: WebhookHeaders): boolean;
  /** Checks a delivery on its raw bytes, in constant time; an empty secret verifies nothing. */
  verifyWebhook(headers: WebhookHeaders, rawBody: Uint8Array, secret: string): Promise<boolean>;
  /** Headers naming the delivery, best first; the first present one dedupes it. */
  readonly deliveryIdHeaders: readonly string[];
  /** Headers naming the event, best first. */
  readonly eventHeaders: readonly string[];
  /** The event name read from `eventHeaders`, or null when none is present. */
  eventName(headers: WebhookHeaders): string | null;
  /** Null when a delivery's body has the shape its (unsigned) event name says, else what does not fit. */
  webhookShapeProblem(event: string, payload: unknown): string | null;
  /** Normalizes a verified delivery; `event` is `eventName(...)`, "" when absent. */
  parseWebhook(event: string, payload: unknown): NormalizedEvent;
  /** Where the API lives when the project names no host; null when there is no public instance. */
  readonly defaultApiBaseUrl: string | null;
  /** What a project's `repository` must match, and the message saying so when it does not. */
  readonly repositoryPattern: RegExp;
  readonly repositoryProblem: string;
  /** Why a label name cannot be sent to this tracker as one label; absent when every name can. */
  labelNameProblem?(name: string): string | null;
  /** The repository a delivery is about (org/group hooks send other repositories' events too). */
  webhookRepository?(payload: unknown): WebhookRepository | null;
  /** True when the tracker has internal (confidential) comments a project may opt to push (GitLab's internal notes). */
  readonly hasInternalComments?: boolean;
  /** True when the tracker disables a hook that gets 4xx answers (GitLab): bad payloads then answer 2xx. */
  readonly disablesHookOn4xx?: boolean;
  /**
   * True when the tracker itself closes the issues a PR closes once it merges into the default
   * branch (GitHub: "Linking a pull request to an issue"; GitLab: "Closing issues automatically").
   */
  readonly closesIssuesOnDefaultBranchMerge?: boolean;
}

export interface WebhookRepository {
  id: string | null;
  fullName: string | null;
}
