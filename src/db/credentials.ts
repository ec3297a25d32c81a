/**
 * Shared credentials (a GitHub App installation, or one token used by several projects) and the
 * GitHub App's repository routing. Every project on a credential reads the same row: its cached
 * installation token, its rate-limit budget and its health.
 */
import { and, eq, inArray, isNull, or, sql } from "drizzle-orm";
import type { Database } from "./client";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch } from "./batch";
import {
  credentials,
  githubAppDeliveries,
  githubAppProjectRepositories,
  githubAppRepositories,
  projects,
  type CredentialRow,
  type GitHubAppRepositoryRow,
  type ProjectRow,
} from "./schema";

export type NewCredential = Pick<CredentialRow, "id" | "kind" | "provider" | "apiBaseUrl" | "installationId">;
export type CredentialHealth = CredentialRow["health"];

export async function getCredential(db: Database, id: string): Promise<CredentialRow | undefined> {
  return db.select().from(credentials).where(eq(credentials.id, id)).get();
}

/** The credential's row, created on first use. */
export async function ensureCredential(db: Database, row: NewCredential): Promise<CredentialRow> {
  const existing = await getCredential(db, row.id);
  if (existing) return existing;
  await db.insert(credentials).values(row).onConflictDoNothing({ target: credentials.id });
  return (await getCredential(db, row.id))!;
}

/** Stores a freshly minted installation token (encrypted by the caller) for every isolate to reuse. */
export async function storeAccessToken(db: Database, id: string, tokenEnc: string, expiresAt: string, now: string): Promise<void> {
  await db.update(credentials).set({ accessTokenEnc: tokenEnc, accessTokenExpiresAt: expiresAt, updatedAt: now }).where(eq(credentials.id, id));
}

/** Forgets a cached installation token the tracker refused, unless another isolate already replaced it. */
export async function dropAccessToken(db: Database, id: string, tokenEnc: string): Promise<void> {
  await db
    .update(credentials)
    .set({ accessTokenEnc: null, accessTokenExpiresAt: null })
    .where(and(eq(credentials.id, id), eq(credentials.accessTokenEnc, tokenEnc)));
}

/** The budget as the tracker's last answer showed it; `limitedUntil` only when it is spent. */
export async function recordBudget(
  db: Database,
  id: string,
  budget: { remaining: number | null; resetAt: string | null; limitedUntil: string | null },
  now: string,
): Promise<void> {
  await db
    .update(credentials)
    .set({
      rateRemaining: budget.remaining,
      rateResetAt: budget.resetAt,
      // Never shortened by a later, ordinary answer from another project: only a reset clears it.
      limitedUntil: budget.limitedUntil
        ? sql`max(coalesce(${credentials.limitedUntil}, ''), ${budget.limitedUntil})`
        : sql`case when ${credentials.limitedUntil} > ${now} then ${credentials.limitedUntil} else null end`,
      updatedAt: now,
    })
    .where(eq(credentials.id, id));
}

/**
 * The credential's health. `activity` (credential.rejected / resumed …) is recorded only when the
 * health changes: its insert runs first in the batch, guarded on the health before the update.
 */
export async function setCredentialHealth(
  db: Database,
  id: string,
  health: CredentialHealth,
  reason: string | null,
  now: string,
  activity: readonly ActivityEntry[] = [],
): Promise<void> {
  await runBatch(db, [
    ...activityStatements(activity, sql`EXISTS (SELECT 1 FROM ${credentials} WHERE ${credentials.id} = ${id} AND ${credentials.health} <> ${health})`),
    db
      .update(credentials)
      .set({ health, healthAt: health === "ok" ? null : now, healthReason: reason, updatedAt: now, ...(health === "ok" ? {} : { accessTokenEnc: null, accessTokenExpiresAt: null }) })
      .where(eq(credentials.id, id)),
  ]);
}

/**
 * Health of every row of one installation (suspend, unsuspend, delete); with `onlyFrom`, only rows
 * currently in one of those states change. Cached tokens are dropped: a new state, a new token.
 */
export async function setInstallationHealth(
  db: Database,
  installationId: number,
  health: CredentialHealth,
  reason: string | null,
  now: string,
  onlyFrom?: readonly CredentialHealth[],
  activity: readonly ActivityEntry[] = [],
): Promise<void> {
  const which = and(
    eq(credentials.kind, "installation"),
    eq(credentials.installationId, installationId),
    onlyFrom ? inArray(credentials.health, [...onlyFrom]) : undefined,
  );
  // Entries first, recorded only if some row of the installation changes health.
  const changes = sql`EXISTS (SELECT 1 FROM ${credentials} WHERE ${which} AND ${credentials.health} <> ${health})`;
  await runBatch(db, [
    ...activityStatements(activity, changes),
    db
      .update(credentials)
      .set({ health, healthAt: health === "ok" ? null : now, healthReason: reason, updatedAt: now, accessTokenEnc: null, accessTokenExpiresAt: null })
      .where(which),
  ]);
}

export async function recordTokenExpiry(db: Database, id: string, expiresAt: string | null, now: string): Promise<void> {
  await db.update(credentials).set({ tokenExpiresAt: expiresAt, tokenExpiryCheckedAt: now }).where(eq(credentials.id, id));
}

// ---------- GitHub App repositories and routing ----------

export interface AppRepository {
  repositoryId: string;
  fullName: string;
}

/** Repositories the installation can see (created, added, or learned from a delivery); un-removes them. */
export async function upsertAppRepositories(
  db: Database,
  installationId: number,
  repositories: readonly AppRepository[],
  now: string,
  /** credential.resumed entries, recorded only if one of the repositories was marked removed. */
  activity: readonly ActivityEntry[] = [],
): Promise<void> {
  if (repositories.length === 0) return;
  // Rows as JSON parameters (json_each): a 10,000-repository installation is a few statements, not 10,000.
  const chunks = chunked(repositories.map((r) => ({ id: r.repositoryId, name: r.fullName })), REPOSITORY_CHUNK);
  const ids = (chunk: string) => sql`(SELECT json_extract(value, '$.id') FROM json_each(${chunk}))`;
  const wasRemoved = sql`EXISTS (SELECT 1 FROM ${githubAppRepositories} WHERE ${githubAppRepositories.removedAt} IS NOT NULL
    AND (${sql.join(chunks.map((chunk) => sql`${githubAppRepositories.repositoryId} IN ${ids(chunk)}`), sql` OR `)}))`;
  await runBatch(db, [
    ...activityStatements(activity, wasRemoved),
    ...chunks.map(
      (chunk) => sql`
        INSERT INTO ${githubAppRepositories} (repository_id, installation_id, full_name, removed_at, updated_at)
        SELECT json_extract(value, '$.id'), ${installationId}, json_extract(value, '$.name'), NULL, ${now} FROM json_each(${chunk}) WHERE true
        ON CONFLICT (repository_id) DO UPDATE SET installation_id = excluded.installation_id, full_name = excluded.full_name,
          removed_at = NULL, updated_at = excluded.updated_at`,
    ),
  ]);
}

/** Repositories per JSON parameter (a few hundred KiB at most). */
const REPOSITORY_CHUNK = 2_000;

function chunked<T>(items: readonly T[], size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < items.length; i += size) out.push(JSON.stringify(items.slice(i, i + size)));
  return out;
}

/**
 * Links every not-yet-linked project of the installation to its repository by name (GitHub names
 * are case-insensitive), in one statement whatever the number of repositories.
 */
export async function linkInstallationProjectsByName(db: Database, installationId: number): Promise<void> {
  await db.run(sql`
    INSERT INTO ${githubAppProjectRepositories} (project_id, repository_id)
    SELECT p.id, r.repository_id FROM ${projects} p
    JOIN ${githubAppRepositories} r ON r.installation_id = p.installation_id AND lower(r.full_name) = lower(p.repository)
    WHERE p.installation_id = ${installationId}
      AND NOT EXISTS (SELECT 1 FROM ${githubAppProjectRepositories} l WHERE l.project_id = p.id)
    ON CONFLICT DO NOTHING`);
}

/**
 * A reinstall: projects linked to a repository now in `installationId` whose own installation was
 * uninstalled (its credential `removed`) move to the new installation. Projects on an installation
 * that still exists (a transferred repository) stay where they are: an operator decides.
 * Returns the moved projects (id, old installation), at most `limit`; the move itself is unbounded.
 */
export async function adoptReinstalledProjects(
  db: Database,
  installationId: number,
  now: string,
  activityOf: (moved: { id: string; installationId: number }[]) => ActivityEntry[],
  limit: number,
): Promise<{ id: string; installationId: number }[]> {
  const movable = sql`${projects.installationId} IS NOT NULL AND ${projects.installationId} <> ${installationId}
    AND ${projects.id} IN (SELECT l.project_id FROM ${githubAppProjectRepositories} l
      JOIN ${githubAppRepositories} r ON r.repository_id = l.repository_id WHERE r.installation_id = ${installationId})
    AND ${projects.installationId} IN (SELECT c.installation_id FROM ${credentials} c WHERE c.kind = 'installation' AND c.health = 'removed')`;
  const moved = (await db.select({ id: projects.id, installationId: projects.installationId }).from(projects).where(movable).limit(limit).all()) as {
    id: string;
    installationId: number;
  }[];
  if (moved.length === 0) return [];
  await runBatch(db, [...activityStatements(activityOf(moved)), db.update(projects).set({ installationId, updatedAt: now }).where(movable)]);
  return moved;
}

/** Repositories removed from the installation (or the whole installation when `ids` is null). */
export async function markAppRepositoriesRemoved(
  db: Database,
  installationId: number,
  ids: readonly string[] | null,
  now: string,
  /** credential.removed entries, recorded only if one of the repositories was not removed yet. */
  activity: readonly ActivityEntry[] = [],
): Promise<void> {
  const where = ids === null
    ? eq(githubAppRepositories.installationId, installationId)
    : and(eq(githubAppRepositories.installationId, installationId), inArray(githubAppRepositories.repositoryId, [...ids]));
  if (ids !== null && ids.length === 0) return;
  const notYet = sql`EXISTS (SELECT 1 FROM ${githubAppRepositories} WHERE ${where} AND ${githubAppRepositories.removedAt} IS NULL)`;
  await runBatch(db, [...activityStatements(activity, notYet), db.update(githubAppRepositories).set({ removedAt: now, updatedAt: now }).where(where)]);
}

export async function getAppRepository(db: Database, repositoryId: string): Promise<GitHubAppRepositoryRow | undefined> {
  return db.select().from(githubAppRepositories).where(eq(githubAppRepositories.repositoryId, repositoryId)).get();
}

/** A repository of the installation by its current name (GitHub names are case-insensitive). */
export async function findAppRepositoryByName(db: Database, installationId: number, fullName: string): Promise<GitHubAppRepositoryRow | undefined> {
  return db
    .select()
    .from(githubAppRepositories)
    .where(and(eq(githubAppRepositories.installationId, installationId), sql`lower(${githubAppRepositories.fullName}) = lower(${fullName})`))
    .get();
}

/** The repository an App project is linked to, if it was learned yet. */
export async function appRepositoryOfProject(db: Database, projectId: string): Promise<GitHubAppRepositoryRow | undefined> {
  const row = await db
    .select({ repo: githubAppRepositories })
    .from(githubAppProjectRepositories)
    .innerJoin(githubAppRepositories, eq(githubAppRepositories.repositoryId, githubAppProjectRepositories.repositoryId))
    .where(eq(githubAppProjectRepositories.projectId, projectId))
    .get();
  return row?.repo;
}

/** Projects linked to a repository id. */
export async function projectsOfAppRepository(db: Database, repositoryId: string): Promise<ProjectRow[]> {
  const rows = await db
    .select({ project: projects })
    .from(githubAppProjectRepositories)
    .innerJoin(projects, eq(projects.id, githubAppProjectRepositories.projectId))
    .where(eq(githubAppProjectRepositories.repositoryId, repositoryId))
    .all();
  return rows.map((r) => r.project);
}

/**
 * Links the installation's not-yet-linked projects whose `repository` names this repository (GitHub
 * names are case-insensitive). From then on they are found by id, whatever the repository is called.
 */
export async function linkProjectsByName(db: Database, installationId: number, repository: AppRepository): Promise<number> {
  const candidates = await db
    .select({ id: projects.id })
    .from(projects)
    .leftJoin(githubAppProjectRepositories, eq(githubAppProjectRepositories.projectId, projects.id))
    .where(
      and(
        eq(projects.installationId, installationId),
        sql`lower(${projects.repository}) = lower(${repository.fullName})`,
        isNull(githubAppProjectRepositories.projectId),
      ),
    )
    .all();
  if (candidates.length === 0) return 0;
  await runBatch(
    db,
    candidates.map((c) =>
      db.insert(githubAppProjectRepositories).values({ projectId: c.id, repositoryId: repository.repositoryId }).onConflictDoNothing(),
    ),
  );
  return candidates.length;
}

/**
 * A linked project of `installationId` follows its repository's new name (renamed, same id). A
 * delivery from another installation renames nothing: that repository is not the project's any more.
 */
export async function renameLinkedProjects(db: Database, installationId: number, repository: AppRepository, now: string, activity: readonly ActivityEntry[] = []): Promise<void> {
  // Each project's repository.renamed entry first, recorded only if that project's name changes.
  const renamed = activity.flatMap((e) =>
    activityStatements([e], sql`EXISTS (SELECT 1 FROM ${projects} WHERE ${projects.id} = ${e.projectId} AND ${projects.repository} <> ${repository.fullName})`),
  );
  await runBatch(db, [
    ...renamed,
    db
    .update(projects)
    // The tracker's current name too (issue 11): requests use it, so it must not keep the old one.
    .set({ repository: repository.fullName, trackerRepositoryName: repository.fullName, updatedAt: now })
    .where(
      and(
        sql`${projects.id} in (select ${githubAppProjectRepositories.projectId} from ${githubAppProjectRepositories} where ${githubAppProjectRepositories.repositoryId} = ${repository.repositoryId})`,
        sql`${projects.repository} <> ${repository.fullName}`,
        eq(projects.installationId, installationId),
      ),
    ),
  ]);
}

/** Forgets a project's link (its repository or installation changed). */
export async function unlinkProject(db: Database, projectId: string): Promise<void> {
  await db.delete(githubAppProjectRepositories).where(eq(githubAppProjectRepositories.projectId, projectId));
}

export async function linkProject(db: Database, projectId: string, repositoryId: string): Promise<void> {
  await db
    .insert(githubAppProjectRepositories)
    .values({ projectId, repositoryId })
    .onConflictDoUpdate({ target: githubAppProjectRepositories.projectId, set: { repositoryId } });
}

/** Enabled project ids of an installation (to resume them), bounded. */
export async function projectIdsOfInstallation(db: Database, installationId: number, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: projects.id })
    .from(projects)
    .where(and(eq(projects.installationId, installationId), eq(projects.syncEnabled, true)))
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}

/** True when an App-level delivery with this id, or with this exact body, was applied before. */
export async function appDeliverySeen(db: Database, deliveryId: string, bodySha256: string): Promise<boolean> {
  const row = await db
    .select({ id: githubAppDeliveries.deliveryId })
    .from(githubAppDeliveries)
    .where(or(eq(githubAppDeliveries.deliveryId, deliveryId), eq(githubAppDeliveries.bodySha256, bodySha256)))
    .get();
  return row !== undefined;
}

/**
 * Records an App-level delivery once its effects are written (a delivery that failed half-way is
 * not "seen": GitHub's redelivery applies it). False when it was recorded meanwhile.
 */
export async function recordAppDelivery(db: Database, deliveryId: string, event: string, action: string | null, bodySha256: string): Promise<boolean> {
  const inserted = await db
    .insert(githubAppDeliveries)
    .values({ deliveryId, event, action, bodySha256 })
    .onConflictDoNothing()
    .returning({ id: githubAppDeliveries.deliveryId });
  return inserted.length > 0;
}
