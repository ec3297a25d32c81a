/**
 * Shared credentials (a GitHub App installation, or one token used by several projects) and the
 * GitHub App's repository routing. Every project on a credential reads the same row: its cached
 * installation token, its rate-limit budget and its health.
 */
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
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
  const wasRemoved = sql`EXISTS (SELECT 1 FROM ${githubAppRepositories} WHERE ${inArray(githubAppRepositories.repositoryId, repositories.map((r) => r.repositoryId))}
    AND ${githubAppRepositories.removedAt} IS NOT NULL)`;
  await runBatch(db, [
    ...activityStatements(activity, wasRemoved),
    ...repositories.map((r) =>
      db
        .insert(githubAppRepositories)
        .values({ repositoryId: r.repositoryId, installationId, fullName: r.fullName, removedAt: null, updatedAt: now })
        .onConflictDoUpdate({
          target: githubAppRepositories.repositoryId,
          set: { installationId, fullName: r.fullName, removedAt: null, updatedAt: now },
        }),
    ),
  ]);
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

/** A linked project follows its repository's new name (renamed or transferred, same id). */
export async function renameLinkedProjects(db: Database, repository: AppRepository, now: string, activity: readonly ActivityEntry[] = []): Promise<void> {
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

/** Records an App-level delivery; false when it was seen before. */
export async function recordAppDelivery(db: Database, deliveryId: string, event: string, action: string | null): Promise<boolean> {
  const inserted = await db
    .insert(githubAppDeliveries)
    .values({ deliveryId, event, action })
    .onConflictDoNothing({ target: githubAppDeliveries.deliveryId })
    .returning({ id: githubAppDeliveries.deliveryId });
  return inserted.length > 0;
}
