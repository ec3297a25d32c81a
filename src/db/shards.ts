/**
 * Which D1 database a query goes to (docs/performance.md, "Sharding"). Shard 0 is the `DB` binding,
 * which is also the catalog; shard n is `DB_SHARD_n`. Every shard has the whole schema. A project's
 * row and every row of that project live in the project's shard (`projects.shard`); the catalog
 * also holds the directory of projects outside shard 0 (`project_shards`) and the rows that belong to
 * no project (dashboard sessions, idempotency keys, event subscriptions and their deliveries).
 *
 * Code outside src/db/ never touches a D1 binding (scripts/check-d1-bindings.mjs): it asks here.
 */
import { eq } from "drizzle-orm";
import type { Env } from "../env";
import { database, type Database } from "./client";
import { listProjects } from "./projects";
import { projectShards, type ProjectRow } from "./schema";

/** The shard numbers bound in this Worker: 0, then every `DB_SHARD_n` binding, ascending. */
export function shardNumbers(env: Env): number[] {
  const more = Object.keys(env)
    .map((k) => /^DB_SHARD_([1-9]\d*)$/.exec(k)?.[1])
    .filter((n): n is string => n !== undefined && isD1((env as unknown as Record<string, unknown>)[`DB_SHARD_${n}`]))
    .map(Number)
    .sort((a, b) => a - b);
  return [0, ...more];
}

function isD1(v: unknown): v is D1Database {
  return typeof v === "object" && v !== null && typeof (v as D1Database).prepare === "function";
}

function binding(env: Env, shard: number): D1Database {
  if (shard === 0) return env.DB;
  const d1 = (env as unknown as Record<string, unknown>)[`DB_SHARD_${shard}`];
  // A project row naming a shard this Worker does not bind is a deployment error, not a request's.
  if (!isD1(d1)) throw new Error(`no D1 binding DB_SHARD_${shard} for shard ${shard}`);
  return d1;
}

/** True when this Worker binds the shard (a project may be created there). */
export function shardExists(env: Env, shard: number): boolean {
  return shardNumbers(env).includes(shard);
}

/** The catalog: the directory and the rows of no project (sessions, idempotency keys, subscriptions). */
export function catalogDatabase(env: Env): Database {
  return database(env.DB);
}

/** One shard's database (the cross-project jobs run once per shard). */
export function shardDatabase(env: Env, shard: number): Database {
  return database(binding(env, shard));
}

/** Every shard's database, shard 0 first: what the cross-project jobs and aggregates iterate. */
export function allShardDatabases(env: Env): { shard: number; db: Database }[] {
  return shardNumbers(env).map((shard) => ({ shard, db: shardDatabase(env, shard) }));
}

/** The database of a loaded project (its row names its shard): no lookup. */
export function projectDatabase(env: Env, project: { shard: number }): Database {
  return shardDatabase(env, project.shard);
}

/**
 * Shards are fixed at creation (a move is not built), so a project's shard is cached in the isolate
 * after one directory read: per-project paths given only an id pay that read once per isolate.
 */
const shardCache = new Map<string, number>();
const SHARD_CACHE_MAX = 10_000;

/** The shard of a project known by id: the isolate's cache, else the catalog's directory (absent: 0). */
export async function shardOfProject(env: Env, projectId: string): Promise<number> {
  const cached = shardCache.get(projectId);
  if (cached !== undefined) return cached;
  const row = await catalogDatabase(env).select({ shard: projectShards.shard }).from(projectShards).where(eq(projectShards.projectId, projectId)).get();
  const shard = row?.shard ?? 0;
  if (shardCache.size >= SHARD_CACHE_MAX) shardCache.clear();
  shardCache.set(projectId, shard);
  return shard;
}

/** The database of a project known only by id (sync jobs, the webhook edge). */
export async function projectDatabaseById(env: Env, projectId: string): Promise<Database> {
  return shardDatabase(env, await shardOfProject(env, projectId));
}

/** Records a new project's shard in the directory before its row is written there (shard 0: nothing). */
export async function placeProject(env: Env, projectId: string, shard: number): Promise<void> {
  if (!shardExists(env, shard)) throw new Error(`no D1 binding for shard ${shard}`);
  shardCache.set(projectId, shard);
  if (shard === 0) return;
  await catalogDatabase(env).insert(projectShards).values({ projectId, shard }).run();
}

/** Drops a deleted project's directory entry (its rows are gone from its shard). */
export async function forgetProject(env: Env, projectId: string): Promise<void> {
  shardCache.delete(projectId);
  await catalogDatabase(env).delete(projectShards).where(eq(projectShards.projectId, projectId)).run();
}

/** Stands for the catalog database in an isolate-level cache key (a new binding: a new cache). */
export function catalogIdentity(env: Env): object {
  return env.DB;
}

/** A keyset page of projects by id over every shard: each shard's page, merged (ids are UUIDv7: creation order). */
export async function listProjectsOfAllShards(env: Env, opts: { limit: number; afterId?: string | null }): Promise<ProjectRow[]> {
  const pages = await Promise.all(allShardDatabases(env).map(({ db }) => listProjects(db, opts)));
  return pages
    .flat()
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, opts.limit);
}

/** The first shard's answer to a read by a globally unique id (a sync run named without its project). */
export async function findInShards<T>(env: Env, read: (db: Database) => Promise<T | undefined>): Promise<T | undefined> {
  const found = await Promise.all(allShardDatabases(env).map(({ db }) => read(db)));
  return found.find((x) => x !== undefined);
}
