/**
 * Identities: platform user ↔ tracker login, per provider and tracker API origin. Logins on issues
 * and comments stay as the tracker spells them; these rows only translate them (at read time, so a
 * mapping added later applies at once, without a tracker write).
 */
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import type { Database } from "./client";
import { comments, identities, issues, projects, type IdentityRow } from "./schema";

export interface IdentityWrite {
  id: string;
  userId: string;
  provider: IdentityRow["provider"];
  trackerOrigin: string;
  login: string;
  trackerUserId: string | null;
  /** Lower case; undefined keeps the stored email on an update. */
  email?: string | null;
}

/** A tracker's identity space: logins are unique per provider and API origin. */
export interface TrackerSpace {
  provider: IdentityRow["provider"];
  trackerOrigin: string;
}

/** The rows already stored for these logins (to tell inserts from updates, for the activity entries). */
export async function identitiesByLogin(db: Database, space: TrackerSpace, logins: readonly string[]): Promise<IdentityRow[]> {
  if (logins.length === 0) return [];
  return db
    .select()
    .from(identities)
    .where(and(eq(identities.provider, space.provider), eq(identities.trackerOrigin, space.trackerOrigin), inArray(identities.login, [...logins])))
    .all();
}

/** Upserts on (provider, origin, login) in one batch with its activity entries. */
export async function upsertIdentities(db: Database, rows: readonly IdentityWrite[], activity: readonly ActivityEntry[], now: string): Promise<void> {
  const statements = rows.map((r) =>
    db
      .insert(identities)
      .values({ ...r, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({
        target: [identities.provider, identities.trackerOrigin, identities.login],
        set: { userId: r.userId, trackerUserId: r.trackerUserId, ...(r.email !== undefined ? { email: r.email } : {}), updatedAt: now },
      }),
  );
  await runBatch(db, [...statements, ...activityStatements(activity)]);
}

export async function listIdentities(
  db: Database,
  opts: { userId?: string | undefined; login?: string | undefined; limit: number; afterId?: string | null },
): Promise<IdentityRow[]> {
  return db
    .select()
    .from(identities)
    .where(
      and(
        opts.userId !== undefined ? eq(identities.userId, opts.userId) : undefined,
        opts.login !== undefined ? eq(identities.login, opts.login) : undefined,
        opts.afterId ? gt(identities.id, opts.afterId) : undefined,
      ),
    )
    .orderBy(asc(identities.id))
    .limit(opts.limit)
    .all();
}

export async function getIdentity(db: Database, id: string): Promise<IdentityRow | undefined> {
  return db.select().from(identities).where(eq(identities.id, id)).get();
}

export async function deleteIdentity(db: Database, id: string, activity: readonly ActivityEntry[]): Promise<boolean> {
  const exists = sql`EXISTS (SELECT 1 FROM ${identities} WHERE id = ${id})`;
  const results = await runBatch(db, [...activityStatements(activity, exists), db.delete(identities).where(eq(identities.id, id)).returning({ id: identities.id })]);
  return (results.at(-1)?.results?.length ?? 0) > 0;
}

/** login → platform user id, for the given logins of one tracker. */
export async function usersOfLogins(db: Database, space: TrackerSpace, logins: readonly string[]): Promise<Map<string, string>> {
  const rows = await identitiesByLogin(db, space, [...new Set(logins)]);
  return new Map(rows.map((r) => [r.login, r.userId]));
}

/** platform user id → login on one tracker (the most recently mapped login when a user has several). */
export async function loginsOfUsers(db: Database, space: TrackerSpace, userIds: readonly string[]): Promise<Map<string, string>> {
  if (userIds.length === 0) return new Map();
  const rows = await db
    .select()
    .from(identities)
    .where(and(eq(identities.provider, space.provider), eq(identities.trackerOrigin, space.trackerOrigin), inArray(identities.userId, [...new Set(userIds)])))
    .orderBy(asc(identities.updatedAt))
    .all();
  return new Map(rows.map((r) => [r.userId, r.login]));
}

/**
 * Learns renamed logins: an identity whose tracker user id is seen under another login now holds
 * that login (unless another identity already has it).
 */
export async function followRenamedLogins(db: Database, space: TrackerSpace, seen: ReadonlyMap<string, string>, now: string): Promise<number> {
  if (seen.size === 0) return 0;
  const rows = await db
    .select()
    .from(identities)
    .where(and(eq(identities.provider, space.provider), eq(identities.trackerOrigin, space.trackerOrigin), inArray(identities.trackerUserId, [...seen.keys()])))
    .all();
  const renamed = rows.filter((r) => r.trackerUserId !== null && seen.get(r.trackerUserId) !== undefined && seen.get(r.trackerUserId) !== r.login);
  if (renamed.length === 0) return 0;
  await runBatch(
    db,
    renamed.map(
      (r) => sql`UPDATE ${identities} SET login = ${seen.get(r.trackerUserId!)!}, updated_at = ${now}
        WHERE id = ${r.id} AND NOT EXISTS (SELECT 1 FROM ${identities} o WHERE o.provider = ${space.provider}
          AND o.tracker_origin = ${space.trackerOrigin} AND o.login = ${seen.get(r.trackerUserId!)!})`,
    ),
  );
  return renamed.length;
}

/**
 * Tracker logins seen in the project (issue assignees, authors of tracker comments) that no
 * identity maps, with how many issues or comments name them.
 */
export async function unmappedLogins(db: Database, projectId: string, space: TrackerSpace, limit: number): Promise<{ login: string; seen: number }[]> {
  const rows = await db.all<{ login: string; seen: number }>(sql`
    SELECT login, COUNT(*) AS seen FROM (
      SELECT j.value AS login FROM ${issues} i, json_each(i.assignees) j
        WHERE i.project_id = ${projectId} AND i.deleted_at IS NULL
      UNION ALL
      SELECT c.author AS login FROM ${comments} c
        WHERE c.project_id = ${projectId} AND c.external_id IS NOT NULL AND c.deleted_at IS NULL
    ) seen_logins
    WHERE login NOT IN (SELECT login FROM ${identities} WHERE provider = ${space.provider} AND tracker_origin = ${space.trackerOrigin})
    GROUP BY login ORDER BY login LIMIT ${limit}`);
  return rows.map((r) => ({ login: r.login, seen: Number(r.seen) }));
}

/** Projects whose tracker is this identity space (their activity streams record mapping changes). */
export async function projectsInSpace(db: Database, provider: IdentityRow["provider"]): Promise<{ id: string; apiBaseUrl: string }[]> {
  return db.select({ id: projects.id, apiBaseUrl: projects.apiBaseUrl }).from(projects).where(eq(projects.provider, provider)).all();
}

/** email (lower case) → the platform users whose identities carry it, for these emails. */
export async function usersByEmail(db: Database, emails: readonly string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (emails.length === 0) return out;
  const rows = await db.selectDistinct({ email: identities.email, userId: identities.userId }).from(identities).where(inArray(identities.email, [...emails])).all();
  for (const r of rows) if (r.email) out.set(r.email, (out.get(r.email) ?? new Set()).add(r.userId));
  return out;
}
