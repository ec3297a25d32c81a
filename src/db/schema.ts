import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const projects = sqliteTable("projects", {
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
});

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
  },
  (t) => [
    uniqueIndex("issues_project_external_uq").on(t.projectId, t.externalId),
    index("issues_project_updated_idx").on(t.projectId, t.updatedAt, t.id),
    index("issues_project_number_idx").on(t.projectId, t.externalNumber),
    index("issues_project_state_idx").on(t.projectId, t.syncState),
  ],
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
    createdAt: text("created_at").notNull().default(now),
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
  },
  (t) => [index("sync_runs_project_created_idx").on(t.projectId, t.createdAt), index("sync_runs_status_idx").on(t.projectId, t.status)],
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
  },
  (t) => [
    uniqueIndex("webhook_deliveries_project_delivery_uq").on(t.projectId, t.deliveryId),
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
  },
  (t) => [index("conflicts_project_created_idx").on(t.projectId, t.createdAt, t.id), index("conflicts_issue_idx").on(t.issueId)],
);

export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    provider: text("provider", { enum: ["github", "gitlab", "gitea"] }).notNull(),
    deliveryId: text("delivery_id"),
    kind: text("kind", { enum: ["issue", "pull_request", "push", "other"] }).notNull(),
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

export type ProjectRow = typeof projects.$inferSelect;
export type IssueRow = typeof issues.$inferSelect;
export type SyncRunRow = typeof syncRuns.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type OutboxRow = typeof outbox.$inferSelect;
export type ConflictRow = typeof conflicts.$inferSelect;
export type EventRow = typeof events.$inferSelect;

/** The six synced fields as an issue row holds them, lists parsed (the shape of a tracker's `IssueFields`). */
export interface StoredFields {
  title: string;
  body: string;
  state: IssueRow["state"];
  labels: string[];
  assignees: string[];
  milestone: string | null;
}
