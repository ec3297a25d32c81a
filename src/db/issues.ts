import { and, asc, eq, gt, gte, isNotNull, sql, type SQL } from "drizzle-orm";
import type { IssueFields } from "../providers/types";
import type { Database } from "./client";
import { runBatch } from "./batch";
import { normalizeFields } from "../sync/snapshot";
import { parseStringArray, stringifySet } from "./json";
import { issues, outbox, type IssueRow } from "./schema";

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
  if (page.afterId) where.push(gt(issues.id, page.afterId));
  return db.select().from(issues).where(and(...where)).orderBy(asc(issues.id)).limit(page.limit).all();
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
  return db
    .select()
    .from(issues)
    .where(and(eq(issues.projectId, projectId), eq(issues.id, id)))
    .get();
}

/** The synced fields as the local row holds them. */
export function fieldsOfRow(row: IssueRow): IssueFields {
  return {
    title: row.title,
    body: row.body,
    state: row.state,
    labels: parseStringArray(row.labels),
    assignees: parseStringArray(row.assignees),
    milestone: row.milestone,
  };
}

/** The base snapshot: the fields both sides last agreed on (null before the first agreement). */
export function baseOfRow(row: IssueRow): IssueFields | null {
  return row.base ? normalizeFields(JSON.parse(row.base) as IssueFields) : null;
}

export function fieldsToColumns(f: Partial<IssueFields>): Partial<NewIssue> {
  const cols: Partial<NewIssue> = {};
  if (f.title !== undefined) cols.title = f.title;
  if (f.body !== undefined) cols.body = f.body;
  if (f.state !== undefined) cols.state = f.state;
  if (f.labels !== undefined) cols.labels = stringifySet(f.labels);
  if (f.assignees !== undefined) cols.assignees = stringifySet(f.assignees);
  if (f.milestone !== undefined) cols.milestone = f.milestone;
  return cols;
}

/**
 * Queues (or coalesces into) the issue's one outbox row, but only if the issue is at `version`:
 * in the same batch as the issue write, this makes "issue changed" and "push queued" one atomic step.
 */
function upsertOutbox(args: { id: string; projectId: string; issueId: string; version: number; op: "create" | "update"; now: string }) {
  return sql`
    INSERT INTO ${outbox} (id, project_id, issue_id, op, status, attempts, created_at, updated_at)
    SELECT ${args.id}, ${args.projectId}, ${args.issueId}, ${args.op}, 'pending', 0, ${args.now}, ${args.now}
    WHERE EXISTS (SELECT 1 FROM ${issues} WHERE id = ${args.issueId} AND version = ${args.version})
    ON CONFLICT (issue_id) DO UPDATE SET
      status = 'pending',
      attempts = 0,
      last_error = NULL,
      next_attempt_at = NULL,
      -- a create not yet confirmed stays a create: the later edit rides along with it
      op = CASE WHEN outbox.op = 'create' AND outbox.status = 'pending' THEN 'create' ELSE excluded.op END,
      updated_at = excluded.updated_at`;
}

/** Inserts a local issue and its outbox row atomically. */
export async function insertLocalIssue(
  db: Database,
  row: NewIssue & { id: string; projectId: string },
  push: { outboxId: string } | null,
): Promise<IssueRow> {
  const now = row.updatedAt;
  if (!push) {
    const [created] = await db.insert(issues).values(row).returning();
    return created!;
  }
  await runBatch(db, [
    db.insert(issues).values({ ...row, version: 1 }),
    upsertOutbox({ id: push.outboxId, projectId: row.projectId, issueId: row.id, version: 1, op: "create", now }),
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
  patch: Partial<IssueFields>,
  push: { outboxId: string } | null,
  now: string,
): Promise<IssueRow | undefined> {
  const nextVersion = current.version + 1;
  const update = db
    .update(issues)
    .set({
      ...fieldsToColumns(patch),
      updatedAt: now,
      version: nextVersion,
      ...(push ? { syncState: "pending_push" as const, syncError: null } : {}),
    })
    .where(and(eq(issues.id, current.id), eq(issues.version, current.version)))
    .returning();
  if (!push) {
    const [row] = await update;
    return row;
  }
  const op = current.externalId ? "update" : "create";
  const [result] = await runBatch(db, [
    update,
    upsertOutbox({ id: push.outboxId, projectId: current.projectId, issueId: current.id, version: nextVersion, op, now }),
  ]);
  return result!.results.length > 0 ? getIssue(db, current.projectId, current.id) : undefined;
}
