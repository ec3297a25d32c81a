import { and, count, desc, eq, isNull, lt, ne, sql } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import type { Database } from "./client";
import { commentOutboxUpsert } from "./comments";
import { outboxUpsert } from "./outbox";
import { comments, conflicts, issues, type CommentOutboxRow, type CommentRow, type ConflictRow, type IssueRow } from "./schema";

/** Newest first, optionally for one issue; `beforeId` is the last id of the previous page. */
export async function listConflicts(
  db: Database,
  projectId: string,
  filter: { issueId?: string | undefined; open?: boolean },
  page: { limit: number; beforeId?: string | null },
): Promise<ConflictRow[]> {
  return db
    .select()
    .from(conflicts)
    .where(and(eq(conflicts.projectId, projectId), filter.issueId ? eq(conflicts.issueId, filter.issueId) : undefined, filter.open ? isNull(conflicts.resolvedAt) : undefined, page.beforeId ? lt(conflicts.id, page.beforeId) : undefined))
    .orderBy(desc(conflicts.id))
    .limit(page.limit)
    .all();
}

export async function countConflicts(db: Database, projectId: string): Promise<number> {
  const row = await db.select({ n: count() }).from(conflicts).where(eq(conflicts.projectId, projectId)).get();
  return row?.n ?? 0;
}

export async function getConflict(db: Database, projectId: string, id: string): Promise<ConflictRow | undefined> {
  return db
    .select()
    .from(conflicts)
    .where(and(eq(conflicts.projectId, projectId), eq(conflicts.id, id)))
    .get();
}

/** Conflicts of the issue not yet settled by hand, other than `exceptId`. */
export async function countUnresolvedForIssue(db: Database, issueId: string, exceptId: string): Promise<number> {
  const row = await db
    .select({ n: count() })
    .from(conflicts)
    .where(and(eq(conflicts.issueId, issueId), isNull(conflicts.resolvedAt), ne(conflicts.id, exceptId)))
    .get();
  return row?.n ?? 0;
}

/**
 * A conflict settled by hand, in one batch, if the issue is still at the version read: the chosen
 * value written to the issue, its push queued when the tracker must follow, the conflict marked
 * resolved (once: a resolved conflict is left alone) and the activity recorded. False when the
 * issue moved on or the conflict was already resolved.
 */
export async function writeConflictResolution(
  db: Database,
  args: {
    issue: IssueRow;
    columns: Partial<typeof issues.$inferInsert>;
    syncState: IssueRow["syncState"];
    push: { outboxId: string } | null;
    conflictId: string;
    keep: "local" | "tracker";
    actor: string | null;
    now: string;
    activity: readonly ActivityEntry[];
  },
): Promise<boolean> {
  const v = args.issue.version;
  const unresolved = sql`EXISTS (SELECT 1 FROM ${conflicts} c WHERE c.id = ${args.conflictId} AND c.resolved_at IS NULL)`;
  const results = await runBatch(db, [
    db
      .update(issues)
      .set({ ...args.columns, syncState: args.syncState, syncError: null, updatedAt: args.now, version: v + 1 })
      .where(and(eq(issues.id, args.issue.id), eq(issues.version, v), unresolved))
      .returning({ id: issues.id }),
    // Each of the next two statements runs only if the one before it changed a row (`changes()` is
    // the previous statement's count), so conflict and record follow exactly this update — not one
    // by another writer that moved the issue to the same version.
    db
      .update(conflicts)
      .set({ resolvedAt: args.now, resolvedKeep: args.keep, resolvedBy: args.actor })
      .where(and(eq(conflicts.id, args.conflictId), isNull(conflicts.resolvedAt), sql`changes() > 0`)),
    ...activityStatements(args.activity, sql`changes() > 0`),
    ...(args.push ? [outboxUpsert(args.issue.projectId, [{ id: args.push.outboxId, issueId: args.issue.id, version: v + 1, op: args.issue.externalId ? "update" : "create", now: args.now }])] : []),
  ]);
  return results[0]!.results.length > 0;
}

/**
 * A comment conflict settled by hand, in one batch, if the comment is still at the version read and
 * the conflict still open: the chosen body written to the comment, its push queued through the
 * comment outbox (like a local edit) when the tracker must follow, the conflict marked resolved and
 * the activity recorded. False when the comment moved on or the conflict was already resolved.
 */
export async function writeCommentConflictResolution(
  db: Database,
  args: {
    comment: CommentRow;
    body: string;
    syncState: CommentRow["syncState"];
    push: { outboxId: string; op: CommentOutboxRow["op"] } | null;
    conflictId: string;
    keep: "local" | "tracker";
    actor: string | null;
    now: string;
    /** Guard with `onlyIfComment: { id, version: comment.version + 1 }`: recorded only if the update applied. */
    activity: readonly ActivityEntry[];
  },
): Promise<boolean> {
  const v = args.comment.version;
  const unresolved = sql`EXISTS (SELECT 1 FROM ${conflicts} c WHERE c.id = ${args.conflictId} AND c.resolved_at IS NULL)`;
  const results = await runBatch(db, [
    db
      .update(comments)
      .set({ body: args.body, syncState: args.syncState, syncError: null, updatedAt: args.now, version: v + 1 })
      .where(and(eq(comments.id, args.comment.id), eq(comments.version, v), unresolved))
      .returning({ id: comments.id }),
    // Each of the next two statements runs only if the one before it changed a row (`changes()` is
    // the previous statement's count), so conflict and record follow exactly this update — not one
    // by another writer that moved the comment to the same version.
    db
      .update(conflicts)
      .set({ resolvedAt: args.now, resolvedKeep: args.keep, resolvedBy: args.actor })
      .where(and(eq(conflicts.id, args.conflictId), isNull(conflicts.resolvedAt), sql`changes() > 0`)),
    ...activityStatements(args.activity, sql`changes() > 0`),
    ...(args.push
      ? [commentOutboxUpsert({ id: args.push.outboxId, projectId: args.comment.projectId, commentId: args.comment.id, version: v + 1, op: args.push.op, now: args.now })]
      : []),
  ]);
  return results[0]!.results.length > 0;
}
