import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const projects = sqliteTable(
  "projects",
  {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  provider: text("provider", { enum: ["github", "gitlab", "gitea"] }).notNull(),
  apiBaseUrl: text("api_base_url").notNull(),
  repository: text("repository").notNull(),
  syncDirection: text("sync_direction", { enum: ["inbound", "outbound", "bidirectional"] }).notNull(),
  master: text("master", { enum: ["tracker", "local"] }).notNull().default("tracker"),
  deletionPolicy: text("deletion_policy", { enum: ["orphan", "delete", "recreate"] }).notNull().default("orphan"),
  syncEnabled: integer("sync_enabled", { mode: "boolean" }).notNull().default(true),
  /** AES-GCM ciphertext ("v1.<iv>.<ct>", base64url) of the tracker token. */
  tokenEnc: text("token_enc").notNull(),
  webhookSecretEnc: text("webhook_secret_enc").notNull(),
  /** Incremental cursor: every tracker change updated before this instant is stored. */
  cursor: text("cursor"),
  /** GitHub ETag of the last "changed since cursor" first page, for a 304 when nothing changed. */
  cursorEtag: text("cursor_etag"),
  /** Pacing of tracker creates (GitHub's secondary limit on content creation). */
  nextCreateAt: text("next_create_at"),
  createdAt: text("created_at").notNull().default(now),
  updatedAt: text("updated_at").notNull().default(now),
  lastIncrementalSyncAt: text("last_incremental_sync_at"),
  lastFullSyncAt: text("last_full_sync_at"),
  lastError: text("last_error"),
  /** The repository's id on the tracker, stored the first time it is read: renames keep it, another repository has another. */
  trackerRepositoryId: text("tracker_repository_id"),
  /** The repository's current name as the tracker answers it (differs from `repository` after a rename). */
  trackerRepositoryName: text("tracker_repository_name"),
  /** Set while the tracker answers 404 for the repository itself: the token lost access (nothing is deleted). */
  accessLostAt: text("access_lost_at"),
  accessError: text("access_error"),
  /** GitHub App projects: the installation whose tokens the project uses (`token_enc` is then ""). */
  installationId: integer("installation_id"),
  /** Comment listing cursor (GitHub/Gitea repository-wide; GitLab: issues changed since). */
  commentCursor: text("comment_cursor"),
  /** GitHub ETag of the last comment listing's first page, for a 304 when nothing changed. */
  commentCursorEtag: text("comment_cursor_etag"),
  /** Prefix comments pushed with the sync's token with a line naming their local author. */
  commentAttribution: integer("comment_attribution", { mode: "boolean" }).notNull().default(false),
  /** GitLab only: internal comments are sent as internal notes (off: internal comments never leave Syndarix). */
  gitlabInternalNotes: integer("gitlab_internal_notes", { mode: "boolean" }).notNull().default(false),
  /** People, values and scope (JSON, null: the default): see src/sync/project-settings.ts. */
  fieldMaps: text("field_maps"),
  labelPolicy: text("label_policy"),
  milestonePolicy: text("milestone_policy"),
  scope: text("scope"),
  fieldDirections: text("field_directions"),
  /** Development links: JSON of `prAutomation` (null: never close on merge, no status labels). */
  prAutomation: text("pr_automation"),
  /** Pull request listing cursor (GitLab merge requests, Gitea pulls): the PR phase keeps its own. */
  pullRequestCursor: text("pull_request_cursor"),
  /** Why the last PR phase failed (null once one completes): the phase stuck, issues and comments not. */
  pullRequestPhaseError: text("pull_request_phase_error"),
  pullRequestPhaseErrorAt: text("pull_request_phase_error_at"),
  /** The D1 database holding this project and its rows: 0 is `DB`, n is `DB_SHARD_n` (src/db/shards.ts). */
  shard: integer("shard").notNull().default(0),
  /** Why the last comment phase failed (null once one completes): the same shape as the PR phase's. */
  commentPhaseError: text("comment_phase_error"),
  commentPhaseErrorAt: text("comment_phase_error_at"),
  },
  (t) => [index("projects_installation_idx").on(t.installationId)],
);

export const issues = sqliteTable(
  "issues",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    title: text("title").notNull(),
    body: text("body").notNull().default(""),
    state: text("state", { enum: ["open", "closed"] }).notNull().default("open"),
    /** JSON array of label names, sorted. */
    labels: text("labels").notNull().default("[]"),
    /** JSON array of logins/usernames, sorted. */
    assignees: text("assignees").notNull().default("[]"),
    milestone: text("milestone"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    /** Bumped on every local write; guards compare-and-set updates (D1 has no interactive transactions). */
    version: integer("version").notNull().default(1),
    externalId: text("external_id"),
    externalNumber: integer("external_number"),
    externalUrl: text("external_url"),
    externalUpdatedAt: text("external_updated_at"),
    /**
     * JSON of the IssueFields both sides last agreed on: the three-way merge base and echo filter.
     * Before an issue is linked it holds the fields a tracker create sent, so a retry can find that
     * issue by the title it was created with.
     */
    base: text("base"),
    baseHash: text("base_hash"),
    syncState: text("sync_state", { enum: ["synced", "pending_push", "conflict", "orphaned", "error"] })
      .notNull()
      .default("synced"),
    syncError: text("sync_error"),
    deletedAt: text("deleted_at"),
    /** The last full run whose tracker listing contained this issue: the rest are probed for deletion. */
    lastSeenRunId: text("last_seen_run_id"),
    /** How many `issue_text_parts` rows hold the body (0: the `body` column holds it). */
    bodyParts: integer("body_parts").notNull().default(0),
    /** How many `issue_text_parts` rows hold the base JSON (0: the `base` column holds it). */
    baseParts: integer("base_parts").notNull().default(0),
    /** JSON array of SyncWarning: fields the tracker refused on the last push, kept locally. */
    syncWarnings: text("sync_warnings"),
    /**
     * Why the issue is in its state (GitHub `state_reason`: completed, not_planned, duplicate when
     * closed; reopened when open); null when unknown or the tracker has no such field.
     */
    closeReason: text("close_reason"),
    /** Set while the issue is out of the sync scope under `onLeave: "freeze"`: its comments wait too. */
    scopeFrozenAt: text("scope_frozen_at"),
  },
  (t) => [
    uniqueIndex("issues_project_external_uq").on(t.projectId, t.externalId),
    index("issues_project_updated_idx").on(t.projectId, t.updatedAt, t.id),
    index("issues_project_number_idx").on(t.projectId, t.externalNumber),
    // migrations/0007: keyset pages by id, and a partial index of the issues not 'synced'.
    index("issues_project_id_idx").on(t.projectId, t.id),
    index("issues_project_unsynced_idx").on(t.projectId, t.syncState).where(sql`${t.syncState} <> 'synced'`),
  ],
);

/** A body or base JSON too large for an issue row (D1: 2,000,000 bytes a row), in order. */
export const issueTextParts = sqliteTable(
  "issue_text_parts",
  {
    issueId: text("issue_id").notNull(),
    projectId: text("project_id").notNull(),
    /** An issue's "body"/"base", or a comment's "comment.body"/"comment.base" (then `issue_id` holds the comment's id). */
    field: text("field", { enum: ["body", "base", "comment.body", "comment.base"] }).notNull(),
    seq: integer("seq").notNull(),
    text: text("text").notNull(),
  },
  (t) => [primaryKey({ columns: [t.issueId, t.field, t.seq] }), index("issue_text_parts_project_idx").on(t.projectId)],
);

export const syncRuns = sqliteTable(
  "sync_runs",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    mode: text("mode", { enum: ["incremental", "full"] }).notNull(),
    trigger: text("trigger", { enum: ["cron", "api", "webhook", "resume"] }).notNull(),
    status: text("status", { enum: ["queued", "running", "succeeded", "failed"] }).notNull().default("queued"),
    /** JSON: where the run continues (next page URL / keyset since, phase, high-water mark). */
    checkpoint: text("checkpoint"),
    /** When a rate-limited run resumes (ISO UTC). */
    resumeAt: text("resume_at"),
    pages: integer("pages").notNull().default(0),
    fetched: integer("fetched").notNull().default(0),
    created: integer("created").notNull().default(0),
    updated: integer("updated").notNull().default(0),
    unchanged: integer("unchanged").notNull().default(0),
    conflicts: integer("conflicts").notNull().default(0),
    orphaned: integer("orphaned").notNull().default(0),
    pushed: integer("pushed").notNull().default(0),
    requests: integer("requests").notNull().default(0),
    error: text("error"),
    /** Issues the tracker says the listing holds (GitLab `X-Total`, Gitea `X-Total-Count`), when it says. */
    total: integer("total"),
    createdAt: text("created_at").notNull().default(now),
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
  },
  (t) => [
    index("sync_runs_project_created_idx").on(t.projectId, t.createdAt),
    index("sync_runs_status_idx").on(t.projectId, t.status),
    // Runs queued or going, across projects (the dashboard's overview).
    index("sync_runs_active_idx").on(t.projectId).where(sql`${t.status} IN ('queued', 'running')`),
  ],
);

export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    provider: text("provider", { enum: ["github", "gitlab", "gitea"] }).notNull(),
    deliveryId: text("delivery_id").notNull(),
    event: text("event").notNull(),
    action: text("action"),
    /** The raw JSON body as received. */
    payload: text("payload").notNull(),
    status: text("status", { enum: ["received", "applied", "ignored", "failed"] }).notNull().default("received"),
    attempts: integer("attempts").notNull().default(0),
    error: text("error"),
    receivedAt: text("received_at").notNull().default(now),
    processedAt: text("processed_at"),
    /** SHA-256 (hex) of the raw body: the same signed body under another event or delivery id is a duplicate. */
    bodySha256: text("body_sha256"),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_project_delivery_uq").on(t.projectId, t.deliveryId),
    uniqueIndex("webhook_deliveries_project_body_uq").on(t.projectId, t.bodySha256),
    index("webhook_deliveries_project_status_idx").on(t.projectId, t.status),
    // The cron sweep looks for deliveries stuck in "received" across all projects.
    index("webhook_deliveries_status_received_idx").on(t.status, t.receivedAt),
  ],
);

export const outbox = sqliteTable(
  "outbox",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    /** One live row per issue: successive local edits coalesce into it. */
    issueId: text("issue_id").notNull(),
    op: text("op", { enum: ["create", "update", "recreate"] }).notNull(),
    status: text("status", { enum: ["pending", "done", "failed"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** Set before a tracker create is sent; a retry with this set first looks for the issue it created. */
    createAttemptedAt: text("create_attempted_at"),
    nextAttemptAt: text("next_attempt_at"),
    lastError: text("last_error"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("outbox_issue_uq").on(t.issueId),
    index("outbox_project_status_idx").on(t.projectId, t.status),
    // The cron sweep looks for pending rows whose push job was lost, across all projects.
    index("outbox_status_updated_idx").on(t.status, t.updatedAt),
  ],
);

export const conflicts = sqliteTable(
  "conflicts",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    issueId: text("issue_id").notNull(),
    field: text("field").notNull(),
    /** JSON values. */
    baseValue: text("base_value"),
    localValue: text("local_value"),
    trackerValue: text("tracker_value"),
    /** Which side won: the project's master at the time. */
    resolution: text("resolution", { enum: ["tracker", "local"] }).notNull(),
    createdAt: text("created_at").notNull().default(now),
    /** Settled by hand (keep local / take tracker): when, which side, and the API token's name. */
    resolvedAt: text("resolved_at"),
    resolvedKeep: text("resolved_keep", { enum: ["tracker", "local"] }),
    resolvedBy: text("resolved_by"),
    /** Set when the conflict was about a comment (field "comment.body"). */
    commentId: text("comment_id"),
  },
  (t) => [
    index("conflicts_project_created_idx").on(t.projectId, t.createdAt, t.id),
    index("conflicts_issue_idx").on(t.issueId),
    // Open conflicts of every project in one read (the dashboard's overview).
    index("conflicts_open_idx").on(t.projectId).where(sql`${t.resolvedAt} IS NULL`),
  ],
);

export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    provider: text("provider", { enum: ["github", "gitlab", "gitea"] }).notNull(),
    deliveryId: text("delivery_id"),
    kind: text("kind", { enum: ["issue", "pull_request", "push", "other", "comment"] }).notNull(),
    action: text("action").notNull(),
    externalId: text("external_id"),
    externalNumber: integer("external_number"),
    /** JSON: the normalized event (snapshot or summary). */
    data: text("data").notNull(),
    occurredAt: text("occurred_at").notNull(),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("events_project_created_idx").on(t.projectId, t.createdAt, t.id)],
);

/**
 * The activity stream: every change the product made, in commit order (`seq`, assigned by SQLite in
 * the writing batch). Rows outlive their project (an audit trail of its deletion); retention prunes them.
 */
export const activity = sqliteTable(
  "activity",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    projectId: text("project_id").notNull(),
    issueId: text("issue_id"),
    kind: text("kind").notNull(),
    source: text("source").notNull(),
    /** The API token's name for changes made through the API or dashboard; null for sync. */
    actor: text("actor"),
    runId: text("run_id"),
    deliveryId: text("delivery_id"),
    /** JSON `{ field: { before, after } }`, each value bounded in bytes. */
    changes: text("changes"),
    detail: text("detail"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    index("activity_project_seq_idx").on(t.projectId, t.seq),
    index("activity_issue_seq_idx").on(t.issueId, t.seq),
    index("activity_created_idx").on(t.createdAt),
    // The dashboard's health: each project's latest credential refusal and token replacement, read without scanning its history.
    index("activity_access_idx").on(t.projectId, t.kind, t.createdAt).where(sql`${t.kind} IN ('access.failed', 'project.token_replaced')`),
  ],
);

/**
 * One row per credential projects share: a GitHub App installation (`app:<api origin>:<installation>`)
 * or a token (`token:<sha256 of api origin and token>`; the token itself is only in each project's
 * `token_enc`). Holds the cached installation token (encrypted), the shared rate-limit budget and
 * the credential's health.
 */
export const credentials = sqliteTable("credentials", {
  id: text("id").primaryKey(),
  kind: text("kind", { enum: ["installation", "token"] }).notNull(),
  provider: text("provider", { enum: ["github", "gitlab", "gitea"] }).notNull(),
  apiBaseUrl: text("api_base_url").notNull(),
  installationId: integer("installation_id"),
  /** AES-GCM ciphertext of the cached installation token (bound to the credential id). */
  accessTokenEnc: text("access_token_enc"),
  accessTokenExpiresAt: text("access_token_expires_at"),
  rateRemaining: integer("rate_remaining"),
  rateResetAt: text("rate_reset_at"),
  /** Set when one project learned the budget is spent: every project on it waits until then. */
  limitedUntil: text("limited_until"),
  health: text("health", { enum: ["ok", "rejected", "suspended", "removed"] }).notNull().default("ok"),
  healthAt: text("health_at"),
  healthReason: text("health_reason"),
  /** GitLab: the token's own `expires_at` (a date), when the tracker tells. */
  tokenExpiresAt: text("token_expires_at"),
  tokenExpiryCheckedAt: text("token_expiry_checked_at"),
  updatedAt: text("updated_at").notNull().default(now),
});

/** Repositories a GitHub App installation can see, by GitHub's repository id (survives renames). */
export const githubAppRepositories = sqliteTable(
  "github_app_repositories",
  {
    repositoryId: text("repository_id").primaryKey(),
    installationId: integer("installation_id").notNull(),
    fullName: text("full_name").notNull(),
    /** Set when the repository was removed from the installation; its projects are paused. */
    removedAt: text("removed_at"),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [index("github_app_repositories_installation_idx").on(t.installationId)],
);

/** Which repository (by id) an App project syncs: how App deliveries find their projects. */
export const githubAppProjectRepositories = sqliteTable(
  "github_app_project_repositories",
  {
    projectId: text("project_id").primaryKey(),
    repositoryId: text("repository_id").notNull(),
  },
  (t) => [index("github_app_project_repositories_repo_idx").on(t.repositoryId)],
);

/** App-level deliveries (installation events) already handled, by `X-GitHub-Delivery` and by body. */
export const githubAppDeliveries = sqliteTable(
  "github_app_deliveries",
  {
    deliveryId: text("delivery_id").primaryKey(),
    event: text("event").notNull(),
    action: text("action"),
    receivedAt: text("received_at").notNull().default(now),
    /** SHA-256 (hex) of the raw body: the same signed body under a fresh delivery id is a duplicate. */
    bodySha256: text("body_sha256"),
  },
  (t) => [uniqueIndex("github_app_deliveries_body_uq").on(t.bodySha256)],
);

export type CredentialRow = typeof credentials.$inferSelect;
export type GitHubAppRepositoryRow = typeof githubAppRepositories.$inferSelect;

export const comments = sqliteTable(
  "comments",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    issueId: text("issue_id").notNull(),
    body: text("body").notNull(),
    author: text("author").notNull(),
    visibility: text("visibility", { enum: ["public", "internal"] }).notNull().default("public"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    /** Bumped on every local write; guards compare-and-set updates. */
    version: integer("version").notNull().default(1),
    externalId: text("external_id"),
    externalUrl: text("external_url"),
    externalUpdatedAt: text("external_updated_at"),
    /** The body both sides last agreed on (attribution line removed): the three-way base and echo filter. */
    base: text("base"),
    syncState: text("sync_state", { enum: ["synced", "pending_push", "conflict", "error"] }).notNull().default("synced"),
    syncError: text("sync_error"),
    deletedAt: text("deleted_at"),
    /**
     * When the tracker proved the comment deleted (a 404 while its issue read fine, or a deletion
     * webhook); null for a local deletion. A tracker copy newer than this revives the comment.
     */
    deletionProofAt: text("deletion_proof_at"),
    /** Parts of `body` in `issue_text_parts` (field "comment.body"; 0: inline), as for issues (issue-texts.ts). */
    bodyParts: integer("body_parts").notNull().default(0),
    /** Parts of `base` in `issue_text_parts` (field "comment.base"; 0: inline). */
    baseParts: integer("base_parts").notNull().default(0),
    /** The last full run whose listing contained this comment. */
    lastSeenRunId: text("last_seen_run_id"),
  },
  (t) => [
    uniqueIndex("comments_project_external_uq").on(t.projectId, t.externalId),
    index("comments_issue_created_idx").on(t.issueId, t.createdAt, t.id),
    index("comments_project_state_idx").on(t.projectId, t.syncState),
  ],
);

export const commentOutbox = sqliteTable(
  "comment_outbox",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    /** One live row per comment: successive local edits coalesce into it. */
    commentId: text("comment_id").notNull(),
    op: text("op", { enum: ["create", "update", "delete"] }).notNull(),
    status: text("status", { enum: ["pending", "done", "failed"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** Set before a tracker create is sent; a retry with this set first looks for the comment it created. */
    createAttemptedAt: text("create_attempted_at"),
    /** The exact text a create sent (attribution included), to recognise it after a lost answer. */
    sentBody: text("sent_body"),
    nextAttemptAt: text("next_attempt_at"),
    lastError: text("last_error"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("comment_outbox_comment_uq").on(t.commentId),
    index("comment_outbox_project_status_idx").on(t.projectId, t.status),
    index("comment_outbox_status_updated_idx").on(t.status, t.updatedAt),
  ],
);

/** Tracker comments whose issue is not imported yet: applied once it is. */
export const pendingComments = sqliteTable(
  "pending_comments",
  {
    projectId: text("project_id").notNull(),
    externalId: text("external_id").notNull(),
    issueNumber: integer("issue_number").notNull(),
    /** JSON of the CanonicalComment. */
    comment: text("comment").notNull(),
    receivedAt: text("received_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.externalId] }), index("pending_comments_issue_idx").on(t.projectId, t.issueNumber)],
);

export type ProjectRow = typeof projects.$inferSelect;
export type ActivityRow = typeof activity.$inferSelect;
export type IssueRow = typeof issues.$inferSelect;
export type SyncRunRow = typeof syncRuns.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type OutboxRow = typeof outbox.$inferSelect;
export type ConflictRow = typeof conflicts.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type CommentRow = typeof comments.$inferSelect;
export type CommentOutboxRow = typeof commentOutbox.$inferSelect;

/** The six synced fields as an issue row holds them, lists parsed (the shape of a tracker's `IssueFields`). */
export interface StoredFields {
  title: string;
  body: string;
  state: IssueRow["state"];
  labels: string[];
  assignees: string[];
  milestone: string | null;
}

/** A tracker issue confirmed deleted and removed locally (policy `delete`): replayed deliveries cannot revive it. */
export const issueTombstones = sqliteTable(
  "issue_tombstones",
  {
    projectId: text("project_id").notNull(),
    externalId: text("external_id").notNull(),
    externalNumber: integer("external_number"),
    externalUpdatedAt: text("external_updated_at"),
    deletedAt: text("deleted_at").notNull(),
    /** The local issue's id: a revived issue gets it back, and with it its comments. */
    issueId: text("issue_id"),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.externalId] })],
);

// ---------- Idempotency keys (API creates: a retried POST with the same key answers the first result) ----------

/** The first answer to a POST sent with `Idempotency-Key`, per API token name, kept 24 hours. */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    tokenName: text("token_name").notNull(),
    key: text("key").notNull(),
    /** SHA-256 (hex) of method, path and body: the same key with another request is refused. */
    requestHash: text("request_hash").notNull(),
    /** Null while the first request is still being answered. */
    status: integer("status"),
    response: text("response"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tokenName, t.key] }), index("idempotency_keys_created_idx").on(t.createdAt)],
);
export type IdempotencyKeyRow = typeof idempotencyKeys.$inferSelect;

// ---------- Dashboard sessions (issue 21: sessions that can be ended) ----------

/**
 * Dashboard sessions that may still be used: a signed cookie is accepted only while its row is
 * here. Sign-out deletes the row; deleting every row signs everyone out (see docs/security.md).
 */
export const dashboardSessions = sqliteTable("dashboard_sessions", {
  id: text("id").primaryKey(),
  /** The API token's name the session was opened with (never the token). */
  tokenName: text("token_name").notNull(),
  expiresAt: text("expires_at").notNull(),
  createdAt: text("created_at").notNull().default(now),
});

// ---------- Freshness (issue 26): tracker change → applied here, per project, source and hour ----------

/**
 * Upper bounds (ms) of the freshness histogram's bins; a lag above the last one counts in the
 * overflow bin. Columns b0…b20 of `freshness` hold the counts in this order, b21 the overflow.
 */
export const FRESHNESS_BINS_MS = [
  50, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000, 86_400_000,
] as const;

const bin = (i: number) => integer(`b${i}`).notNull().default(0);

/**
 * How long applied tracker changes took to show up here (the tracker's `updated_at` → our write),
 * as a histogram per project, source (webhook, poll, full) and UTC hour: one upserted row per
 * applied page or delivery, not one per change. Pruned by the daily retention.
 */
export const freshness = sqliteTable(
  "freshness",
  {
    projectId: text("project_id").notNull(),
    source: text("source", { enum: ["webhook", "poll", "full"] }).notNull(),
    /** `YYYY-MM-DDTHH` (UTC) of the writes counted. */
    hour: text("hour").notNull(),
    count: integer("count").notNull().default(0),
    sumMs: integer("sum_ms").notNull().default(0),
    maxMs: integer("max_ms").notNull().default(0),
    b0: bin(0), b1: bin(1), b2: bin(2), b3: bin(3), b4: bin(4), b5: bin(5), b6: bin(6), b7: bin(7), b8: bin(8), b9: bin(9), b10: bin(10),
    b11: bin(11), b12: bin(12), b13: bin(13), b14: bin(14), b15: bin(15), b16: bin(16), b17: bin(17), b18: bin(18), b19: bin(19), b20: bin(20),
    b21: bin(21),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.source, t.hour] })],
);
export type FreshnessRow = typeof freshness.$inferSelect;

// ---------- People, values and scope: identities ----------

/** A platform user's login on one tracker (per provider and API origin), with the tracker's user id where known. */
export const identities = sqliteTable(
  "identities",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    provider: text("provider", { enum: ["github", "gitlab", "gitea"] }).notNull(),
    /** The tracker's API origin (`https://api.github.com`, a GitLab or Gitea host). */
    trackerOrigin: text("tracker_origin").notNull(),
    login: text("login").notNull(),
    /** The tracker's numeric user id: a renamed login still maps through it. */
    trackerUserId: text("tracker_user_id"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
    /** The platform user's email (lower case), when given: a tracker's public email matching it is a suggestion. */
    email: text("email"),
  },
  (t) => [
    uniqueIndex("identities_tracker_login_uq").on(t.provider, t.trackerOrigin, t.login),
    index("identities_user_idx").on(t.userId),
    index("identities_tracker_user_idx").on(t.provider, t.trackerOrigin, t.trackerUserId),
    index("identities_email_idx").on(t.email),
  ],
);
export type IdentityRow = typeof identities.$inferSelect;

// ---------- development links (pull requests, merge requests, branches, commits) ----------

/** A project's pull requests (GitLab: merge requests) as the tracker last showed them. */
export const pullRequests = sqliteTable(
  "pull_requests",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    externalId: text("external_id").notNull(),
    number: integer("number").notNull(),
    title: text("title").notNull(),
    /** The description, kept to recompute keyword links when only a state changes (bounded). */
    body: text("body").notNull().default(""),
    url: text("url").notNull(),
    author: text("author"),
    state: text("state", { enum: ["open", "draft", "merged", "closed"] }).notNull(),
    baseRef: text("base_ref"),
    headRef: text("head_ref"),
    mergedAt: text("merged_at"),
    closedAt: text("closed_at"),
    /** The tracker's `updated_at`: an older copy never overwrites a newer one. */
    updatedAt: text("updated_at").notNull(),
    /** JSON array of references to repositories no project syncs (recorded once per change). */
    ignoredRefs: text("ignored_refs").notNull().default("[]"),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [uniqueIndex("pull_requests_project_number_idx").on(t.projectId, t.number), index("pull_requests_project_updated_idx").on(t.projectId, t.updatedAt)],
);

/**
 * One link between an issue and a pull request, branch or commit, per source. Tracker-made links
 * name the issue by number (`issue_number`, in the issue's project), so an issue imported after its
 * PR is still found; manual links name it by id.
 */
export const devLinks = sqliteTable(
  "dev_links",
  {
    id: text("id").primaryKey(),
    /** The project of the linked issue (may differ from the PR's project for cross-repository references). */
    projectId: text("project_id").notNull(),
    issueNumber: integer("issue_number"),
    issueId: text("issue_id"),
    kind: text("kind", { enum: ["pull_request", "branch", "commit", "url"] }).notNull(),
    /** "pr:<pull request row id>", "branch:<name>", "commit:<sha>", "url:<url>": what is linked. */
    targetKey: text("target_key").notNull(),
    pullRequestId: text("pull_request_id"),
    /** Branch name, commit sha or URL (pull requests: null, the row has them). */
    ref: text("ref"),
    url: text("url"),
    title: text("title"),
    relation: text("relation", { enum: ["closes", "references"] }).notNull(),
    source: text("source", { enum: ["tracker", "keyword", "branch", "commit", "manual"] }).notNull(),
    /** Set once, when this link's PR or commit closed the issue (by us or by the tracker). */
    closedIssueAt: text("closed_issue_at"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("dev_links_target_idx").on(t.projectId, t.issueNumber, t.issueId, t.targetKey, t.source),
    index("dev_links_issue_number_idx").on(t.projectId, t.issueNumber),
    index("dev_links_issue_id_idx").on(t.issueId),
    index("dev_links_pull_request_idx").on(t.pullRequestId),
  ],
);

export type PullRequestRow = typeof pullRequests.$inferSelect;
export type DevLinkRow = typeof devLinks.$inferSelect;

// ---------------------------------------------------------------------------------------------
// Event subscriptions (outgoing webhooks): the activity stream, pushed to dependent services.
// ---------------------------------------------------------------------------------------------

/**
 * A dependent service's endpoint. `cursor` is the last activity `seq` turned into deliveries: the
 * activity table is the outbox, this row only remembers how far the dispatcher has read it.
 */
export const subscriptions = sqliteTable("subscriptions", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  description: text("description"),
  /** JSON array of event types or `family.*` patterns. */
  eventTypes: text("event_types").notNull(),
  /** JSON array of project ids; null: every project. */
  projectIds: text("project_ids"),
  payload: text("payload", { enum: ["full", "thin"] }).notNull().default("full"),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  /** Why it is disabled: `manual` (PATCH), `gone` (the endpoint answered 410), `failing` (5 days of failures). */
  disabledReason: text("disabled_reason", { enum: ["manual", "gone", "failing"] }),
  disabledAt: text("disabled_at"),
  /** The signing secret (`whsec_…`), encrypted; after a rotation the old one signs too until it expires. */
  secretEnc: text("secret_enc").notNull(),
  previousSecretEnc: text("previous_secret_enc"),
  previousSecretExpiresAt: text("previous_secret_expires_at"),
  cursor: integer("cursor").notNull().default(0),
  /** The first failure since the last success (null while healthy): drives the automatic disable. */
  failingSince: text("failing_since"),
  lastSuccessAt: text("last_success_at"),
  lastFailureAt: text("last_failure_at"),
  createdAt: text("created_at").notNull().default(now),
  updatedAt: text("updated_at").notNull().default(now),
});

/**
 * One event to one subscription. `origin` is `stream` for the event as first read from the activity
 * stream (unique per subscription and event id: never delivered twice on its own), `ping` for a test
 * event, and the replay's id for a replay. `attempts` counts the attempts of the current round
 * (a redelivery starts a new round); `next_attempt_at` is also the lease taken before a send.
 */
export const eventDeliveries = sqliteTable(
  "event_deliveries",
  {
    id: text("id").primaryKey(),
    subscriptionId: text("subscription_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    origin: text("origin").notNull(),
    projectId: text("project_id"),
    issueId: text("issue_id"),
    /** Deliveries with the same key go one at a time in position order (an issue's events). */
    orderKey: text("order_key").notNull(),
    position: integer("position").notNull(),
    positionIndex: integer("position_index").notNull().default(0),
    /** The JSON body sent (the same bytes on every attempt). */
    body: text("body").notNull(),
    status: text("status", { enum: ["pending", "succeeded", "failed"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: text("next_attempt_at"),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("event_deliveries_sub_event_origin_uq").on(t.subscriptionId, t.eventId, t.origin),
    index("event_deliveries_sub_status_key_pos_idx").on(t.subscriptionId, t.status, t.orderKey, t.position, t.positionIndex),
    index("event_deliveries_sub_issue_pos_idx").on(t.subscriptionId, t.issueId, t.position),
  ],
);

/** Each HTTP attempt of a delivery: when, the answer's status (null: no answer), how long, its first 1 KiB. */
export const eventAttempts = sqliteTable(
  "event_attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id").notNull(),
    subscriptionId: text("subscription_id").notNull(),
    attemptedAt: text("attempted_at").notNull(),
    status: integer("status"),
    durationMs: integer("duration_ms").notNull(),
    response: text("response"),
    error: text("error"),
  },
  (t) => [index("event_attempts_delivery_idx").on(t.deliveryId, t.attemptedAt)],
);

export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type EventDeliveryRow = typeof eventDeliveries.$inferSelect;
export type EventAttemptRow = typeof eventAttempts.$inferSelect;

// ---- Sharding: the directory of projects not in the catalog database ----

/**
 * Kept in the catalog (`DB`) only: which shard holds a project whose rows are not in `DB` itself. A
 * project without a row here lives in shard 0, so projects created before sharding need no entry.
 */
export const projectShards = sqliteTable("project_shards", {
  projectId: text("project_id").primaryKey(),
  shard: integer("shard").notNull(),
});

// ---- Event subscriptions across shards: how far each subscription has read each shard's stream ----

/**
 * Kept in the catalog only: a subscription's read position in the activity stream of shard `shard`
 * (n ≥ 1). Shard 0's position stays `subscriptions.cursor`, so existing subscriptions neither replay
 * nor skip when more shards are bound. A missing row: the shard's entries since the subscription was
 * created are still to read.
 */
export const subscriptionShardCursors = sqliteTable(
  "subscription_shard_cursors",
  {
    subscriptionId: text("subscription_id").notNull(),
    shard: integer("shard").notNull(),
    cursor: integer("cursor").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.subscriptionId, t.shard] })],
);
