/**
 * Persistence of event subscriptions: the subscriptions, their deliveries (one per event and
 * subscription) and each delivery's attempts. The activity table is the outbox these are read from;
 * nothing here records changes a second time.
 */
import { and, asc, desc, eq, gt, gte, inArray, lt, max, sql, type SQL } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch, type Statement } from "./batch";
import type { Database } from "./client";
import { chunkByJsonSize, jsonField as j } from "./json";
import { withCommentTexts, withTexts } from "./issue-texts";
import {
  activity,
  comments,
  eventAttempts,
  eventDeliveries,
  issues,
  subscriptions,
  subscriptionShardCursors,
  type CommentRow,
  type EventAttemptRow,
  type EventDeliveryRow,
  type IssueRow,
  type SubscriptionRow,
} from "./schema";

export type NewSubscription = typeof subscriptions.$inferInsert;
export type DeliveryStatus = EventDeliveryRow["status"];

/** The newest activity position (0 when the stream is empty): where a new subscription starts reading. */
export async function latestActivitySeq(db: Database): Promise<number> {
  const row = await db.select({ seq: max(activity.seq) }).from(activity).get();
  return row?.seq ?? 0;
}

/** A new subscription with its read positions in shards 1…n (shard 0's is `row.cursor`), in one batch. */
export async function insertSubscription(db: Database, row: NewSubscription & { id: string }, shardCursors: ReadonlyMap<number, number> = new Map()): Promise<SubscriptionRow> {
  const cursors = [...shardCursors].filter(([shard]) => shard !== 0).map(([shard, cursor]) => ({ subscriptionId: row.id, shard, cursor }));
  await runBatch(db, [db.insert(subscriptions).values(row), ...(cursors.length > 0 ? [db.insert(subscriptionShardCursors).values(cursors)] : [])]);
  return (await getSubscription(db, row.id))!;
}

/** The subscription's read positions in shards 1…n (shard 0's is `subscriptions.cursor`); absent: none recorded yet. */
export async function shardCursors(db: Database, subscriptionId: string): Promise<Map<number, number>> {
  const rows = await db.select().from(subscriptionShardCursors).where(eq(subscriptionShardCursors.subscriptionId, subscriptionId)).all();
  return new Map(rows.map((r) => [r.shard, r.cursor]));
}

/** Records where the subscription starts reading a shard it has no position in yet (a concurrent first record wins). */
export async function startShardCursor(db: Database, subscriptionId: string, shard: number, cursor: number): Promise<void> {
  await db.insert(subscriptionShardCursors).values({ subscriptionId, shard, cursor }).onConflictDoNothing().run();
}

export async function getSubscription(db: Database, id: string): Promise<SubscriptionRow | undefined> {
  return db.select().from(subscriptions).where(eq(subscriptions.id, id)).get();
}

/** Subscriptions by id (creation order), after `afterId`. */
export async function listSubscriptions(db: Database, page: { limit: number; afterId?: string | null }): Promise<SubscriptionRow[]> {
  return db
    .select()
    .from(subscriptions)
    .where(page.afterId ? gt(subscriptions.id, page.afterId) : undefined)
    .orderBy(asc(subscriptions.id))
    .limit(page.limit)
    .all();
}

/** Ids of the enabled subscriptions (the cron sweep wakes each; a change wakes each). */
export async function listEnabledSubscriptionIds(db: Database, limit = 1000): Promise<string[]> {
  const rows = await db.select({ id: subscriptions.id }).from(subscriptions).where(eq(subscriptions.enabled, true)).orderBy(asc(subscriptions.id)).limit(limit).all();
  return rows.map((r) => r.id);
}

export async function updateSubscription(db: Database, id: string, patch: Partial<NewSubscription>): Promise<SubscriptionRow | undefined> {
  return db.update(subscriptions).set(patch).where(eq(subscriptions.id, id)).returning().get();
}

/** Removes the subscription with its deliveries and attempts (one batch). */
export async function deleteSubscription(db: Database, id: string): Promise<boolean> {
  const results = await runBatch(db, [
    db.delete(eventAttempts).where(eq(eventAttempts.subscriptionId, id)),
    db.delete(eventDeliveries).where(eq(eventDeliveries.subscriptionId, id)),
    db.delete(subscriptions).where(eq(subscriptions.id, id)),
    db.delete(subscriptionShardCursors).where(eq(subscriptionShardCursors.subscriptionId, id)),
  ]);
  return (results[2]?.meta.changes ?? 0) > 0;
}

/** A delivery to create: the event's body is fixed here, so every attempt sends the same bytes. */
export interface NewDelivery {
  id: string;
  eventId: string;
  eventType: string;
  origin: string;
  projectId: string | null;
  issueId: string | null;
  orderKey: string;
  position: number;
  positionIndex: number;
  body: string;
  nextAttemptAt: string;
  createdAt: string;
}

function insertDeliveriesStatements(subscriptionId: string, rows: readonly NewDelivery[], when: SQL = sql`1`): SQL[] {
  return chunkByJsonSize(rows).map(
    (chunk) => sql`
      INSERT INTO ${eventDeliveries} (id, subscription_id, event_id, event_type, origin, project_id, issue_id, order_key, position, position_index,
        body, status, attempts, next_attempt_at, created_at, updated_at)
      SELECT ${j("id")}, ${subscriptionId}, ${j("eventId")}, ${j("eventType")}, ${j("origin")}, ${j("projectId")}, ${j("issueId")}, ${j("orderKey")},
        ${j("position")}, ${j("positionIndex")}, ${j("body")}, 'pending', 0, ${j("nextAttemptAt")}, ${j("createdAt")}, ${j("createdAt")}
      FROM json_each(${chunk}) AS j
      WHERE ${when}
      ORDER BY j.key
      ON CONFLICT (subscription_id, event_id, origin) DO NOTHING`,
  );
}

/**
 * Turns activity of one shard up to `toCursor` into deliveries and moves the subscription's cursor of
 * that shard there, in one batch, only if the cursor is still `fromCursor` (compare-and-set): read
 * twice, the same entries never make two deliveries; the unique (subscription, event, origin) index is
 * the second guard. Shard 0's cursor is `subscriptions.cursor`; another shard's is its row in
 * `subscription_shard_cursors`, created at `fromCursor` in the same batch when missing.
 */
export async function materializeDeliveries(
  db: Database,
  subscriptionId: string,
  shard: number,
  fromCursor: number,
  toCursor: number,
  rows: readonly NewDelivery[],
): Promise<boolean> {
  if (shard === 0) {
    const moved = sql`EXISTS (SELECT 1 FROM ${subscriptions} WHERE id = ${subscriptionId} AND cursor = ${toCursor})`;
    const results = await runBatch(db, [
      db
        .update(subscriptions)
        .set({ cursor: toCursor })
        .where(and(eq(subscriptions.id, subscriptionId), eq(subscriptions.cursor, fromCursor))),
      ...insertDeliveriesStatements(subscriptionId, rows, moved),
    ]);
    return (results[0]?.meta.changes ?? 0) > 0;
  }
  const c = subscriptionShardCursors;
  const moved = sql`EXISTS (SELECT 1 FROM ${c} WHERE subscription_id = ${subscriptionId} AND shard = ${shard} AND cursor = ${toCursor})`;
  const results = await runBatch(db, [
    // Only for a live subscription: a deleted one gets no cursor row back.
    sql`INSERT INTO ${c} (subscription_id, shard, cursor) SELECT ${subscriptionId}, ${shard}, ${fromCursor}
      WHERE EXISTS (SELECT 1 FROM ${subscriptions} WHERE id = ${subscriptionId}) ON CONFLICT DO NOTHING`,
    db
      .update(c)
      .set({ cursor: toCursor })
      .where(and(eq(c.subscriptionId, subscriptionId), eq(c.shard, shard), eq(c.cursor, fromCursor))),
    ...insertDeliveriesStatements(subscriptionId, rows, moved),
  ]);
  return (results[1]?.meta.changes ?? 0) > 0;
}

/** Deliveries outside the stream (a ping, a replay): inserted as they are. */
export async function insertDeliveries(db: Database, subscriptionId: string, rows: readonly NewDelivery[]): Promise<void> {
  await runBatch(db, insertDeliveriesStatements(subscriptionId, rows));
}

/** For each issue, the position of the last stream event this subscription has for it (before `before`). */
export async function lastPositions(db: Database, subscriptionId: string, issueIds: readonly string[], before: number): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (let i = 0; i < issueIds.length; i += 90) {
    const ids = issueIds.slice(i, i + 90);
    const rows = await db
      .select({ issueId: eventDeliveries.issueId, position: max(eventDeliveries.position) })
      .from(eventDeliveries)
      .where(
        and(eq(eventDeliveries.subscriptionId, subscriptionId), eq(eventDeliveries.origin, "stream"), inArray(eventDeliveries.issueId, ids), lt(eventDeliveries.position, before)),
      )
      .groupBy(eventDeliveries.issueId)
      .all();
    for (const r of rows) if (r.issueId && r.position !== null) found.set(r.issueId, r.position);
  }
  return found;
}

/** Pending deliveries that are the oldest of their order key: the only ones that may be sent. */
function headCondition(subscriptionId: string): SQL {
  return sql`${eventDeliveries.subscriptionId} = ${subscriptionId} AND ${eventDeliveries.status} = 'pending'
    AND NOT EXISTS (SELECT 1 FROM ${eventDeliveries} e WHERE e.subscription_id = ${subscriptionId} AND e.status = 'pending'
      AND e.order_key = ${eventDeliveries.orderKey}
      AND (e.position < ${eventDeliveries.position} OR (e.position = ${eventDeliveries.position} AND e.position_index < ${eventDeliveries.positionIndex})
        OR (e.position = ${eventDeliveries.position} AND e.position_index = ${eventDeliveries.positionIndex} AND e.id < ${eventDeliveries.id})))`;
}

/** Heads due at `nowIso`, oldest position first. */
export async function dueHeads(db: Database, subscriptionId: string, nowIso: string, limit: number): Promise<EventDeliveryRow[]> {
  return db
    .select()
    .from(eventDeliveries)
    .where(sql`${headCondition(subscriptionId)} AND ${eventDeliveries.nextAttemptAt} <= ${nowIso}`)
    .orderBy(asc(eventDeliveries.position), asc(eventDeliveries.positionIndex))
    .limit(limit)
    .all();
}

/** When the next head falls due (null: nothing pending). */
export async function nextHeadDueAt(db: Database, subscriptionId: string): Promise<string | null> {
  const row = await db
    .select({ at: sql<string | null>`MIN(${eventDeliveries.nextAttemptAt})` })
    .from(eventDeliveries)
    .where(headCondition(subscriptionId))
    .get();
  return row?.at ?? null;
}

export async function countPending(db: Database, subscriptionId: string): Promise<number> {
  const row = await db
    .select({ n: sql<number>`COUNT(*)` })
    .from(eventDeliveries)
    .where(and(eq(eventDeliveries.subscriptionId, subscriptionId), eq(eventDeliveries.status, "pending")))
    .get();
  return row?.n ?? 0;
}

/**
 * Claims each delivery for one attempt: counts the attempt and moves `next_attempt_at` to the lease's
 * end, only if the delivery is still pending at the attempt count read. Returns the ids claimed; a
 * second caller with the same rows (a duplicated wake) claims none of them.
 */
export async function claimDeliveries(db: Database, rows: readonly Pick<EventDeliveryRow, "id" | "attempts">[], leaseUntil: string, nowIso: string): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const results = await runBatch(
    db,
    rows.map((r) =>
      db
        .update(eventDeliveries)
        .set({ attempts: r.attempts + 1, nextAttemptAt: leaseUntil, updatedAt: nowIso })
        .where(and(eq(eventDeliveries.id, r.id), eq(eventDeliveries.status, "pending"), eq(eventDeliveries.attempts, r.attempts), sql`${eventDeliveries.nextAttemptAt} <= ${nowIso}`)),
    ),
  );
  return new Set(rows.filter((_, i) => (results[i]?.meta.changes ?? 0) > 0).map((r) => r.id));
}

/** The outcome of one attempt, written with the attempt's row (and any activity) in one batch. */
export interface AttemptRecord {
  attempt: Omit<EventAttemptRow, "subscriptionId">;
  delivery: { id: string; status: DeliveryStatus; nextAttemptAt: string | null; lastStatus: number | null; lastError: string | null };
}

export async function recordAttempts(
  db: Database,
  subscriptionId: string,
  records: readonly AttemptRecord[],
  subscriptionPatch: Partial<NewSubscription> | null,
  entries: readonly ActivityEntry[],
): Promise<void> {
  const statements: Statement[] = [];
  for (const r of records) {
    statements.push(db.insert(eventAttempts).values({ ...r.attempt, subscriptionId }));
    statements.push(
      db
        .update(eventDeliveries)
        .set({ status: r.delivery.status, nextAttemptAt: r.delivery.nextAttemptAt, lastStatus: r.delivery.lastStatus, lastError: r.delivery.lastError, updatedAt: r.attempt.attemptedAt })
        .where(and(eq(eventDeliveries.id, r.delivery.id), eq(eventDeliveries.status, "pending"))),
    );
  }
  if (subscriptionPatch) statements.push(db.update(subscriptions).set(subscriptionPatch).where(eq(subscriptions.id, subscriptionId)));
  statements.push(...activityStatements(entries));
  await runBatch(db, statements);
}

/** A subscription's deliveries, newest first, filtered by status. */
export async function listDeliveries(
  db: Database,
  subscriptionId: string,
  filter: { status?: DeliveryStatus },
  page: { limit: number; beforeId?: string | null },
): Promise<EventDeliveryRow[]> {
  return db
    .select()
    .from(eventDeliveries)
    .where(
      and(
        eq(eventDeliveries.subscriptionId, subscriptionId),
        filter.status ? eq(eventDeliveries.status, filter.status) : undefined,
        page.beforeId ? lt(eventDeliveries.id, page.beforeId) : undefined,
      ),
    )
    .orderBy(desc(eventDeliveries.id))
    .limit(page.limit)
    .all();
}

export async function getDelivery(db: Database, subscriptionId: string, deliveryId: string): Promise<EventDeliveryRow | undefined> {
  return db
    .select()
    .from(eventDeliveries)
    .where(and(eq(eventDeliveries.subscriptionId, subscriptionId), eq(eventDeliveries.id, deliveryId)))
    .get();
}

/** Attempts of the deliveries, oldest first, grouped by delivery id. */
export async function listAttempts(db: Database, deliveryIds: readonly string[]): Promise<Map<string, EventAttemptRow[]>> {
  const byDelivery = new Map<string, EventAttemptRow[]>();
  for (let i = 0; i < deliveryIds.length; i += 90) {
    const rows = await db
      .select()
      .from(eventAttempts)
      .where(inArray(eventAttempts.deliveryId, deliveryIds.slice(i, i + 90)))
      .orderBy(asc(eventAttempts.deliveryId), asc(eventAttempts.attemptedAt), asc(eventAttempts.id))
      .all();
    for (const r of rows) byDelivery.set(r.deliveryId, [...(byDelivery.get(r.deliveryId) ?? []), r]);
  }
  return byDelivery;
}

/** Starts a new round of attempts for a delivery (failed or not yet delivered), due now. */
export async function restartDelivery(db: Database, subscriptionId: string, deliveryId: string, nowIso: string): Promise<EventDeliveryRow | undefined> {
  return db
    .update(eventDeliveries)
    .set({ status: "pending", attempts: 0, nextAttemptAt: nowIso, updatedAt: nowIso })
    .where(and(eq(eventDeliveries.subscriptionId, subscriptionId), eq(eventDeliveries.id, deliveryId)))
    .returning()
    .get();
}

/** Per subscription: pending and failed deliveries (the dashboard's health). */
export async function deliveryCounts(db: Database, subscriptionIds: readonly string[]): Promise<Map<string, { pending: number; failed: number }>> {
  const counts = new Map<string, { pending: number; failed: number }>();
  for (let i = 0; i < subscriptionIds.length; i += 90) {
    const rows = await db
      .select({ id: eventDeliveries.subscriptionId, status: eventDeliveries.status, n: sql<number>`COUNT(*)` })
      .from(eventDeliveries)
      .where(and(inArray(eventDeliveries.subscriptionId, subscriptionIds.slice(i, i + 90)), inArray(eventDeliveries.status, ["pending", "failed"])))
      .groupBy(eventDeliveries.subscriptionId, eventDeliveries.status)
      .all();
    for (const r of rows) {
      const c = counts.get(r.id) ?? { pending: 0, failed: 0 };
      if (r.status === "pending") c.pending = r.n;
      if (r.status === "failed") c.failed = r.n;
      counts.set(r.id, c);
    }
  }
  return counts;
}

/** The position just before the first activity entry recorded at or after `iso` (where a time-window replay starts). */
export async function seqBefore(db: Database, iso: string): Promise<number> {
  const row = await db.select({ seq: sql<number | null>`MIN(${activity.seq})` }).from(activity).where(gte(activity.createdAt, iso)).get();
  return row?.seq != null ? row.seq - 1 : await latestActivitySeq(db);
}

/** Issues by id with their full texts (the `issue` of full payloads); missing ids are absent. */
export async function loadIssuesByIds(db: Database, ids: readonly string[]): Promise<Map<string, IssueRow>> {
  const found = new Map<string, IssueRow>();
  for (let i = 0; i < ids.length; i += 90) {
    const rows = await withTexts(db, await db.select().from(issues).where(inArray(issues.id, ids.slice(i, i + 90))).all());
    for (const r of rows) found.set(r.id, r);
  }
  return found;
}

/** Comments by id (the `comment` of full payloads). */
export async function loadCommentsByIds(db: Database, ids: readonly string[]): Promise<Map<string, CommentRow>> {
  const found = new Map<string, CommentRow>();
  for (let i = 0; i < ids.length; i += 90) {
    for (const r of await withCommentTexts(db, await db.select().from(comments).where(inArray(comments.id, ids.slice(i, i + 90))).all())) found.set(r.id, r);
  }
  return found;
}
