import { and, asc, eq, gt, type SQL } from "drizzle-orm";
import type { Database } from "./client";
import { events, type EventRow } from "./schema";

export type NewEvent = typeof events.$inferInsert;
export type EventKind = EventRow["kind"];

/**
 * One event per delivery: the event's id is the delivery row's id, so a retried or replayed apply
 * never logs it twice.
 */
export function insertEventOnce(db: Database, row: NewEvent & { id: string }) {
  return db.insert(events).values(row).onConflictDoNothing({ target: events.id });
}

/** Log order (oldest first); `afterId` is the last id of the previous page. */
export async function listEvents(
  db: Database,
  projectId: string,
  filter: { kind?: EventKind },
  page: { limit: number; afterId?: string | null },
): Promise<EventRow[]> {
  const where: (SQL | undefined)[] = [eq(events.projectId, projectId)];
  if (filter.kind) where.push(eq(events.kind, filter.kind));
  if (page.afterId) where.push(gt(events.id, page.afterId));
  return db
    .select()
    .from(events)
    .where(and(...where))
    .orderBy(asc(events.id))
    .limit(page.limit)
    .all();
}
