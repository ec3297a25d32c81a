/**
 * Persistence of outbound pushes: the issue's one outbox row and the writes that settle it.
 * D1 has no interactive transactions, so every write that depends on the local issue not having
 * moved on is guarded by the issue version read before the tracker call, and the issue and outbox
 * rows that change together go in one atomic batch.
 */
import { redactSecrets } from "../redact";
import { and, asc, count, eq, lt, sql, type SQL } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import type { Database } from "./client";
import { jsonField as j, stringifySet } from "./json";
import { issueAtVersion, packText, replacePartsStatements } from "./issue-texts";
import { issues, outbox, projects, type IssueRow, type OutboxRow, type StoredFields } from "./schema";

/** One outbox write: queued only if the issue is at `version` after the write it goes with. */
export interface OutboxWrite {
  id: string;
  issueId: string;
  version: number;
  op: "create" | "update" | "recreate";
  now: string;
}

/**
 * Queues (or coalesces into) each issue's one outbox row, but only if the issue is at the given
 * version: in the same batch as the issue write, "issue changed" and "push queued" are one atomic
 * step. A create not yet confirmed stays a create (a later edit rides along with it); a recreate
 * replaces whatever was there and forgets the earlier create attempt.
 */
export function outboxUpsert(projectId: string, rows: readonly OutboxWrite[]): SQL {
  return outboxUpsertJson(projectId, JSON.stringify(rows));
}

/** `outboxUpsert` of rows already serialized as one JSON array (see `chunkByJsonSize`). */
export function outboxUpsertJson(projectId: string, json: string): SQL {
  return sql`
    INSERT INTO ${outbox} (id, project_id, issue_id, op, status, attempts, created_at, updated_at)
    SELECT ${j("id")}, ${projectId}, ${j("issueId")}, ${j("op")}, 'pending', 0, ${j("now")}, ${j("now")}
    FROM json_each(${json}) AS j
    WHERE EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = ${j("issueId")} AND i.version = ${j("version")})
    ON CONFLICT (issue_id) DO UPDATE SET
      status = 'pending', attempts = 0, last_error = NULL, next_attempt_at = NULL,
      op = CASE
        WHEN excluded.op = 'recreate' THEN 'recreate'
        WHEN outbox.op = 'create' AND outbox.status = 'pending' THEN 'create'
        ELSE excluded.op END,
      create_attempted_at = CASE WHEN excluded.op = 'recreate' THEN NULL ELSE outbox.create_attempted_at END,
      updated_at = excluded.updated_at`;
}

export async function getOutboxRow(db: Database, issueId: string): Promise<OutboxRow | undefined> {
  return db.select().from(outbox).where(eq(outbox.issueId, issueId)).get();
}

/** When the project may send its next tracker create (null: now). */
export async function nextCreateAt(db: Database, projectId: string): Promise<string | null> {
  const row = await db.select({ at: projects.nextCreateAt }).from(projects).where(eq(projects.id, projectId)).get();
  return row?.at ?? null;
}

/** Moves the project's create pacing to `at`, never earlier than it already is. */
export async function delayCreates(db: Database, projectId: string, at: string): Promise<void> {
  await db
    .update(projects)
    .set({ nextCreateAt: at })
    .where(and(eq(projects.id, projectId), sql`(${projects.nextCreateAt} IS NULL OR ${projects.nextCreateAt} < ${at})`));
}

/**
 * Written before a tracker create is sent: the attempt time (kept from the first attempt, so a
 * retry searches from the earliest instant the issue could have been created), the fields about
 * to be sent (kept as the issue's base: a retry looks the lost issue up by the title it was
 * created with, and an adoption by a poll measures tracker drift from them), and the project's
 * next create slot. One batch: a create is never sent without its attempt being on record.
 */
export async function recordCreateAttempt(
  db: Database,
  args: { projectId: string; issueId: string; sent: StoredFields; at: string; nextCreateAt: string },
): Promise<void> {
  // A recreated issue may carry an imported body too large for the row: split it (issue-texts.ts).
  const base = packText(JSON.stringify(args.sent));
  const unlinked = sql`EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = ${args.issueId} AND i.external_id IS NULL)`;
  await runBatch(db, [
    db
      .update(outbox)
      .set({ createAttemptedAt: sql`COALESCE(${outbox.createAttemptedAt}, ${args.at})`, updatedAt: args.at })
      .where(eq(outbox.issueId, args.issueId)),
    db
      .update(issues)
      .set({ base: base.inline, baseParts: base.parts.length })
      .where(and(eq(issues.id, args.issueId), sql`${issues.externalId} IS NULL`)),
    ...(base.parts.length > 0 ? replacePartsStatements(args.projectId, args.issueId, "base", base.parts, unlinked) : []),
    // Never earlier than it is: later slots may already be reserved by waiting creates.
    db
      .update(projects)
      .set({ nextCreateAt: args.nextCreateAt })
      .where(and(eq(projects.id, args.projectId), sql`(${projects.nextCreateAt} IS NULL OR ${projects.nextCreateAt} < ${args.nextCreateAt})`)),
  ]);
}

/**
 * Reserves the project's next create slot for this issue: the row waits until `slot` (its
 * `next_attempt_at`) and the project's next free slot moves one spacing on. Each waiting create
 * holds its own slot, so a burst of creates is retried once each, not once per second each.
 */
export async function reserveCreateSlot(db: Database, args: { projectId: string; issueId: string; slot: string; next: string }): Promise<void> {
  await runBatch(db, [
    db.update(outbox).set({ nextAttemptAt: args.slot }).where(eq(outbox.issueId, args.issueId)),
    db.update(projects).set({ nextCreateAt: args.next }).where(eq(projects.id, args.projectId)),
  ]);
}

export interface PushResult {
  issue: IssueRow;
  /** The tracker issue the push wrote to (or adopted). */
  mapping: { externalId: string; externalNumber: number; externalUrl: string | null; externalUpdatedAt: string | null };
  /** What the tracker now holds: the new base. */
  base: StoredFields;
  baseHash: string;
  /** Local fields to store if the issue is still at the version read (pass the read fields to keep them). */
  local: StoredFields;
  /** True when `local` equals `base` (but for refused fields): the issue is synced and its outbox row done. */
  settled: boolean;
  /** JSON of the fields the tracker refused silently (kept locally), or null. */
  warnings?: string | null;
  now: string;
  /** Entries for the activity stream, guarded by the caller where they depend on the version. */
  activity?: readonly ActivityEntry[];
  /** The tracker's close reason to store with the local fields; undefined keeps the stored one. */
  closeReason?: string | null;
}

/**
 * Stores a push's answer in one batch. The mapping, base and external `updated_at` are stored
 * whatever happened locally meanwhile (they describe the tracker); local fields, the sync state
 * and the outbox row's completion only if the issue is still at the version read. Returns true
 * when the issue was still at that version.
 */
export async function storePushResult(db: Database, r: PushResult): Promise<boolean> {
  const v = r.issue.version;
  const same = sql`${issues.version} = ${v}`;
  const localChanged =
    r.local.title !== r.issue.title ||
    r.local.body !== r.issue.body ||
    r.local.state !== r.issue.state ||
    stringifySet(r.local.labels) !== r.issue.labels ||
    stringifySet(r.local.assignees) !== r.issue.assignees ||
    r.local.milestone !== r.issue.milestone;
  const updatedAt = localChanged ? r.now : r.issue.updatedAt;
  const state = r.settled ? "synced" : "pending_push";
  // After the issue update, version v + 1 means it was still at v: nothing was edited meanwhile.
  const done = r.settled ? sql`EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = ${r.issue.id} AND i.version = ${v + 1})` : sql`0`;
  // Texts too large for the row are split into issue_text_parts (issue-texts.ts).
  const base = packText(JSON.stringify(r.base));
  const body = packText(r.local.body);
  const exists = sql`EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = ${r.issue.id})`;
  const [issueResult] = await runBatch(db, [
    sql`
      UPDATE ${issues} SET
        external_id = ${r.mapping.externalId},
        external_number = ${r.mapping.externalNumber},
        external_url = ${r.mapping.externalUrl},
        external_updated_at = CASE WHEN external_updated_at IS NULL OR external_updated_at < ${r.mapping.externalUpdatedAt}
          THEN ${r.mapping.externalUpdatedAt} ELSE external_updated_at END,
        base = ${base.inline},
        base_parts = ${base.parts.length},
        base_hash = ${r.baseHash},
        title = CASE WHEN ${same} THEN ${r.local.title} ELSE title END,
        body = CASE WHEN ${same} THEN ${body.inline} ELSE body END,
        body_parts = CASE WHEN ${same} THEN ${body.parts.length} ELSE body_parts END,
        state = CASE WHEN ${same} THEN ${r.local.state} ELSE state END,
        labels = CASE WHEN ${same} THEN ${stringifySet(r.local.labels)} ELSE labels END,
        assignees = CASE WHEN ${same} THEN ${stringifySet(r.local.assignees)} ELSE assignees END,
        milestone = CASE WHEN ${same} THEN ${r.local.milestone} ELSE milestone END,
        updated_at = CASE WHEN ${same} THEN ${updatedAt} ELSE updated_at END,
        sync_state = CASE WHEN ${same} THEN ${state} ELSE 'pending_push' END,
        sync_error = NULL,
        sync_warnings = CASE WHEN ${same} THEN ${r.warnings ?? null} ELSE sync_warnings END,
        deleted_at = NULL,
        close_reason = CASE WHEN ${same} AND ${r.closeReason !== undefined ? 1 : 0} = 1 THEN ${r.closeReason ?? null} ELSE close_reason END,
        version = version + 1
      WHERE id = ${r.issue.id} AND project_id = ${r.issue.projectId}
      RETURNING version`,
    // The issue is linked now: whatever op the row had, what remains to push is an update.
    sql`
      UPDATE ${outbox} SET
        status = CASE WHEN ${done} THEN 'done' ELSE status END,
        op = 'update', create_attempted_at = NULL, attempts = 0, last_error = NULL, next_attempt_at = NULL,
        updated_at = ${r.now}
      WHERE issue_id = ${r.issue.id}`,
    ...activityStatements(r.activity ?? []),
    ...(base.parts.length > 0 ? replacePartsStatements(r.issue.projectId, r.issue.id, "base", base.parts, exists) : []),
    ...(body.parts.length > 0 ? replacePartsStatements(r.issue.projectId, r.issue.id, "body", body.parts, issueAtVersion(r.issue.id, v + 1)) : []),
  ]);
  return issueResult!.results[0]?.version === v + 1;
}

/** A rate-limited push waits until `at`; the consumer retries the message then. */
export async function deferPush(db: Database, issueId: string, at: string): Promise<void> {
  await db.update(outbox).set({ nextAttemptAt: at }).where(eq(outbox.issueId, issueId));
}

/** A transient failure (5xx, network): counted and described; the queue retries the message. */
export async function recordPushAttempt(db: Database, issueId: string, error: string, now: string): Promise<void> {
  await db
    .update(outbox)
    .set({ attempts: sql`${outbox.attempts} + 1`, lastError: redactSecrets(error), updatedAt: now })
    .where(eq(outbox.issueId, issueId));
}

/**
 * A push that cannot succeed by retrying: the outbox row fails and the issue shows the reason.
 * Only if the issue is still at `version`: a local edit made meanwhile has its own push coming,
 * which must not find its row failed.
 */
export async function failPush(
  db: Database,
  args: { issueId: string; version: number; reason: string; now: string },
  activity: readonly ActivityEntry[] = [],
): Promise<boolean> {
  const reason = redactSecrets(args.reason);
  const [updated] = await runBatch(db, [
    db
      .update(issues)
      .set({ syncState: "error", syncError: reason })
      .where(and(eq(issues.id, args.issueId), eq(issues.version, args.version)))
      .returning({ id: issues.id }),
    sql`
      UPDATE ${outbox} SET status = 'failed', last_error = ${reason}, attempts = attempts + 1, updated_at = ${args.now}
      WHERE issue_id = ${args.issueId} AND status = 'pending'
        AND EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = ${args.issueId} AND i.version = ${args.version})`,
    ...activityStatements(activity),
  ]);
  return updated!.results.length > 0;
}

/** Closes an outbox row whose push has nothing left to do (the tracker issue is gone). */
export async function closeOutbox(db: Database, issueId: string, status: "done" | "failed", reason: string | null, now: string): Promise<void> {
  await db.update(outbox).set({ status, lastError: reason, updatedAt: now }).where(and(eq(outbox.issueId, issueId), eq(outbox.status, "pending")));
}

/**
 * Retries exhausted: the row fails and the issue shows why. Only a row that has failed since the
 * last local edit (an edit resets `attempts` to 0 and has its own push coming).
 */
export async function failExhaustedPush(
  db: Database,
  args: { projectId: string; issueId: string; reason: string; now: string },
  activity: readonly ActivityEntry[] = [],
): Promise<boolean> {
  const failing = sql`EXISTS (SELECT 1 FROM ${outbox} o WHERE o.issue_id = ${args.issueId} AND o.status = 'pending' AND o.attempts > 0)`;
  // The activity is recorded only if the row was failing (checked first: the updates change it).
  const recorded = activityStatements(activity, failing);
  const results = await runBatch(db, [
    ...recorded,
    db
      .update(issues)
      .set({ syncState: "error", syncError: args.reason })
      .where(and(eq(issues.id, args.issueId), eq(issues.projectId, args.projectId), failing))
      .returning({ id: issues.id }),
    sql`
      UPDATE ${outbox} SET status = 'failed', updated_at = ${args.now},
        last_error = COALESCE(last_error, ${args.reason})
      WHERE issue_id = ${args.issueId} AND status = 'pending' AND attempts > 0`,
  ]);
  return results[recorded.length]!.results.length > 0;
}

/** Pending rows of enabled projects not touched since `before` (their push job was lost), oldest first. */
export async function listStalePending(db: Database, before: string, limit: number): Promise<{ projectId: string; issueId: string }[]> {
  return db
    .select({ projectId: outbox.projectId, issueId: outbox.issueId })
    .from(outbox)
    .innerJoin(projects, eq(projects.id, outbox.projectId))
    .where(and(eq(outbox.status, "pending"), lt(outbox.updatedAt, before), eq(projects.syncEnabled, true)))
    .orderBy(asc(outbox.updatedAt))
    .limit(limit)
    .all();
}

/** How many of the project's outbox rows are in each status (statuses with none are absent). */
export async function countByStatus(db: Database, projectId: string): Promise<Partial<Record<OutboxRow["status"], number>>> {
  const rows = await db.select({ status: outbox.status, n: count() }).from(outbox).where(eq(outbox.projectId, projectId)).groupBy(outbox.status).all();
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/**
 * A failed push made pending again by hand (retry-push), with the issue back to `pending_push` and
 * the activity recording it, in one batch. False when the row was not failed.
 */
export async function reopenFailedPush(db: Database, args: { issueId: string; now: string; activity: readonly ActivityEntry[] }): Promise<boolean> {
  const failed = sql`EXISTS (SELECT 1 FROM ${outbox} o WHERE o.issue_id = ${args.issueId} AND o.status = 'failed')`;
  const activity = activityStatements(args.activity, failed);
  const results = await runBatch(db, [
    ...activity,
    db
      .update(issues)
      .set({ syncState: "pending_push", syncError: null })
      .where(and(eq(issues.id, args.issueId), failed, sql`${issues.syncState} IN ('error', 'pending_push', 'synced')`)),
    sql`
      UPDATE ${outbox} SET status = 'pending', attempts = 0, last_error = NULL, next_attempt_at = NULL, updated_at = ${args.now}
      WHERE issue_id = ${args.issueId} AND status = 'failed'
      RETURNING id`,
  ]);
  return results[results.length - 1]!.results.length > 0;
}
