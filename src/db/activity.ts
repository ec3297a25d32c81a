/**
 * The activity stream: one row for every change the product makes (to a local issue, a conflict, a
 * push, a project's settings), whatever its source. Writers never insert activity on their own: each
 * db function that changes something takes the entries describing it and adds `activityStatements`
 * to its own batch, so a change and its record commit together or not at all (no gaps, no ghosts).
 *
 * Order and cursor: `seq` is SQLite's AUTOINCREMENT rowid, assigned inside the writing transaction.
 * D1 runs each batch as one transaction on a single primary and SQLite admits one writer at a time,
 * so seqs become visible in increasing order: a reader that saw seq N will never later find a
 * committed N-1 it missed. A UUIDv7 made in code would not have that property (two writers can
 * commit out of the order they generated ids in), which is why the cursor is `seq` and not an id.
 */
import { and, asc, eq, gt, gte, inArray, sql, type SQL } from "drizzle-orm";
import { runBatch, type Statement } from "./batch";
import type { Database } from "./client";
import { chunkByJsonSize, jsonField as j } from "./json";
import { activity, comments, issues, type ActivityRow } from "./schema";

export const ACTIVITY_KINDS = [
  // local issues
  "issue.created",
  // one row per listing page of a first import: issue_id null, detail `{ "issueIds": [...] }`, standing
  // for one issue.created per listed issue (importSummaryStatement)
  "issue.imported",
  "issue.updated",
  "issue.pushed",
  "issue.orphaned",
  "issue.deleted",
  "issue.recreate_queued",
  // comments (the comment's id is in \`detail\`, which starts "comment <id>")
  "comment.created",
  "comment.updated",
  "comment.deleted",
  "comment.pushed",
  "comment.push_refused",
  "comment.push_failed",
  // conflicts and pushes
  "conflict.recorded",
  "conflict.resolved",
  "push.failed",
  "push.refused",
  "push.retried",
  // runs, deliveries, access
  "sync.failed",
  "access.failed",
  "delivery.replayed",
  "delivery.acknowledged",
  // repository identity and credentials (state changes of the project's link to its tracker)
  "access.lost",
  "access.regained",
  "repository.renamed",
  "delivery.foreign",
  "credential.rejected",
  "credential.suspended",
  "credential.removed",
  "credential.resumed",
  // administrative changes
  "project.created",
  "project.updated",
  "project.deleted",
  "project.token_replaced",
  "project.webhook_secret_replaced",
  "sync.paused",
  "sync.resumed",
  // people: identity mappings of the project's tracker
  "identity.mapped",
  "identity.unmapped",
  // development links (pull requests, branches, commits); the PR or ref is named in `detail`
  "pr.linked",
  "pr.unlinked",
  "pr.state_changed",
  "pr.reference_ignored",
  "issue.closed_by_pr",
  // event subscriptions: a delivery that exhausted its retries, a subscription disabled by its endpoint's answers
  "subscription.delivery_failed",
  "subscription.disabled",
] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

/** Where a change came from: an incremental poll, a full reconciliation, a webhook, the API (or dashboard), a push answer. */
export const ACTIVITY_SOURCES = ["poll", "full", "webhook", "api", "push"] as const;
export type ActivitySource = (typeof ACTIVITY_SOURCES)[number];

/** Who and what caused a write path to run: stamped on every entry it records. */
export interface ActivityOrigin {
  source: ActivitySource;
  runId?: string | null;
  deliveryId?: string | null;
  /** The API token's name (never the token). */
  actor?: string | null;
}

export type FieldChanges = Record<string, { before: unknown; after: unknown }>;

export interface ActivityEntry {
  projectId: string;
  issueId?: string | null;
  kind: ActivityKind;
  origin: ActivityOrigin;
  changes?: FieldChanges | null;
  detail?: string | null;
  createdAt: string;
  /**
   * Recorded only if, after the writes of the same batch, the issue exists — at `version` when given.
   * Version-guarded writes (compare-and-set) thus record activity exactly when they applied.
   */
  onlyIfIssue?: { id: string; version?: number };
  /** Likewise for a comment: recorded only if the comment exists after the batch (at `version` when given). */
  onlyIfComment?: { id: string; version?: number };
}

/** A value longer than this (UTF-8 bytes, as JSON) is cut; one entry's changes stay under MAX_CHANGES_BYTES. */
export const MAX_VALUE_BYTES = 1_024;
export const MAX_CHANGES_BYTES = 8_192;
const MAX_DETAIL_CHARS = 500;

const encoder = new TextEncoder();

function byteLength(s: string): number {
  return encoder.encode(s).length;
}

/** The longest prefix of `s` that fits in `max` UTF-8 bytes, never splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  if (byteLength(s) <= max) return s;
  const bytes = encoder.encode(s).subarray(0, max);
  // Drop a partial multi-byte sequence at the end.
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && bytes[end - 1]! >= 0xc0) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/** A value as stored in `changes`: itself when small, else a marked prefix with its full size. */
export function boundedValue(value: unknown): unknown {
  const json = JSON.stringify(value ?? null);
  const bytes = byteLength(json);
  if (bytes <= MAX_VALUE_BYTES) return value ?? null;
  const text = typeof value === "string" ? value : json;
  return { truncated: true, bytes, prefix: truncateUtf8(text, MAX_VALUE_BYTES - 64) };
}

/**
 * The fields that differ between `before` and `after` (compared as JSON), each value bounded.
 * Null when nothing differs. `before` undefined: a new record (every field of `after`, before null).
 */
export function fieldChanges(before: Record<string, unknown> | undefined, after: Record<string, unknown>): FieldChanges | null {
  const changes: FieldChanges = {};
  for (const [field, value] of Object.entries(after)) {
    const old = before?.[field];
    if (before && JSON.stringify(old ?? null) === JSON.stringify(value ?? null)) continue;
    changes[field] = { before: boundedValue(old ?? null), after: boundedValue(value) };
  }
  return Object.keys(changes).length > 0 ? changes : null;
}

/** The JSON stored for changes: at most MAX_CHANGES_BYTES; over that, only the field names remain. */
export function changesJson(changes: FieldChanges | null | undefined): string | null {
  if (!changes) return null;
  const json = JSON.stringify(changes);
  if (byteLength(json) <= MAX_CHANGES_BYTES) return json;
  const names = Object.fromEntries(Object.keys(changes).map((f) => [f, { before: { truncated: true }, after: { truncated: true } }]));
  return JSON.stringify(names);
}

function rowOf(e: ActivityEntry) {
  return {
    projectId: e.projectId,
    issueId: e.issueId ?? null,
    kind: e.kind,
    source: e.origin.source,
    actor: e.origin.actor ?? null,
    runId: e.origin.runId ?? null,
    deliveryId: e.origin.deliveryId ?? null,
    changes: changesJson(e.changes),
    detail: e.detail ? e.detail.slice(0, MAX_DETAIL_CHARS) : null,
    createdAt: e.createdAt,
    guardId: e.onlyIfIssue?.id ?? null,
    guardVersion: e.onlyIfIssue?.version ?? null,
    commentGuardId: e.onlyIfComment?.id ?? null,
    commentGuardVersion: e.onlyIfComment?.version ?? null,
  };
}

/**
 * Statements inserting the entries, to put in the batch of the change they describe (last, after
 * the writes, so their guards see the result; `when` adds a condition of the caller's). Rows travel
 * as one JSON parameter per statement.
 */
export function activityStatements(entries: readonly ActivityEntry[], when: SQL = sql`1`): SQL[] {
  return chunkByJsonSize(entries.map(rowOf)).map(
    (chunk) => sql`
      INSERT INTO ${activity} (project_id, issue_id, kind, source, actor, run_id, delivery_id, changes, detail, created_at)
      SELECT ${j("projectId")}, ${j("issueId")}, ${j("kind")}, ${j("source")}, ${j("actor")}, ${j("runId")}, ${j("deliveryId")},
        ${j("changes")}, ${j("detail")}, ${j("createdAt")}
      FROM json_each(${chunk}) AS j
      WHERE (${j("guardId")} IS NULL OR EXISTS (
        SELECT 1 FROM ${issues} i WHERE i.id = ${j("guardId")} AND (${j("guardVersion")} IS NULL OR i.version = ${j("guardVersion")})))
        AND (${j("commentGuardId")} IS NULL OR EXISTS (
        SELECT 1 FROM ${comments} c WHERE c.id = ${j("commentGuardId")} AND (${j("commentGuardVersion")} IS NULL OR c.version = ${j("commentGuardVersion")})))
        AND (${when})
      ORDER BY j.key`,
  );
}

/** What an `issue.imported` entry stands for: the page's new issues, in listing order. */
export interface ImportSummary {
  projectId: string;
  origin: ActivityOrigin;
  createdAt: string;
  issueIds: readonly string[];
}

/**
 * One `issue.imported` entry for a page of a first import, instead of one `issue.created` per issue:
 * 1 row (and its index entries) per page instead of per issue. Its `detail` lists only the issues
 * that exist after the batch's writes (an insert that lost to a concurrent one is left out), and no
 * entry is written when none does. Put it in the batch after the inserts, like activityStatements.
 */
export function importSummaryStatement(summary: ImportSummary): SQL {
  return sql`
    INSERT INTO ${activity} (project_id, issue_id, kind, source, actor, run_id, delivery_id, changes, detail, created_at)
    SELECT ${summary.projectId}, NULL, 'issue.imported', ${summary.origin.source}, ${summary.origin.actor ?? null}, ${summary.origin.runId ?? null},
      ${summary.origin.deliveryId ?? null}, NULL, json_object('issueIds', json(s.ids)), ${summary.createdAt}
    FROM (
      SELECT json_group_array(j.value) AS ids, count(*) AS n
      FROM json_each(${JSON.stringify(summary.issueIds)}) AS j
      WHERE EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = j.value)
    ) AS s
    WHERE s.n > 0`;
}

/** The issue ids an `issue.imported` entry stands for (empty for any other entry, or a detail that is not one). */
export function importedIssueIds(row: Pick<ActivityRow, "kind" | "detail">): string[] {
  if (row.kind !== "issue.imported" || !row.detail) return [];
  try {
    const ids = (JSON.parse(row.detail) as { issueIds?: unknown }).issueIds;
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [];
  } catch {
    return [];
  }
}

/** A change that is only its record (nothing else to write), or writes plus their record in one batch. */
export async function recordActivity(db: Database, entries: readonly ActivityEntry[], with_: Statement[] = []): Promise<void> {
  await runBatch(db, [...with_, ...activityStatements(entries)]);
}

/**
 * Records the entry unless the project has one of the same kind created after `sinceIso` (checked
 * in the insert itself): for notes that must not repeat per event, e.g. foreign deliveries.
 */
export async function recordActivityUnlessRecent(db: Database, entry: ActivityEntry, sinceIso: string): Promise<void> {
  const recent = sql`NOT EXISTS (SELECT 1 FROM ${activity} WHERE ${activity.projectId} = ${entry.projectId}
    AND ${activity.kind} = ${entry.kind} AND ${activity.createdAt} > ${sinceIso})`;
  await runBatch(db, activityStatements([entry], recent));
}

export interface ActivityFilter {
  projectId?: string;
  kinds?: readonly string[];
  source?: string;
  issueId?: string;
}

function filterTerms(filter: ActivityFilter): (SQL | undefined)[] {
  return [
    filter.projectId ? eq(activity.projectId, filter.projectId) : undefined,
    filter.issueId ? eq(activity.issueId, filter.issueId) : undefined,
    filter.kinds && filter.kinds.length > 0 ? inArray(activity.kind, [...filter.kinds]) : undefined,
    filter.source ? eq(activity.source, filter.source) : undefined,
  ];
}

/** Entries after `afterSeq`, oldest first. */
export async function listActivity(db: Database, filter: ActivityFilter, page: { afterSeq: number | null; limit: number }): Promise<ActivityRow[]> {
  return db
    .select()
    .from(activity)
    .where(and(...filterTerms(filter), page.afterSeq !== null ? gt(activity.seq, page.afterSeq) : undefined))
    .orderBy(asc(activity.seq))
    .limit(page.limit)
    .all();
}

/** The newest entries of a project (the dashboard shows the latest first). */
export async function latestActivity(db: Database, filter: ActivityFilter, limit: number): Promise<ActivityRow[]> {
  const rows = await db
    .select()
    .from(activity)
    .where(and(...filterTerms(filter)))
    .orderBy(sql`${activity.seq} DESC`)
    .limit(limit)
    .all();
  return rows;
}

/** When the project's credentials were last refused (an `access.failed` entry), if ever. */
export async function lastAccessFailureAt(db: Database, projectId: string): Promise<string | null> {
  const row = await db
    .select({ at: activity.createdAt })
    .from(activity)
    .where(and(eq(activity.projectId, projectId), eq(activity.kind, "access.failed")))
    .orderBy(sql`${activity.seq} DESC`)
    .limit(1)
    .get();
  return row?.at ?? null;
}

/**
 * An entry's position across shards: `seq` is unique only within its shard's database, so shard n's
 * entries are numbered n × 10^12 + seq. Shard 0's positions are its seqs, as before sharding (event ids,
 * positions and activity ids already handed out stay valid). 10^12 entries per shard outlast D1's size
 * limit; shards up to 999 keep a position within 15 digits (a safe integer).
 */
export const SHARD_POSITION_SPAN = 1_000_000_000_000;

export function activityPosition(shard: number, seq: number): number {
  return shard * SHARD_POSITION_SPAN + seq;
}

/** The shard and seq a position stands for. */
export function splitPosition(position: number): { shard: number; seq: number } {
  return { shard: Math.floor(position / SHARD_POSITION_SPAN), seq: position % SHARD_POSITION_SPAN };
}

/** The entry at `seq`, if it is still kept. */
export async function activityAt(db: Database, seq: number): Promise<ActivityRow | undefined> {
  return db.select().from(activity).where(eq(activity.seq, seq)).get();
}

/**
 * The seq just before the first entry recorded after `iso` (`orAt`: at or after it): where a reader
 * that has seen everything up to that time resumes. The newest seq when nothing is that recent.
 */
export async function seqBeforeTime(db: Database, iso: string, orAt: boolean): Promise<number> {
  const first = await db
    .select({ seq: sql<number | null>`MIN(${activity.seq})` })
    .from(activity)
    .where(orAt ? gte(activity.createdAt, iso) : gt(activity.createdAt, iso))
    .get();
  if (first?.seq != null) return first.seq - 1;
  const last = await db.select({ seq: sql<number | null>`MAX(${activity.seq})` }).from(activity).get();
  return last?.seq ?? 0;
}
