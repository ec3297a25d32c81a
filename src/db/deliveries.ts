import { and, asc, count, desc, eq, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import { utf8Bytes } from "./bytes";
import { base64ToBytes, bytesToBase64 } from "../crypto";
import type { Database } from "./client";
import { insertEventOnce, type NewEvent } from "./events";
import { projects, webhookDeliveries, type DeliveryRow } from "./schema";

export type DeliveryStatus = DeliveryRow["status"];
type Provider = DeliveryRow["provider"];

/**
 * D1 holds at most 2,000,000 bytes in one value; 900 KB (UTF-8 bytes) leaves room for the rest of the row. Webhook bodies
 * may be up to 5 MiB, so larger ones are stored gzip-compressed (JSON shrinks ~10x) behind a prefix.
 */
export const MAX_STORED_PAYLOAD = 900_000;
const GZIP_PREFIX = "gzip+base64:";

/** The stored form of a body, or null when even compressed it does not fit in a D1 value. */
export async function encodePayload(text: string): Promise<string | null> {
  // Sized in UTF-8 bytes: D1's limit is bytes, and a CJK payload is 3 bytes a character.
  if (utf8Bytes(text) <= MAX_STORED_PAYLOAD) return text;
  const compressed = await pipeBytes(new TextEncoder().encode(text), new CompressionStream("gzip"));
  const stored = GZIP_PREFIX + bytesToBase64(compressed);
  return stored.length <= MAX_STORED_PAYLOAD ? stored : null;
}

export async function decodePayload(stored: string): Promise<string> {
  if (!stored.startsWith(GZIP_PREFIX)) return stored;
  const bytes = await pipeBytes(base64ToBytes(stored.slice(GZIP_PREFIX.length)), new DecompressionStream("gzip"));
  return new TextDecoder().decode(bytes);
}

async function pipeBytes(input: Uint8Array, transform: TransformStream<Uint8Array, Uint8Array>): Promise<Uint8Array> {
  const stream = new Blob([input]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export interface NewDelivery {
  id: string;
  projectId: string;
  provider: Provider;
  deliveryId: string;
  event: string;
  action: string | null;
  /** Already encoded with `encodePayload`. */
  payload: string;
  status: DeliveryStatus;
  error?: string | null;
  processedAt?: string | null;
  /** SHA-256 (hex) of the raw body; a second delivery with the same body is a duplicate. */
  bodySha256?: string | null;
}

/** Inserts the delivery unless (project, delivery id) or (project, body hash) was seen: the row id, or null for a duplicate. */
export async function insertDelivery(db: Database, row: NewDelivery): Promise<string | null> {
  const inserted = await db
    .insert(webhookDeliveries)
    .values({ ...row, attempts: 0 })
    // Either unique key: the delivery id, or the body's SHA-256 (the same signed body re-sent).
    .onConflictDoNothing()
    .returning({ id: webhookDeliveries.id });
  return inserted[0]?.id ?? null;
}

/**
 * The webhook edge's one D1 round trip: inserts the delivery only while the project still exists
 * with this provider and exactly this (encrypted) webhook secret, unless (project, delivery id) was
 * seen. So an edge that verified against a cached secret can never store a delivery for a project
 * deleted or re-keyed since: the check and the write are one statement. The row id, or null when
 * nothing was written (a duplicate, or the project changed: the caller tells them apart).
 */
// ON CONFLICT without a target: either unique key counts, the tracker's delivery id or the body's
// SHA-256 (a signed body relabelled under a fresh delivery id is a duplicate too).
export async function insertDeliveryIfProjectCurrent(db: Database, row: NewDelivery, current: { webhookSecretEnc: string }): Promise<string | null> {
  const inserted = await db.all<{ id: string }>(sql`
    INSERT INTO ${webhookDeliveries} (id, project_id, provider, delivery_id, event, action, payload, status, attempts, error, processed_at, body_sha256)
    SELECT ${row.id}, ${row.projectId}, ${row.provider}, ${row.deliveryId}, ${row.event}, ${row.action}, ${row.payload}, ${row.status}, 0, ${row.error ?? null}, ${row.processedAt ?? null}, ${row.bodySha256 ?? null}
    WHERE EXISTS (SELECT 1 FROM ${projects} WHERE ${projects.id} = ${row.projectId} AND ${projects.provider} = ${row.provider} AND ${projects.webhookSecretEnc} = ${current.webhookSecretEnc})
    ON CONFLICT DO NOTHING
    RETURNING id`);
  return inserted[0]?.id ?? null;
}

export async function getDelivery(db: Database, projectId: string, id: string): Promise<DeliveryRow | undefined> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.projectId, projectId), eq(webhookDeliveries.id, id)))
    .get();
}

/** Several deliveries of one project by row id (a Durable Object turn reads its burst in one query per 90). */
export async function getDeliveries(db: Database, projectId: string, ids: readonly string[]): Promise<Map<string, DeliveryRow>> {
  const out = new Map<string, DeliveryRow>();
  for (let i = 0; i < ids.length; i += 90) {
    const rows = await db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.projectId, projectId), inArray(webhookDeliveries.id, ids.slice(i, i + 90))))
      .all();
    for (const row of rows) out.set(row.id, row);
  }
  return out;
}

/** By our row id or by the tracker's delivery id. */
export async function findDelivery(db: Database, projectId: string, idOrDeliveryId: string): Promise<DeliveryRow | undefined> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.projectId, projectId), or(eq(webhookDeliveries.id, idOrDeliveryId), eq(webhookDeliveries.deliveryId, idOrDeliveryId))))
    .get();
}

/** Newest first; `beforeId` is the last id of the previous page. */
export async function listDeliveries(
  db: Database,
  projectId: string,
  filter: { status?: DeliveryStatus },
  page: { limit: number; beforeId?: string | null },
): Promise<DeliveryRow[]> {
  const where: (SQL | undefined)[] = [eq(webhookDeliveries.projectId, projectId)];
  if (filter.status) where.push(eq(webhookDeliveries.status, filter.status));
  if (page.beforeId) where.push(lt(webhookDeliveries.id, page.beforeId));
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(...where))
    .orderBy(desc(webhookDeliveries.id))
    .limit(page.limit)
    .all();
}

const stillReceived = (id: string) => and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, "received"));

/** Finishes a delivery that is still `received` (a concurrent finish or replay wins otherwise). */
export function finishDelivery(db: Database, id: string, status: "applied" | "ignored" | "failed", now: string, error: string | null = null) {
  return db
    .update(webhookDeliveries)
    .set({ status, processedAt: now, error, attempts: sql`${webhookDeliveries.attempts} + 1` })
    .where(stillReceived(id));
}

/** A failed attempt that the queue will retry: the delivery stays `received`. */
export async function recordAttemptError(db: Database, id: string, error: string): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ error, attempts: sql`${webhookDeliveries.attempts} + 1` })
    .where(stillReceived(id));
}

/** Retries exhausted: `failed` (keeping the last attempt's error), unless it was applied meanwhile. */
export async function markDeliveryFailed(db: Database, projectId: string, id: string, error: string, now: string): Promise<boolean> {
  const last = webhookDeliveries.error;
  const rows = await db
    .update(webhookDeliveries)
    .set({ status: "failed", error: sql`CASE WHEN ${last} IS NULL THEN ${error} ELSE ${error} || '; last error: ' || ${last} END`, processedAt: now })
    .where(and(eq(webhookDeliveries.projectId, projectId), stillReceived(id)))
    .returning({ id: webhookDeliveries.id });
  return rows.length > 0;
}

/** Back to `received` for another apply (with the activity entry recording who asked). */
export async function resetForReplay(db: Database, id: string, activity: readonly ActivityEntry[] = []): Promise<void> {
  await runBatch(db, [
    db.update(webhookDeliveries).set({ status: "received", error: null, processedAt: null }).where(eq(webhookDeliveries.id, id)),
    ...activityStatements(activity),
  ]);
}

/**
 * A failed delivery set aside by hand: `ignored`, its error kept with who acknowledged it, and the
 * activity recording it, in one batch. False when it was not failed (nothing written).
 */
export async function acknowledgeFailedDelivery(db: Database, id: string, note: string, now: string, activity: readonly ActivityEntry[]): Promise<boolean> {
  const failed = sql`EXISTS (SELECT 1 FROM ${webhookDeliveries} d WHERE d.id = ${id} AND d.status = 'failed')`;
  const recorded = activityStatements(activity, failed);
  const results = await runBatch(db, [
    ...recorded,
    sql`UPDATE ${webhookDeliveries} SET status = 'ignored', error = ${note} || COALESCE(': ' || error, ''), processed_at = ${now} WHERE id = ${id} AND status = 'failed' RETURNING id`,
  ]);
  return results[results.length - 1]!.results.length > 0;
}

/** Deliveries still `received` since before `before` (their queue message was lost), oldest first. */
export async function listStaleReceived(db: Database, before: string, limit: number): Promise<{ id: string; projectId: string }[]> {
  return db
    .select({ id: webhookDeliveries.id, projectId: webhookDeliveries.projectId })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, "received"), lt(webhookDeliveries.receivedAt, before)))
    .orderBy(asc(webhookDeliveries.receivedAt))
    .limit(limit)
    .all();
}

/** Finishes an applied delivery and logs its normalized event (when it has one), in one batch. */
export async function finishDeliveryWithEvent(
  db: Database,
  args: { id: string; status: "applied" | "ignored"; now: string; note: string | null; event: (NewEvent & { id: string }) | null },
): Promise<void> {
  await runBatch(db, [...(args.event ? [insertEventOnce(db, args.event)] : []), finishDelivery(db, args.id, args.status, args.now, args.note)]);
}

/** finishDeliveryWithEvent for several deliveries, in one atomic batch. */
export async function finishDeliveriesWithEvents(
  db: Database,
  items: readonly { id: string; status: "applied" | "ignored"; now: string; note: string | null; event: (NewEvent & { id: string }) | null }[],
): Promise<void> {
  await runBatch(
    db,
    items.flatMap((args) => [...(args.event ? [insertEventOnce(db, args.event)] : []), finishDelivery(db, args.id, args.status, args.now, args.note)]),
  );
}

export async function countFailedDeliveries(db: Database, projectId: string): Promise<number> {
  const row = await db
    .select({ n: count() })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.projectId, projectId), eq(webhookDeliveries.status, "failed")))
    .get();
  return row?.n ?? 0;
}
