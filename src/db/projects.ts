import { and, asc, eq, gt, sql } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import type { Database } from "./client";
import { conflicts, events, issues, issueTextParts, issueTombstones, outbox, projects, syncRuns, webhookDeliveries, type ProjectRow } from "./schema";

export type NewProject = typeof projects.$inferInsert;

export async function insertProject(db: Database, row: NewProject & { id: string }, activity: readonly ActivityEntry[] = []): Promise<ProjectRow> {
  await runBatch(db, [db.insert(projects).values(row), ...activityStatements(activity)]);
  return (await getProject(db, row.id))!;
}

export async function getProject(db: Database, id: string): Promise<ProjectRow | undefined> {
  return db.select().from(projects).where(eq(projects.id, id)).get();
}

/** Keyset page ordered by id (UUIDv7, so creation order). */
export async function listProjects(db: Database, opts: { limit: number; afterId?: string | null }): Promise<ProjectRow[]> {
  return db
    .select()
    .from(projects)
    .where(opts.afterId ? gt(projects.id, opts.afterId) : undefined)
    .orderBy(asc(projects.id))
    .limit(opts.limit)
    .all();
}

/** Enabled project ids after `afterId`, for cron fan-out in pages. */
export async function listEnabledProjectIds(db: Database, opts: { limit: number; afterId?: string | null }): Promise<string[]> {
  const rows = await db
    .select({ id: projects.id })
    .from(projects)
    .where(and(eq(projects.syncEnabled, true), opts.afterId ? gt(projects.id, opts.afterId) : undefined))
    .orderBy(asc(projects.id))
    .limit(opts.limit)
    .all();
  return rows.map((r) => r.id);
}

export async function updateProject(
  db: Database,
  id: string,
  patch: Partial<NewProject>,
  activity: readonly ActivityEntry[] = [],
): Promise<ProjectRow | undefined> {
  const exists = sql`EXISTS (SELECT 1 FROM ${projects} WHERE id = ${id})`;
  await runBatch(db, [
    db
      .update(projects)
      .set({ ...patch, updatedAt: new Date().toISOString() })
      .where(eq(projects.id, id)),
    ...activityStatements(activity, exists),
  ]);
  return getProject(db, id);
}

/** Deletes the project and everything it owns, atomically (one batch). */
export async function deleteProject(db: Database, id: string, activity: readonly ActivityEntry[] = []): Promise<boolean> {
  const exists = sql`EXISTS (SELECT 1 FROM ${projects} WHERE id = ${id})`;
  // First, while the project still exists. Activity rows outlive the project: its audit trail.
  const results = await runBatch(db, [
    ...activityStatements(activity, exists),
    db.delete(issueTextParts).where(eq(issueTextParts.projectId, id)),
    db.delete(issueTombstones).where(eq(issueTombstones.projectId, id)),
    db.delete(issues).where(eq(issues.projectId, id)),
    db.delete(outbox).where(eq(outbox.projectId, id)),
    db.delete(conflicts).where(eq(conflicts.projectId, id)),
    db.delete(events).where(eq(events.projectId, id)),
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.projectId, id)),
    db.delete(syncRuns).where(eq(syncRuns.projectId, id)),
    db.delete(projects).where(eq(projects.id, id)).returning({ id: projects.id }),
  ]);
  return results[results.length - 1]!.results.length > 0;
}

export async function setProjectError(db: Database, id: string, error: string | null): Promise<void> {
  await db.update(projects).set({ lastError: error }).where(eq(projects.id, id));
}

/**
 * What the tracker answered for the repository itself: its id (kept from the first read; renames
 * keep it), its current name, and access restored.
 */
export async function recordRepositoryFound(
  db: Database,
  id: string,
  repository: { id: string; fullName: string },
  activity: { regained?: ActivityEntry; renamed?: ActivityEntry } = {},
): Promise<void> {
  // Entries first, each guarded on the state before the update: regained only if access was lost,
  // renamed only if the name the project knew is another one.
  const lost = sql`EXISTS (SELECT 1 FROM ${projects} WHERE ${projects.id} = ${id} AND ${projects.accessLostAt} IS NOT NULL)`;
  const otherName = sql`EXISTS (SELECT 1 FROM ${projects} WHERE ${projects.id} = ${id}
    AND lower(COALESCE(${projects.trackerRepositoryName}, ${projects.repository})) <> lower(${repository.fullName}))`;
  await runBatch(db, [
    ...(activity.regained ? activityStatements([activity.regained], lost) : []),
    ...(activity.renamed ? activityStatements([activity.renamed], otherName) : []),
    db
    .update(projects)
    .set({
      trackerRepositoryId: sql`COALESCE(${projects.trackerRepositoryId}, ${repository.id})`,
      trackerRepositoryName: repository.fullName,
      accessLostAt: null,
      accessError: null,
    })
    .where(eq(projects.id, id)),
  ]);
}

/**
 * The tracker answers 404 for the repository (or another repository's id): shown in status until a
 * read succeeds. `activity` (access.lost) is recorded only when access was not lost already: its
 * insert runs first in the batch, guarded on the state before the update.
 */
export async function recordAccessLost(db: Database, id: string, reason: string, now: string, activity: readonly ActivityEntry[] = []): Promise<void> {
  await runBatch(db, [
    ...activityStatements(activity, sql`EXISTS (SELECT 1 FROM ${projects} WHERE ${projects.id} = ${id} AND ${projects.accessLostAt} IS NULL)`),
    db
      .update(projects)
      .set({ accessLostAt: sql`COALESCE(${projects.accessLostAt}, ${now})`, accessError: reason })
      .where(eq(projects.id, id)),
  ]);
}

/** The repository's tracker id, stored only if none is yet (a delivery whose name matched). */
export async function learnRepositoryId(db: Database, id: string, repositoryId: string): Promise<void> {
  await db
    .update(projects)
    .set({ trackerRepositoryId: repositoryId })
    .where(and(eq(projects.id, id), sql`${projects.trackerRepositoryId} IS NULL`));
}

/** Replaces a token stored before origins were bound with its origin-bound form, unless it changed meanwhile. */
export async function rebindProjectToken(db: Database, id: string, previous: string, sealed: string): Promise<void> {
  await db.update(projects).set({ tokenEnc: sealed }).where(and(eq(projects.id, id), eq(projects.tokenEnc, previous)));
}
