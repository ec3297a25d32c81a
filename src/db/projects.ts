import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Database } from "./client";
import { conflicts, events, issues, outbox, projects, syncRuns, webhookDeliveries, type ProjectRow } from "./schema";

export type NewProject = typeof projects.$inferInsert;

export async function insertProject(db: Database, row: NewProject): Promise<ProjectRow> {
  const [created] = await db.insert(projects).values(row).returning();
  return created!;
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

export async function updateProject(db: Database, id: string, patch: Partial<NewProject>): Promise<ProjectRow | undefined> {
  const [row] = await db
    .update(projects)
    .set({ ...patch, updatedAt: new Date().toISOString() })
    .where(eq(projects.id, id))
    .returning();
  return row;
}

/** Deletes the project and everything it owns, atomically (one batch). */
export async function deleteProject(db: Database, id: string): Promise<boolean> {
  const [, , , , , , deleted] = await db.batch([
    db.delete(issues).where(eq(issues.projectId, id)),
    db.delete(outbox).where(eq(outbox.projectId, id)),
    db.delete(conflicts).where(eq(conflicts.projectId, id)),
    db.delete(events).where(eq(events.projectId, id)),
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.projectId, id)),
    db.delete(syncRuns).where(eq(syncRuns.projectId, id)),
    db.delete(projects).where(eq(projects.id, id)).returning({ id: projects.id }),
  ]);
  return deleted.length > 0;
}

export async function setProjectError(db: Database, id: string, error: string | null): Promise<void> {
  await db.update(projects).set({ lastError: error }).where(eq(projects.id, id));
}

/**
 * What the tracker answered for the repository itself: its id (kept from the first read; renames
 * keep it), its current name, and access restored.
 */
export async function recordRepositoryFound(db: Database, id: string, repository: { id: string; fullName: string }): Promise<void> {
  await db
    .update(projects)
    .set({
      trackerRepositoryId: sql`COALESCE(${projects.trackerRepositoryId}, ${repository.id})`,
      trackerRepositoryName: repository.fullName,
      accessLostAt: null,
      accessError: null,
    })
    .where(eq(projects.id, id));
}

/** The tracker answers 404 for the repository (or another repository's id): shown in status until a read succeeds. */
export async function recordAccessLost(db: Database, id: string, reason: string, now: string): Promise<void> {
  await db
    .update(projects)
    .set({ accessLostAt: sql`COALESCE(${projects.accessLostAt}, ${now})`, accessError: reason })
    .where(eq(projects.id, id));
}

/** The repository's tracker id, stored only if none is yet (a delivery whose name matched). */
export async function learnRepositoryId(db: Database, id: string, repositoryId: string): Promise<void> {
  await db
    .update(projects)
    .set({ trackerRepositoryId: repositoryId })
    .where(and(eq(projects.id, id), sql`${projects.trackerRepositoryId} IS NULL`));
}
