/**
 * The numbers behind a project's health chip, for one project or for every project at once: each
 * figure is one aggregate statement grouped by project (over the few rows that are not settled:
 * pending or failed pushes, open conflicts, unapplied deliveries, active runs), all sent in one D1
 * batch. The overview and the project page read the same statements, so they show the same numbers,
 * and the overview costs the same few statements whatever the number of projects.
 */
import { asc, sql, type SQL } from "drizzle-orm";
import { runBatch } from "./batch";
import type { Database } from "./client";
import { activity, commentOutbox, comments, conflicts, credentials, githubAppProjectRepositories, githubAppRepositories, issues, outbox, projects, syncRuns, webhookDeliveries } from "./schema";
import type { CredentialRow, GitHubAppRepositoryRow, ProjectRow, SyncRunRow } from "./schema";

export interface PushCounts {
  pending: number;
  failed: number;
  /** Pending rows that failed at least once and wait for their next attempt. */
  retrying: number;
  /** The most attempts of a retrying row, and its last error. */
  maxAttempts: number;
  lastError: string | null;
}

export interface ProjectHealth {
  pushes: PushCounts;
  commentPushes: PushCounts;
  /** Conflicts recorded and not yet settled by hand (issue fields and comment bodies). */
  openConflicts: number;
  failedDeliveries: number;
  /** Deliveries received and not yet applied, and when the oldest came in. */
  unappliedDeliveries: number;
  oldestUnappliedAt: string | null;
  activeRun: SyncRunRow | null;
  /** The newest finished run (either mode). */
  lastFinishedRun: { id: string; mode: SyncRunRow["mode"]; status: SyncRunRow["status"]; finishedAt: string | null; error: string | null } | null;
  /** The latest `access.failed` entry (credentials refused with 401/403). */
  lastAccessFailureAt: string | null;
  /** The latest token replacement: access failures and failed runs before it are history. */
  tokenReplacedAt: string | null;
}

const NO_PUSHES: PushCounts = { pending: 0, failed: 0, retrying: 0, maxAttempts: 0, lastError: null };

export function emptyHealth(): ProjectHealth {
  return {
    pushes: { ...NO_PUSHES },
    commentPushes: { ...NO_PUSHES },
    openConflicts: 0,
    failedDeliveries: 0,
    unappliedDeliveries: 0,
    oldestUnappliedAt: null,
    activeRun: null,
    lastFinishedRun: null,
    lastAccessFailureAt: null,
    tokenReplacedAt: null,
  };
}

/** Credentials that are not healthy, and App repositories removed from their installation, by project. */
export interface CredentialTroubles {
  credentials: CredentialRow[];
  removedRepositories: Map<string, GitHubAppRepositoryRow>;
}

type Row = Record<string, unknown>;
const num = (v: unknown) => Number(v ?? 0);
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

function pushStatement(table: typeof outbox | typeof commentOutbox, filter: SQL): SQL {
  // The last error of the row with the most attempts: SQLite takes the bare column from the max() row.
  return sql`
    SELECT project_id, sum(status = 'pending') AS pending, sum(status = 'failed') AS failed,
      sum(status = 'pending' AND attempts > 0) AS retrying,
      max(CASE WHEN status = 'pending' AND attempts > 0 THEN attempts ELSE 0 END) AS max_attempts,
      last_error
    FROM ${table} WHERE status IN ('pending', 'failed') ${filter} GROUP BY project_id`;
}

/**
 * Health of one project (`projectId`) or of every project (null): one batch of aggregate statements.
 * Projects with nothing unsettled are absent from the map (their health is `emptyHealth()`).
 */
export async function readHealth(db: Database, projectId: string | null): Promise<{ health: Map<string, ProjectHealth>; troubles: CredentialTroubles }> {
  const and = (column: string) => (projectId === null ? sql`` : sql`AND ${sql.raw(column)} = ${projectId}`);
  const results = await runBatch(db, [
    pushStatement(outbox, and("project_id")),
    pushStatement(commentOutbox, and("project_id")),
    sql`SELECT project_id, count(*) AS n FROM ${conflicts} WHERE resolved_at IS NULL ${and("project_id")} GROUP BY project_id`,
    sql`SELECT project_id, sum(status = 'failed') AS failed, sum(status = 'received') AS unapplied,
          min(CASE WHEN status = 'received' THEN received_at END) AS oldest_unapplied
        FROM ${webhookDeliveries} WHERE status IN ('received', 'failed') ${and("project_id")} GROUP BY project_id`,
    // No ORDER BY: sorted here, so SQLite reads the partial index of active runs, not every run in id order.
    sql`SELECT * FROM ${syncRuns} WHERE status IN ('queued', 'running') ${and("project_id")}`,
    // Each project's newest finished run, read backwards on (project_id, created_at): one or two rows a project.
    sql`SELECT p.id AS project_id, r.id, r.mode, r.status, r.finished_at, r.error FROM ${projects} p
        JOIN ${syncRuns} r ON r.id = (SELECT id FROM ${syncRuns} WHERE project_id = p.id AND status IN ('succeeded', 'failed') ORDER BY created_at DESC LIMIT 1)
        ${projectId === null ? sql`` : sql`WHERE p.id = ${projectId}`}`,
    sql`SELECT project_id, kind, max(created_at) AS at FROM ${activity}
        WHERE kind IN ('access.failed', 'project.token_replaced') ${and("project_id")} GROUP BY project_id, kind`,
    sql`SELECT * FROM ${credentials} WHERE health <> 'ok'`,
    sql`SELECT l.project_id, r.* FROM ${githubAppProjectRepositories} l JOIN ${githubAppRepositories} r ON r.repository_id = l.repository_id
        WHERE r.removed_at IS NOT NULL ${and("l.project_id")}`,
  ]);
  const [pushes, commentPushes, open, deliveries, active, finished, access, troubled, removed] = results.map((r) => r.results as Row[]);
  const health = new Map<string, ProjectHealth>();
  const of = (id: unknown) => {
    const key = String(id);
    let h = health.get(key);
    if (!h) health.set(key, (h = emptyHealth()));
    return h;
  };
  const toPushes = (r: Row): PushCounts => ({
    pending: num(r.pending),
    failed: num(r.failed),
    retrying: num(r.retrying),
    maxAttempts: num(r.max_attempts),
    lastError: num(r.retrying) > 0 ? str(r.last_error) : null,
  });
  for (const r of pushes!) of(r.project_id).pushes = toPushes(r);
  for (const r of commentPushes!) of(r.project_id).commentPushes = toPushes(r);
  for (const r of open!) of(r.project_id).openConflicts = num(r.n);
  for (const r of deliveries!) {
    const h = of(r.project_id);
    h.failedDeliveries = num(r.failed);
    h.unappliedDeliveries = num(r.unapplied);
    h.oldestUnappliedAt = str(r.oldest_unapplied);
  }
  for (const r of [...active!].sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1))) {
    const h = of(r.project_id);
    h.activeRun ??= runFromRaw(r);
  }
  for (const r of finished!) {
    of(r.project_id).lastFinishedRun = { id: String(r.id), mode: r.mode as SyncRunRow["mode"], status: r.status as SyncRunRow["status"], finishedAt: str(r.finished_at), error: str(r.error) };
  }
  for (const r of access!) {
    const h = of(r.project_id);
    if (r.kind === "access.failed") h.lastAccessFailureAt = str(r.at);
    else h.tokenReplacedAt = str(r.at);
  }
  const removedRepositories = new Map<string, GitHubAppRepositoryRow>();
  for (const r of removed!) {
    removedRepositories.set(String(r.project_id), {
      repositoryId: String(r.repository_id),
      installationId: num(r.installation_id),
      fullName: String(r.full_name),
      removedAt: str(r.removed_at),
      updatedAt: String(r.updated_at),
    });
  }
  return { health, troubles: { credentials: troubled!.map(credentialFromRaw), removedRepositories } };
}

/** Credential rows by id (at most 90 ids: D1 binds up to 100 values a statement). */
export async function credentialsByIds(db: Database, ids: readonly string[]): Promise<CredentialRow[]> {
  if (ids.length === 0) return [];
  const unique = [...new Set(ids)].slice(0, 90);
  const [result] = await runBatch(db, [sql`SELECT * FROM ${credentials} WHERE id IN (${sql.join(unique.map((id) => sql`${id}`), sql`, `)})`]);
  return (result!.results as Row[]).map(credentialFromRaw);
}

function runFromRaw(r: Row): SyncRunRow {
  return {
    id: String(r.id),
    projectId: String(r.project_id),
    mode: r.mode as SyncRunRow["mode"],
    trigger: r.trigger as SyncRunRow["trigger"],
    status: r.status as SyncRunRow["status"],
    checkpoint: str(r.checkpoint),
    resumeAt: str(r.resume_at),
    pages: num(r.pages),
    fetched: num(r.fetched),
    created: num(r.created),
    updated: num(r.updated),
    unchanged: num(r.unchanged),
    conflicts: num(r.conflicts),
    orphaned: num(r.orphaned),
    pushed: num(r.pushed),
    requests: num(r.requests),
    error: str(r.error),
    total: r.total === null || r.total === undefined ? null : num(r.total),
    createdAt: String(r.created_at),
    startedAt: str(r.started_at),
    finishedAt: str(r.finished_at),
  };
}

function credentialFromRaw(r: Row): CredentialRow {
  return {
    id: String(r.id),
    kind: r.kind as CredentialRow["kind"],
    provider: r.provider as CredentialRow["provider"],
    apiBaseUrl: String(r.api_base_url),
    installationId: r.installation_id === null ? null : num(r.installation_id),
    accessTokenEnc: str(r.access_token_enc),
    accessTokenExpiresAt: str(r.access_token_expires_at),
    rateRemaining: r.rate_remaining === null ? null : num(r.rate_remaining),
    rateResetAt: str(r.rate_reset_at),
    limitedUntil: str(r.limited_until),
    health: r.health as CredentialRow["health"],
    healthAt: str(r.health_at),
    healthReason: str(r.health_reason),
    tokenExpiresAt: str(r.token_expires_at),
    tokenExpiryCheckedAt: str(r.token_expiry_checked_at),
    updatedAt: String(r.updated_at),
  };
}

/** Every project, by name: the overview filters, sorts and pages them by their health. */
export async function listAllProjects(db: Database): Promise<ProjectRow[]> {
  return db.select().from(projects).orderBy(asc(projects.name), asc(projects.id)).all();
}

/** How the dashboard names an issue: `#12 Title` with its tracker link (number and link null until linked). */
export interface IssueLabel {
  id: string;
  number: number | null;
  title: string;
  url: string | null;
}

/** Number, title and link of the given issues of a project, in one statement. */
export async function issueLabels(db: Database, projectId: string, ids: readonly string[]): Promise<Map<string, IssueLabel>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const [result] = await runBatch(db, [
    sql`SELECT id, external_number, title, external_url FROM ${issues} WHERE project_id = ${projectId} AND id IN (SELECT value FROM json_each(${JSON.stringify(unique)}))`,
  ]);
  return new Map(
    (result!.results as Row[]).map((r) => [String(r.id), { id: String(r.id), number: r.external_number === null ? null : num(r.external_number), title: String(r.title), url: str(r.external_url) }]),
  );
}

/** A push that failed for good or is being retried: what, how often, and the tracker's last answer. */
export interface TroubledPush {
  kind: "issue" | "comment";
  issueId: string;
  commentId: string | null;
  status: "pending" | "failed";
  attempts: number;
  lastError: string | null;
  /** The issue's or comment's own sync error (the reason a refused push gave). */
  syncError: string | null;
  updatedAt: string;
}

/** The project's failed and retrying pushes of issues and comments, newest first. */
export async function troubledPushes(db: Database, projectId: string, limit: number): Promise<TroubledPush[]> {
  const [pushes, commentPushes] = await runBatch(db, [
    sql`SELECT o.issue_id, o.status, o.attempts, o.last_error, o.updated_at, i.sync_error FROM ${outbox} o LEFT JOIN ${issues} i ON i.id = o.issue_id
        WHERE o.project_id = ${projectId} AND (o.status = 'failed' OR (o.status = 'pending' AND o.attempts > 0)) ORDER BY o.updated_at DESC LIMIT ${limit}`,
    sql`SELECT c.issue_id, o.comment_id, o.status, o.attempts, o.last_error, o.updated_at, c.sync_error FROM ${commentOutbox} o JOIN ${comments} c ON c.id = o.comment_id
        WHERE o.project_id = ${projectId} AND (o.status = 'failed' OR (o.status = 'pending' AND o.attempts > 0)) ORDER BY o.updated_at DESC LIMIT ${limit}`,
  ]);
  const rows: (Row & { kind: TroubledPush["kind"] })[] = [
    ...(pushes!.results as Row[]).map((r) => ({ ...r, kind: "issue" as const, comment_id: null })),
    ...(commentPushes!.results as Row[]).map((r) => ({ ...r, kind: "comment" as const })),
  ];
  return rows
    .map((r) => ({
      kind: r.kind,
      issueId: String(r.issue_id),
      commentId: str(r.comment_id),
      status: r.status as TroubledPush["status"],
      attempts: num(r.attempts),
      lastError: str(r.last_error),
      syncError: str(r.sync_error),
      updatedAt: String(r.updated_at),
    }))
    .sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1))
    .slice(0, limit);
}
