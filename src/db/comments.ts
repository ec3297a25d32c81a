/**
 * Comments: the local store, its outbox, comments waiting for their issue, and the queries the
 * comment phase of a run needs. Every local write bumps `version`; writes that depend on a row
 * not having moved on are guarded by it (D1 has no interactive transactions), and rows that change
 * together go in one atomic batch.
 */
import { and, asc, count, eq, gt, isNotNull, isNull, lt, ne, or, sql, type SQL } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch, type Statement } from "./batch";
import { INLINE_TEXT_BYTES, jsonBytes } from "./bytes";
import type { Database } from "./client";
import { writeLocalEdit } from "./local-edit";
import { commentAtVersion, packText, replacePartsStatements, withCommentText, withCommentTexts } from "./issue-texts";
import {
  commentOutbox,
  comments,
  conflicts,
  issues,
  pendingComments,
  projects,
  type CommentOutboxRow,
  type CommentRow,
  type IssueRow,
} from "./schema";

export type NewComment = typeof comments.$inferInsert;
export type CommentOp = CommentOutboxRow["op"];

// ---------- reads ----------

export async function getComment(db: Database, projectId: string, id: string): Promise<CommentRow | undefined> {
  return withCommentText(db, await db.select().from(comments).where(and(eq(comments.projectId, projectId), eq(comments.id, id))).get());
}

/** One issue's comments, oldest first (created_at, then id); `afterId` is the last id of the previous page. */
export async function listIssueComments(
  db: Database,
  projectId: string,
  issueId: string,
  page: { limit: number; afterId?: string | null },
): Promise<CommentRow[]> {
  const where: (SQL | undefined)[] = [eq(comments.projectId, projectId), eq(comments.issueId, issueId)];
  if (page.afterId) {
    const after = sql`(SELECT created_at FROM ${comments} WHERE id = ${page.afterId})`;
    where.push(or(gt(comments.createdAt, after), and(eq(comments.createdAt, after), gt(comments.id, page.afterId))));
  }
  return withCommentTexts(db, await db.select().from(comments).where(and(...where)).orderBy(asc(comments.createdAt), asc(comments.id)).limit(page.limit).all());
}

/** `column IN (the values)`, the values travelling as one JSON parameter (D1 binds at most 100 parameters). */
function inJson(column: SQL | typeof comments.externalId | typeof issues.externalNumber | typeof pendingComments.externalId, values: readonly (string | number)[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify([...new Set(values)])}))`;
}

export async function loadCommentsByExternalIds(db: Database, projectId: string, externalIds: readonly string[]): Promise<Map<string, CommentRow>> {
  if (externalIds.length === 0) return new Map();
  const rows = await withCommentTexts(db, await db.select().from(comments).where(and(eq(comments.projectId, projectId), inJson(comments.externalId, externalIds))).all());
  return new Map(rows.map((r) => [r.externalId!, r]));
}

/** The project's linked issues by tracker number (the live one when a number was reused). */
export async function issuesByNumber(db: Database, projectId: string, numbers: readonly number[]): Promise<Map<number, IssueRow>> {
  if (numbers.length === 0) return new Map();
  return byNumber(await db.select().from(issues).where(and(eq(issues.projectId, projectId), inJson(issues.externalNumber, numbers))).all());
}

function byNumber(rows: readonly IssueRow[]): Map<number, IssueRow> {
  const out = new Map<number, IssueRow>();
  for (const r of rows) {
    const seen = out.get(r.externalNumber!);
    if (!seen || (seen.deletedAt !== null && r.deletedAt === null)) out.set(r.externalNumber!, r);
  }
  return out;
}

export interface UnconfirmedCreate {
  comment: CommentRow;
  sentBody: string;
  attemptedAt: string;
}

/** What merging a page of tracker comments needs to read, fetched in one D1 round trip. */
export interface CommentPageContext {
  /** Local comments by external id. */
  locals: Map<string, CommentRow>;
  /** Linked issues by tracker number (the live one when a number was reused). */
  issuesByNumber: Map<number, IssueRow>;
  /** Unconfirmed creates on the issues carrying these numbers (a superset: match on issue id). */
  unconfirmed: UnconfirmedCreate[];
  /** External ids of the page that wait in `pending_comments` (only those need deleting once applied). */
  pendingIds: Set<string>;
}

export async function loadCommentPageContext(db: Database, projectId: string, externalIds: readonly string[], issueNumbers: readonly number[]): Promise<CommentPageContext> {
  const [locals, linked, unconfirmed, pending] = await db.batch([
    db.select().from(comments).where(and(eq(comments.projectId, projectId), inJson(comments.externalId, externalIds))),
    db.select().from(issues).where(and(eq(issues.projectId, projectId), inJson(issues.externalNumber, issueNumbers))),
    db
      .select({ comment: comments, sentBody: commentOutbox.sentBody, attemptedAt: commentOutbox.createAttemptedAt })
      .from(issues)
      .innerJoin(comments, eq(comments.issueId, issues.id))
      .innerJoin(commentOutbox, eq(commentOutbox.commentId, comments.id))
      .where(
        and(
          eq(issues.projectId, projectId),
          inJson(issues.externalNumber, issueNumbers),
          isNull(comments.externalId),
          isNotNull(commentOutbox.createAttemptedAt),
          // Only a create still in flight: a refused one (403/422) made nothing to adopt.
          eq(commentOutbox.status, "pending"),
        ),
      ),
    db.select({ externalId: pendingComments.externalId }).from(pendingComments).where(and(eq(pendingComments.projectId, projectId), inJson(pendingComments.externalId, externalIds))),
  ]);
  // Texts split into parts (a long tracker note) are joined back: one more round trip, only then.
  const [localRows, unconfirmedRows] = await Promise.all([withCommentTexts(db, locals), withCommentTexts(db, unconfirmed.map((r) => r.comment))]);
  return {
    locals: new Map(localRows.map((r) => [r.externalId!, r])),
    issuesByNumber: byNumber(linked),
    unconfirmed: unconfirmed.map((r, i) => ({ comment: unconfirmedRows[i]!, sentBody: r.sentBody ?? "", attemptedAt: r.attemptedAt! })),
    pendingIds: new Set(pending.map((r) => r.externalId)),
  };
}

/**
 * Local comments of these issues with a create sent but never confirmed: a poll that meets the
 * comment the lost create made links it to them instead of importing a copy.
 */
export async function listUnconfirmedCommentCreates(db: Database, issueIds: readonly string[]): Promise<{ comment: CommentRow; sentBody: string; attemptedAt: string }[]> {
  if (issueIds.length === 0) return [];
  const rows = await db
    .select({ comment: comments, sentBody: commentOutbox.sentBody, attemptedAt: commentOutbox.createAttemptedAt })
    .from(comments)
    .innerJoin(commentOutbox, eq(commentOutbox.commentId, comments.id))
    // Every issue of the page (up to 100 ids): they travel as one JSON array, D1 binds at most 100 parameters.
    .where(
      and(
        sql`${comments.issueId} IN (SELECT value FROM json_each(${JSON.stringify([...new Set(issueIds)])}))`,
        isNull(comments.externalId),
        isNotNull(commentOutbox.createAttemptedAt),
      ),
    )
    .all();
  const joined = await withCommentTexts(db, rows.map((r) => r.comment));
  return rows.map((r, i) => ({ comment: joined[i]!, sentBody: r.sentBody ?? "", attemptedAt: r.attemptedAt! }));
}

// ---------- local writes (API) ----------

interface OutboxWrite {
  id: string;
  projectId: string;
  commentId: string;
  /** The comment's version after the write this push goes with. */
  version: number;
  op: CommentOp;
  now: string;
}

/**
 * Queues (or coalesces into) the comment's one outbox row, only if the comment is at `version`
 * (so "comment changed" and "push queued" are one atomic step). A create not yet confirmed stays a
 * create; a delete wins over everything.
 */
export function commentOutboxUpsert(w: OutboxWrite): SQL {
  return sql`
    INSERT INTO ${commentOutbox} (id, project_id, comment_id, op, status, attempts, created_at, updated_at)
    SELECT ${w.id}, ${w.projectId}, ${w.commentId}, ${w.op}, 'pending', 0, ${w.now}, ${w.now}
    WHERE EXISTS (SELECT 1 FROM ${comments} c WHERE c.id = ${w.commentId} AND c.version = ${w.version})
    ON CONFLICT (comment_id) DO UPDATE SET
      status = 'pending', attempts = 0, last_error = NULL,
      next_attempt_at = CASE WHEN comment_outbox.op = 'create' AND comment_outbox.status = 'pending' THEN comment_outbox.next_attempt_at ELSE NULL END,
      op = CASE
        WHEN excluded.op = 'delete' THEN 'delete'
        WHEN comment_outbox.op = 'create' AND comment_outbox.status = 'pending' THEN 'create'
        ELSE excluded.op END,
      updated_at = excluded.updated_at`;
}

/** Inserts a local comment and, when it is to reach the tracker, its outbox row, atomically (with its activity). */
export async function insertLocalComment(
  db: Database,
  row: NewComment & { id: string; projectId: string },
  push: { outboxId: string } | null,
  activity: readonly ActivityEntry[] = [],
): Promise<CommentRow> {
  const statements: Statement[] = [db.insert(comments).values({ ...row, version: 1 })];
  if (push) statements.push(commentOutboxUpsert({ id: push.outboxId, projectId: row.projectId, commentId: row.id, version: 1, op: "create", now: row.updatedAt }));
  statements.push(...activityStatements(activity));
  await runBatch(db, statements);
  return (await getComment(db, row.projectId, row.id))!;
}

/**
 * A local edit or deletion if the comment is still at its version (compare-and-set), with its push
 * queued in the same batch. Undefined when the row moved on meanwhile.
 */
export async function updateLocalComment(
  db: Database,
  current: CommentRow,
  change: { body?: string; deletedAt?: string },
  push: { outboxId: string; op: CommentOp } | null,
  now: string,
  /** Recorded only if the update applied: guard them with `onlyIfComment: { id, version: current.version + 1 }`. */
  activity: readonly ActivityEntry[] = [],
): Promise<CommentRow | undefined> {
  const applied = await writeLocalEdit(db, {
    kind: "comment",
    current,
    // A local body is at most 65,536 characters: always inline (a split tracker text is replaced).
    columns: { ...(change.body !== undefined ? { body: change.body, bodyParts: 0 } : {}), ...(change.deletedAt !== undefined ? { deletedAt: change.deletedAt } : {}) },
    push: push ? (version) => commentOutboxUpsert({ id: push.outboxId, projectId: current.projectId, commentId: current.id, version, op: push.op, now }) : null,
    now,
    activity,
  });
  return applied ? getComment(db, current.projectId, current.id) : undefined;
}

// ---------- inbound writes (polls, webhooks) ----------

export interface InboundInsert {
  kind: "insert";
  row: NewComment & { id: string; projectId: string };
  /** Its activity, guarded so it is recorded only if the insert applied. */
  activity?: readonly ActivityEntry[];
}

export interface InboundUpdate {
  kind: "update";
  current: CommentRow;
  set: Partial<Pick<CommentRow, "body" | "base" | "externalId" | "externalUrl" | "externalUpdatedAt" | "syncState" | "syncError" | "deletedAt" | "deletionProofAt" | "updatedAt" | "lastSeenRunId">>;
  /** Queue an update push (local wins) or close the pending one (tracker wins / converged). */
  push?: { outboxId: string; op: CommentOp; now: string } | "close";
  conflict?: { id: string; issueId: string; base: string; local: string; tracker: string; resolution: "tracker" | "local" };
  /** Its activity, guarded on the comment's next version (recorded only if the update applied). */
  activity?: readonly ActivityEntry[];
}

export type InboundWrite = InboundInsert | InboundUpdate;

/**
 * Stores decisions in one batch. Updates are guarded by the version read: a local edit made while
 * the decision was computed wins the race and the row is decided again on the next read.
 */
export async function storeInbound(db: Database, writes: readonly InboundWrite[], tail: readonly Statement[] = []): Promise<void> {
  // A write's statements (and its activity) always go in the same batch: batches hold whole writes.
  let statements: Statement[] = [];
  const flush = async () => {
    if (statements.length > 0) await runBatch(db, statements);
    statements = [];
  };
  for (const w of writes) {
    if (statements.length >= 200) await flush();
    if (w.kind === "insert") {
      // Texts over a row's share of D1's byte limit go to parts (issue-texts.ts), as for issues.
      const body = packText(w.row.body);
      const base = w.row.base === null || w.row.base === undefined ? null : packText(w.row.base);
      statements.push(sql`INSERT INTO ${comments} (id, project_id, issue_id, body, author, visibility, created_at, updated_at, version,
          external_id, external_url, external_updated_at, base, sync_state, deleted_at, last_seen_run_id, body_parts, base_parts)
        VALUES (${w.row.id}, ${w.row.projectId}, ${w.row.issueId}, ${body.inline}, ${w.row.author}, ${w.row.visibility ?? "public"},
          ${w.row.createdAt}, ${w.row.updatedAt}, 1, ${w.row.externalId ?? null}, ${w.row.externalUrl ?? null}, ${w.row.externalUpdatedAt ?? null},
          ${base?.inline ?? null}, ${w.row.syncState ?? "synced"}, ${w.row.deletedAt ?? null}, ${w.row.lastSeenRunId ?? null}, ${body.parts.length}, ${base?.parts.length ?? 0})
        ON CONFLICT (project_id, external_id) DO NOTHING`);
      // Only if this insert made the row (a fresh id: absent when it was skipped).
      const inserted = commentAtVersion(w.row.id, 1);
      if (body.parts.length > 0) statements.push(...replacePartsStatements(w.row.projectId, w.row.id, "comment.body", body.parts, inserted));
      if (base && base.parts.length > 0) statements.push(...replacePartsStatements(w.row.projectId, w.row.id, "comment.base", base.parts, inserted));
      // Guarded on the new row's id (a fresh id: absent when the insert was skipped).
      statements.push(...activityStatements(w.activity ?? []));
      continue;
    }
    const next = w.current.version + 1;
    const body = w.set.body === undefined ? null : packText(w.set.body);
    const base = w.set.base === undefined || w.set.base === null ? null : packText(w.set.base);
    const texts = {
      ...(body ? { body: body.inline, bodyParts: body.parts.length } : {}),
      ...(base ? { base: base.inline, baseParts: base.parts.length } : w.set.base === null ? { baseParts: 0 } : {}),
    };
    statements.push(
      db
        .update(comments)
        .set({ ...w.set, ...texts, version: next })
        .where(and(eq(comments.id, w.current.id), eq(comments.version, w.current.version))),
    );
    // Parts follow the update that applied (guarded on its version); a stale write leaves them.
    const written = commentAtVersion(w.current.id, next);
    if (body && body.parts.length > 0) statements.push(...replacePartsStatements(w.current.projectId, w.current.id, "comment.body", body.parts, written));
    if (base && base.parts.length > 0) statements.push(...replacePartsStatements(w.current.projectId, w.current.id, "comment.base", base.parts, written));
    // Right after the update: recorded only if it changed the row. (The version guard alone would
    // also hold if another writer moved the row to the same next version meanwhile.)
    statements.push(...activityStatements(w.activity ?? [], sql`changes() > 0`));
    if (w.push === "close") {
      statements.push(
        sql`UPDATE ${commentOutbox} SET status = 'done', updated_at = ${w.set.updatedAt ?? w.current.updatedAt}
          WHERE comment_id = ${w.current.id} AND status = 'pending'
            AND EXISTS (SELECT 1 FROM ${comments} c WHERE c.id = ${w.current.id} AND c.version = ${next})`,
      );
    } else if (w.push) {
      statements.push(commentOutboxUpsert({ id: w.push.outboxId, projectId: w.current.projectId, commentId: w.current.id, version: next, op: w.push.op, now: w.push.now }));
    }
    if (w.conflict) {
      const c = w.conflict;
      statements.push(sql`INSERT INTO ${conflicts} (id, project_id, issue_id, field, base_value, local_value, tracker_value, resolution, comment_id)
        SELECT ${c.id}, ${w.current.projectId}, ${c.issueId}, 'comment.body', ${conflictValue(c.base)}, ${conflictValue(c.local)}, ${conflictValue(c.tracker)}, ${c.resolution}, ${w.current.id}
        WHERE EXISTS (SELECT 1 FROM ${comments} x WHERE x.id = ${w.current.id} AND x.version = ${next})`);
    }
  }
  // Statements that go with the writes (pending rows, the seen mark): in the last batch, no extra round trip.
  statements.push(...tail);
  await flush();
}

/**
 * A conflict's text as stored: JSON, or `null` for one too large for the conflict row (a GitLab note
 * may be ~4 MB; D1 refuses a row over 2,000,000 bytes). The comment itself holds the text; such a
 * side cannot be chosen by hand (409), and recording the conflict never fails the merge.
 */
function conflictValue(text: string): string {
  const json = JSON.stringify(text);
  return jsonBytes(text) <= INLINE_TEXT_BYTES ? json : "null";
}

// ---------- comments that arrived before their issue ----------

export async function savePendingComments(db: Database, projectId: string, items: readonly { externalId: string; issueNumber: number; json: string }[]): Promise<void> {
  await runBatch(db, savePendingStatements(projectId, items));
}

export function savePendingStatements(projectId: string, items: readonly { externalId: string; issueNumber: number; json: string }[]): Statement[] {
  return items.map(
    (i) => sql`INSERT INTO ${pendingComments} (project_id, external_id, issue_number, comment) VALUES (${projectId}, ${i.externalId}, ${i.issueNumber}, ${i.json})
        ON CONFLICT (project_id, external_id) DO UPDATE SET comment = CASE
          WHEN json_extract(excluded.comment, '$.updatedAt') >= json_extract(pending_comments.comment, '$.updatedAt') THEN excluded.comment
          ELSE pending_comments.comment END`,
  );
}

/** Waiting comments whose issue is now imported (oldest first, at most `limit`). */
export async function listPendingWithIssue(db: Database, projectId: string, limit: number): Promise<{ externalId: string; comment: string }[]> {
  return db
    .select({ externalId: pendingComments.externalId, comment: pendingComments.comment })
    .from(pendingComments)
    .where(
      and(
        eq(pendingComments.projectId, projectId),
        // Not while the issue is frozen (out of the sync scope): they wait until it is back.
        sql`EXISTS (SELECT 1 FROM ${issues} i WHERE i.project_id = ${projectId} AND i.external_number = ${pendingComments.issueNumber} AND i.deleted_at IS NULL AND i.scope_frozen_at IS NULL)`,
      ),
    )
    .orderBy(asc(pendingComments.receivedAt))
    .limit(limit)
    .all();
}

export async function deletePending(db: Database, projectId: string, externalIds: readonly string[]): Promise<void> {
  await runBatch(db, deletePendingStatements(projectId, externalIds));
}

/** One statement (ids as one JSON parameter), none when there is nothing to delete. */
export function deletePendingStatements(projectId: string, externalIds: readonly string[]): Statement[] {
  if (externalIds.length === 0) return [];
  return [sql`DELETE FROM ${pendingComments} WHERE project_id = ${projectId} AND ${inJson(sql`external_id`, externalIds)}`];
}

export async function countPending(db: Database, projectId: string): Promise<number> {
  const row = await db.select({ n: count() }).from(pendingComments).where(eq(pendingComments.projectId, projectId)).get();
  return row?.n ?? 0;
}

// ---------- the comment phase of runs ----------

/** One statement per page (ids as one JSON parameter); rows this run already marked (its own inserts) are not rewritten. */
export async function markCommentsSeen(db: Database, projectId: string, runId: string, externalIds: readonly string[]): Promise<void> {
  await runBatch(db, markCommentsSeenStatements(projectId, runId, externalIds));
}

export function markCommentsSeenStatements(projectId: string, runId: string, externalIds: readonly string[]): Statement[] {
  if (externalIds.length === 0) return [];
  return [
    sql`UPDATE ${comments} SET last_seen_run_id = ${runId}
    WHERE project_id = ${projectId} AND external_id IN (SELECT value FROM json_each(${JSON.stringify(externalIds)}))
      AND last_seen_run_id IS NOT ${runId}`,
  ];
}

/**
 * After a complete repository-wide listing: linked, live comments of live issues the listing did
 * not contain (keyset on id). They were deleted on the tracker.
 */
export async function listUnseenLinkedComments(db: Database, projectId: string, runId: string, page: { afterId: string | null; limit: number }): Promise<CommentRow[]> {
  const rows = await db
    .select()
    .from(comments)
    .where(
      and(
        eq(comments.projectId, projectId),
        isNotNull(comments.externalId),
        isNull(comments.deletedAt),
        or(isNull(comments.lastSeenRunId), ne(comments.lastSeenRunId, runId)),
        page.afterId ? gt(comments.id, page.afterId) : undefined,
        sql`EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = ${comments.issueId} AND i.deleted_at IS NULL AND i.sync_state <> 'orphaned')`,
      ),
    )
    .orderBy(asc(comments.id))
    .limit(page.limit)
    .all();
  return withCommentTexts(db, rows);
}

/** Live linked comments of one issue (to find those a complete listing of the issue no longer has). */
export async function listLinkedCommentsOfIssue(db: Database, issueId: string): Promise<CommentRow[]> {
  return withCommentTexts(db, await db.select().from(comments).where(and(eq(comments.issueId, issueId), isNotNull(comments.externalId), isNull(comments.deletedAt))).all());
}

/** Linked live issues whose tracker copy changed after `since` (all when null), keyset on id. */
export async function listIssuesChangedSince(db: Database, projectId: string, since: string | null, page: { afterId: string | null; limit: number }): Promise<IssueRow[]> {
  return db
    .select()
    .from(issues)
    .where(
      and(
        eq(issues.projectId, projectId),
        isNotNull(issues.externalNumber),
        isNull(issues.deletedAt),
        ne(issues.syncState, "orphaned"),
        since ? gt(issues.externalUpdatedAt, since) : undefined,
        page.afterId ? gt(issues.id, page.afterId) : undefined,
      ),
    )
    .orderBy(asc(issues.id))
    .limit(page.limit)
    .all();
}

/**
 * The comment phase completed: moves the comment cursor (never backwards), stores the first page's
 * ETag for it, and clears a failure of the phase recorded earlier.
 */
export async function storeCommentCursor(db: Database, projectId: string, cursor: string | null, etag: string | null): Promise<void> {
  await db
    .update(projects)
    .set({
      commentCursor: sql`CASE WHEN ${projects.commentCursor} IS NULL OR ${projects.commentCursor} < ${cursor} THEN ${cursor} ELSE ${projects.commentCursor} END`,
      commentCursorEtag: etag,
      commentPhaseError: null,
      commentPhaseErrorAt: null,
    })
    .where(eq(projects.id, projectId));
}

// ---------- the comment outbox ----------

export async function getCommentOutboxRow(db: Database, commentId: string): Promise<CommentOutboxRow | undefined> {
  return db.select().from(commentOutbox).where(eq(commentOutbox.commentId, commentId)).get();
}

/** Written before a create is sent: the first attempt's time and the exact text about to be sent. */
export async function recordCommentCreateAttempt(db: Database, args: { commentId: string; sentBody: string; at: string }): Promise<void> {
  await db
    .update(commentOutbox)
    .set({ createAttemptedAt: sql`COALESCE(${commentOutbox.createAttemptedAt}, ${args.at})`, sentBody: args.sentBody, updatedAt: args.at })
    .where(eq(commentOutbox.commentId, args.commentId));
}

/**
 * Stores a push's answer: the mapping, base and external `updated_at` always (they describe the
 * tracker); the sync state and the outbox row's completion only if the comment is still at the
 * version read (a local edit made meanwhile has its own round coming). True when it was.
 */
export async function storeCommentPushResult(
  db: Database,
  args: {
    comment: CommentRow;
    externalId: string | null;
    externalUrl: string | null;
    externalUpdatedAt: string | null;
    base: string | null;
    /** The tracker's stored form of what was sent, taken as the local body if the row is still at the version read. */
    body?: string | null;
    /** The local body now equals what the tracker holds (or the deletion reached it). */
    settled: boolean;
    /** The deletion reached the tracker: the row is done whatever its op. */
    deleted?: boolean;
    now: string;
    /** Guard local changes with `onlyIfComment: { id, version: comment.version + 1 }` (what was sent is recorded unguarded). */
    activity?: readonly ActivityEntry[];
  },
): Promise<boolean> {
  const c = args.comment;
  const v = c.version;
  const same = sql`${comments.version} = ${v}`;
  const state = args.settled ? "synced" : "pending_push";
  const done = args.settled ? sql`EXISTS (SELECT 1 FROM ${comments} x WHERE x.id = ${c.id} AND x.version = ${v + 1})` : sql`0`;
  const [result] = await runBatch(db, [
    sql`UPDATE ${comments} SET
        external_id = COALESCE(${args.externalId}, external_id),
        external_url = COALESCE(${args.externalUrl}, external_url),
        external_updated_at = CASE WHEN ${args.externalUpdatedAt} IS NOT NULL AND (external_updated_at IS NULL OR external_updated_at < ${args.externalUpdatedAt})
          THEN ${args.externalUpdatedAt} ELSE external_updated_at END,
        base = COALESCE(${args.base}, base),
        base_parts = CASE WHEN ${args.base} IS NOT NULL THEN 0 ELSE base_parts END,
        body = CASE WHEN ${same} AND ${args.body ?? null} IS NOT NULL THEN ${args.body ?? null} ELSE body END,
        body_parts = CASE WHEN ${same} AND ${args.body ?? null} IS NOT NULL THEN 0 ELSE body_parts END,
        sync_state = CASE WHEN ${same} THEN ${state} ELSE 'pending_push' END,
        sync_error = NULL,
        version = version + 1
      WHERE id = ${c.id}
      RETURNING version`,
    sql`UPDATE ${commentOutbox} SET
        status = CASE WHEN ${done} THEN 'done' ELSE status END,
        op = CASE WHEN op = 'delete' THEN 'delete' ELSE 'update' END,
        create_attempted_at = NULL, attempts = 0, last_error = NULL, next_attempt_at = NULL, updated_at = ${args.now}
      WHERE comment_id = ${c.id}`,
    ...activityStatements(args.activity ?? []),
  ]);
  return result!.results[0]?.version === v + 1;
}

export async function deferCommentPush(db: Database, commentId: string, at: string): Promise<void> {
  await db.update(commentOutbox).set({ nextAttemptAt: at }).where(eq(commentOutbox.commentId, commentId));
}

export async function recordCommentPushAttempt(db: Database, commentId: string, error: string, now: string): Promise<void> {
  await db
    .update(commentOutbox)
    .set({ attempts: sql`${commentOutbox.attempts} + 1`, lastError: error, updatedAt: now })
    .where(eq(commentOutbox.commentId, commentId));
}

/** A push that cannot succeed by retrying: the row fails and the comment shows why (if not edited since). */
export async function failCommentPush(
  db: Database,
  args: { commentId: string; version: number | null; reason: string; now: string },
  activity: readonly ActivityEntry[] = [],
): Promise<boolean> {
  const atVersion = args.version === null ? sql`1` : sql`EXISTS (SELECT 1 FROM ${comments} c WHERE c.id = ${args.commentId} AND c.version = ${args.version})`;
  // Recorded only if the row was still pending (checked first: the updates change it) and at the version.
  const pending = sql`EXISTS (SELECT 1 FROM ${commentOutbox} o WHERE o.comment_id = ${args.commentId} AND o.status = 'pending') AND ${atVersion}`;
  const recorded = activityStatements(activity, pending);
  const results = await runBatch(db, [
    ...recorded,
    sql`UPDATE ${comments} SET sync_state = 'error', sync_error = ${args.reason} WHERE id = ${args.commentId} AND ${atVersion} RETURNING id`,
    sql`UPDATE ${commentOutbox} SET status = 'failed', last_error = ${args.reason}, attempts = attempts + 1, updated_at = ${args.now}
      WHERE comment_id = ${args.commentId} AND status = 'pending' AND ${atVersion}`,
  ]);
  return results[recorded.length]!.results.length > 0;
}

/** Closes a pending row with nothing left to do. */
export async function closeCommentOutbox(db: Database, commentId: string, status: "done" | "failed", reason: string | null, now: string): Promise<void> {
  await db
    .update(commentOutbox)
    .set({ status, lastError: reason, updatedAt: now })
    .where(and(eq(commentOutbox.commentId, commentId), eq(commentOutbox.status, "pending")));
}

/** Retries exhausted (dead letter): the row fails and the comment shows why. */
export async function failExhaustedCommentPush(
  db: Database,
  args: { commentId: string; reason: string; now: string },
  activity: readonly ActivityEntry[] = [],
): Promise<boolean> {
  // Recorded only if the row was pending (checked first: the updates change it).
  const recorded = activityStatements(activity, sql`EXISTS (SELECT 1 FROM ${commentOutbox} o WHERE o.comment_id = ${args.commentId} AND o.status = 'pending')`);
  const results = await runBatch(db, [
    ...recorded,
    sql`UPDATE ${comments} SET sync_state = 'error', sync_error = ${args.reason}
      WHERE id = ${args.commentId} AND EXISTS (SELECT 1 FROM ${commentOutbox} o WHERE o.comment_id = ${args.commentId} AND o.status = 'pending')
      RETURNING id`,
    sql`UPDATE ${commentOutbox} SET status = 'failed', updated_at = ${args.now}, last_error = COALESCE(last_error, ${args.reason})
      WHERE comment_id = ${args.commentId} AND status = 'pending'`,
  ]);
  return results[recorded.length]!.results.length > 0;
}

/** Pending comment pushes of enabled projects not touched since `before` (their job was lost). */
export async function listStaleCommentPushes(db: Database, before: string, limit: number): Promise<{ projectId: string; commentId: string }[]> {
  return db
    .select({ projectId: commentOutbox.projectId, commentId: commentOutbox.commentId })
    .from(commentOutbox)
    .innerJoin(projects, eq(projects.id, commentOutbox.projectId))
    .where(and(eq(commentOutbox.status, "pending"), lt(commentOutbox.updatedAt, before), eq(projects.syncEnabled, true)))
    .orderBy(asc(commentOutbox.updatedAt))
    .limit(limit)
    .all();
}

/** Comment counts for the project status. */
export async function commentCounts(db: Database, projectId: string): Promise<{ total: number; internal: number; deleted: number; error: number; pendingPushes: number; failedPushes: number; waitingForIssue: number }> {
  const [c, o, waiting] = await Promise.all([
    db
      .select({
        total: count(),
        internal: sql<number>`COALESCE(SUM(CASE WHEN ${comments.visibility} = 'internal' THEN 1 ELSE 0 END), 0)`,
        deleted: sql<number>`COALESCE(SUM(CASE WHEN ${comments.deletedAt} IS NOT NULL THEN 1 ELSE 0 END), 0)`,
        error: sql<number>`COALESCE(SUM(CASE WHEN ${comments.syncState} = 'error' THEN 1 ELSE 0 END), 0)`,
      })
      .from(comments)
      .where(eq(comments.projectId, projectId))
      .get(),
    db.select({ status: commentOutbox.status, n: count() }).from(commentOutbox).where(eq(commentOutbox.projectId, projectId)).groupBy(commentOutbox.status).all(),
    countPending(db, projectId),
  ]);
  const byStatus = Object.fromEntries(o.map((r) => [r.status, r.n])) as Partial<Record<CommentOutboxRow["status"], number>>;
  return {
    total: c?.total ?? 0,
    internal: Number(c?.internal ?? 0),
    deleted: Number(c?.deleted ?? 0),
    error: Number(c?.error ?? 0),
    pendingPushes: byStatus.pending ?? 0,
    failedPushes: byStatus.failed ?? 0,
    waitingForIssue: waiting,
  };
}

/** A failed comment push made pending again (attempts reset), with its activity, in one batch. */
export async function reopenFailedCommentPush(db: Database, args: { commentId: string; now: string; activity: readonly ActivityEntry[] }): Promise<boolean> {
  const failed = sql`EXISTS (SELECT 1 FROM ${commentOutbox} o WHERE o.comment_id = ${args.commentId} AND o.status = 'failed')`;
  const results = await runBatch(db, [
    ...activityStatements(args.activity, failed),
    sql`UPDATE ${comments} SET sync_state = 'pending_push', sync_error = NULL, version = version + 1
      WHERE id = ${args.commentId} AND ${failed}`,
    sql`UPDATE ${commentOutbox} SET status = 'pending', attempts = 0, last_error = NULL, next_attempt_at = NULL, updated_at = ${args.now}
      WHERE comment_id = ${args.commentId} AND status = 'failed'
      RETURNING id`,
  ]);
  return results[results.length - 1]!.results.length > 0;
}
