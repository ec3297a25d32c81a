import { and, asc, count, eq, gt, gte, isNotNull, isNull, ne, or, sql, type SQL } from "drizzle-orm";
import type { Database } from "./client";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import { writeLocalEdit } from "./local-edit";
import { parseStringArray, stringifySet } from "./json";
import { deletePartsOf, withText, withTexts } from "./issue-texts";
import { outboxUpsert } from "./outbox";
import { conflicts, issues, outbox, type IssueRow, type StoredFields } from "./schema";

export type NewIssue = typeof issues.$inferInsert;
export type SyncState = IssueRow["syncState"];


export interface IssueFilter {
  state?: "open" | "closed" | "all";
  updatedSince?: string;
  externalNumber?: number;
  syncState?: SyncState;
}

/** Keyset page ordered by id (UUIDv7: stable while rows are edited, so each issue appears once). */
export async function listIssues(
  db: Database,
  projectId: string,
  filter: IssueFilter,
  page: { limit: number; afterId?: string | null },
): Promise<IssueRow[]> {
  const where: (SQL | undefined)[] = [eq(issues.projectId, projectId)];
  if (filter.state && filter.state !== "all") where.push(eq(issues.state, filter.state));
  if (filter.updatedSince) where.push(gte(issues.updatedAt, filter.updatedSince));
  if (filter.externalNumber !== undefined) where.push(eq(issues.externalNumber, filter.externalNumber));
  if (filter.syncState) where.push(eq(issues.syncState, filter.syncState));
  // The literal term lets SQLite use the partial index of issues not 'synced' (a bound value cannot).
  if (filter.syncState && filter.syncState !== "synced") where.push(sql`${issues.syncState} <> 'synced'`);
  // Without ANALYZE statistics SQLite prefers the (project, id) index that matches ORDER BY, and would
  // walk the whole project for a number or a rare sync state: `+id` leaves the choice to the filter.
  const selective = filter.externalNumber !== undefined || (filter.syncState !== undefined && filter.syncState !== "synced");
  const id = selective ? sql`+${issues.id}` : sql`${issues.id}`;
  if (page.afterId) where.push(sql`${id} > ${page.afterId}`);
  return withTexts(db, await db.select().from(issues).where(and(...where)).orderBy(asc(id)).limit(page.limit).all());
}

export async function hasLinkedIssues(db: Database, projectId: string): Promise<boolean> {
  const row = await db
    .select({ id: issues.id })
    .from(issues)
    .where(and(eq(issues.projectId, projectId), isNotNull(issues.externalId)))
    .limit(1)
    .get();
  return row !== undefined;
}

export async function getIssue(db: Database, projectId: string, id: string): Promise<IssueRow | undefined> {
  const row = await db
    .select()
    .from(issues)
    .where(and(eq(issues.projectId, projectId), eq(issues.id, id)))
    .get();
  return withText(db, row);
}

/** The synced fields as the local row holds them. */
export function fieldsOfRow(row: Pick<IssueRow, "title" | "body" | "state" | "labels" | "assignees" | "milestone">): StoredFields {
  return {
    title: row.title,
    body: row.body,
    state: row.state,
    labels: parseStringArray(row.labels),
    assignees: parseStringArray(row.assignees),
    milestone: row.milestone,
  };
}

export function fieldsToColumns(f: Partial<StoredFields>): Partial<NewIssue> {
  const cols: Partial<NewIssue> = {};
  if (f.title !== undefined) cols.title = f.title;
  if (f.body !== undefined) cols.body = f.body;
  if (f.state !== undefined) cols.state = f.state;
  if (f.labels !== undefined) cols.labels = stringifySet(f.labels);
  if (f.assignees !== undefined) cols.assignees = stringifySet(f.assignees);
  if (f.milestone !== undefined) cols.milestone = f.milestone;
  return cols;
}

/** Inserts a local issue and its outbox row atomically. */
export async function insertLocalIssue(
  db: Database,
  row: NewIssue & { id: string; projectId: string },
  push: { outboxId: string } | null,
  activity: readonly ActivityEntry[] = [],
): Promise<IssueRow> {
  const now = row.updatedAt;
  await runBatch(db, [
    db.insert(issues).values({ ...row, version: 1 }),
    ...(push ? [outboxUpsert(row.projectId, [{ id: push.outboxId, issueId: row.id, version: 1, op: "create", now }])] : []),
    ...activityStatements(activity),
  ]);
  return (await getIssue(db, row.projectId, row.id))!;
}

/**
 * Applies a local edit if the issue is still at `expectedVersion` (compare-and-set: D1 has no
 * interactive transactions), queueing the push in the same batch. Undefined when the issue moved on.
 */
export async function updateLocalIssue(
  db: Database,
  current: IssueRow,
  patch: Partial<StoredFields> & { closeReason?: string | null },
  push: { outboxId: string } | null,
  now: string,
  /** Recorded only if the update applied: guard them with `onlyIfIssue: { id, version: current.version + 1 }`. */
  activity: readonly ActivityEntry[] = [],
): Promise<IssueRow | undefined> {
  const applied = await writeLocalEdit(db, {
    kind: "issue",
    current,
    columns: {
      ...fieldsToColumns(patch),
      ...(patch.closeReason !== undefined ? { closeReason: patch.closeReason } : {}),
      // A local body is at most 65,536 characters: always inline (see issue-texts.ts).
      ...(patch.body !== undefined ? { bodyParts: 0 } : {}),
    },
    push: push
      ? (version) => outboxUpsert(current.projectId, [{ id: push.outboxId, issueId: current.id, version, op: current.externalId ? "update" : "create", now }])
      : null,
    now,
    activity,
  });
  return applied ? getIssue(db, current.projectId, current.id) : undefined;
}

/** The project's issues linked to these tracker ids, by external id. */
export async function loadByExternalIds(db: Database, projectId: string, externalIds: readonly string[]): Promise<Map<string, IssueRow>> {
  const byExternal = new Map<string, IssueRow>();
  if (externalIds.length === 0) return byExternal;
  // One statement for a whole page: D1 binds at most 100 parameters, so the ids travel as one JSON array.
  const rows = await db
    .select()
    .from(issues)
    .where(and(eq(issues.projectId, projectId), sql`${issues.externalId} IN (SELECT value FROM json_each(${JSON.stringify(externalIds)}))`))
    .all();
  for (const row of await withTexts(db, rows)) byExternal.set(row.externalId!, row);
  return byExternal;
}

export async function getIssueByExternalId(db: Database, projectId: string, externalId: string): Promise<IssueRow | undefined> {
  const row = await db
    .select()
    .from(issues)
    .where(and(eq(issues.projectId, projectId), eq(issues.externalId, externalId)))
    .get();
  return withText(db, row);
}

/**
 * Local issues whose tracker create is still in flight (outbox row pending) and was sent but never
 * confirmed, with when it was first attempted. A failed or dead-lettered create is not in flight.
 */
export async function listUnconfirmedCreates(db: Database, projectId: string): Promise<{ issue: IssueRow; attemptedAt: string }[]> {
  const rows = await db
    .select({ issue: issues, attemptedAt: outbox.createAttemptedAt })
    .from(issues)
    .innerJoin(outbox, eq(outbox.issueId, issues.id))
    .where(and(eq(issues.projectId, projectId), isNull(issues.externalId), isNotNull(outbox.createAttemptedAt), eq(outbox.status, "pending")))
    .all();
  const full = await withTexts(db, rows.map((r) => r.issue));
  return rows.map((r, i) => ({ issue: full[i]!, attemptedAt: r.attemptedAt! }));
}

/**
 * Marks the issues a full run's listing contained. D1 binds at most 100 parameters: ids travel as one
 * JSON array. Rows already marked (written by this run's page write) are not written again.
 */
export async function markSeen(db: Database, projectId: string, runId: string, externalIds: readonly string[]): Promise<void> {
  await db.run(sql`
    UPDATE ${issues} SET last_seen_run_id = ${runId}
    WHERE project_id = ${projectId} AND external_id IN (SELECT value FROM json_each(${JSON.stringify(externalIds)}))
      AND last_seen_run_id IS NOT ${runId}`);
}

/** Linked, not orphaned issues the run's listing did not contain, keyset on id after `afterId`. */
export async function listUnseenLinked(db: Database, projectId: string, runId: string, page: { afterId: string | null; limit: number }): Promise<IssueRow[]> {
  const rows = await db
    .select()
    .from(issues)
    .where(
      and(
        eq(issues.projectId, projectId),
        isNotNull(issues.externalNumber),
        or(isNull(issues.lastSeenRunId), ne(issues.lastSeenRunId, runId)),
        ne(issues.syncState, "orphaned"),
        page.afterId ? gt(issues.id, page.afterId) : undefined,
      ),
    )
    .orderBy(issues.id)
    .limit(page.limit)
    .all();
  return withTexts(db, rows);
}

/** Removes the issue with its outbox row and conflicts, atomically (with the activity recording it). */
export async function deleteIssue(db: Database, issueId: string, activity: readonly ActivityEntry[] = []): Promise<void> {
  await runBatch(db, [
    db.delete(outbox).where(eq(outbox.issueId, issueId)),
    db.delete(conflicts).where(eq(conflicts.issueId, issueId)),
    db.delete(issues).where(eq(issues.id, issueId)),
    ...activityStatements(activity),
    deletePartsOf(issueId),
  ]);
}

/** Marks the issue orphaned if it is still at its version. */
export async function markOrphaned(
  db: Database,
  issue: IssueRow,
  args: { reason: string; now: string; externalUpdatedAt: string | null },
  activity: readonly ActivityEntry[] = [],
): Promise<void> {
  await runBatch(db, [
    db
      .update(issues)
      .set({ syncState: "orphaned", syncError: args.reason, deletedAt: args.now, externalUpdatedAt: args.externalUpdatedAt, version: issue.version + 1 })
      .where(and(eq(issues.id, issue.id), eq(issues.version, issue.version))),
    // Right after the update: recorded only if it changed the row.
    ...activityStatements(activity, sql`changes() > 0`),
  ]);
}

/**
 * Unlinks the issue from its gone tracker issue and queues its recreate, in one batch, if it is
 * still at its version: the push path creates it in the tracker again.
 */
export async function unlinkForRecreate(
  db: Database,
  issue: IssueRow,
  args: { outboxId: string; reason: string; now: string },
  activity: readonly ActivityEntry[] = [],
): Promise<void> {
  await runBatch(db, [
    db
      .update(issues)
      .set({
        externalId: null,
        externalNumber: null,
        externalUrl: null,
        externalUpdatedAt: null,
        base: null,
        baseHash: null,
        baseParts: 0,
        syncState: "pending_push",
        syncError: args.reason,
        deletedAt: null,
        version: issue.version + 1,
      })
      .where(and(eq(issues.id, issue.id), eq(issues.version, issue.version))),
    // Right after the update: recorded only if it changed the row.
    ...activityStatements(activity, sql`changes() > 0`),
    outboxUpsert(issue.projectId, [{ id: args.outboxId, issueId: issue.id, version: issue.version + 1, op: "recreate", now: args.now }]),
  ]);
}

/** How many of the project's issues are in each sync state (states with none are absent). */
export async function countBySyncState(db: Database, projectId: string): Promise<Partial<Record<SyncState, number>>> {
  // The total from the (project, id) index, the few states that are not 'synced' from their partial
  // index; 'synced' is the rest. One statement, no index entry per synced issue.
  const rows = await db.all<{ state: SyncState | "*"; n: number }>(sql`
    SELECT '*' AS state, count(*) AS n FROM ${issues} WHERE project_id = ${projectId}
    UNION ALL
    SELECT sync_state AS state, count(*) AS n FROM ${issues} WHERE project_id = ${projectId} AND sync_state <> 'synced' GROUP BY sync_state`);
  const out: Partial<Record<SyncState, number>> = {};
  let total = 0;
  let unsynced = 0;
  for (const r of rows) {
    if (r.state === "*") total = r.n;
    else {
      out[r.state] = r.n;
      unsynced += r.n;
    }
  }
  if (total > unsynced) out.synced = total - unsynced;
  return out;
}

/** How many of the project's issues carry fields the tracker refused on their last push. */
export async function countWithSyncWarnings(db: Database, projectId: string): Promise<number> {
  const row = await db.select({ n: count() }).from(issues).where(and(eq(issues.projectId, projectId), isNotNull(issues.syncWarnings))).get();
  return row?.n ?? 0;
}
