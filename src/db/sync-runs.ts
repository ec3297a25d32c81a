import { and, asc, desc, eq, inArray, lt, or, sql } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { redactSecrets } from "../redact";
import { runBatch } from "./batch";
import type { Database } from "./client";
import { projects, syncRuns, type SyncRunRow } from "./schema";

export type NewRun = typeof syncRuns.$inferInsert;

export const RUN_COUNTERS = ["pages", "fetched", "created", "updated", "unchanged", "conflicts", "orphaned", "pushed", "requests"] as const;
export type RunCounter = (typeof RUN_COUNTERS)[number];
export type RunCounts = Record<RunCounter, number>;

export function zeroCounts(): RunCounts {
  return { pages: 0, fetched: 0, created: 0, updated: 0, unchanged: 0, conflicts: 0, orphaned: 0, pushed: 0, requests: 0 };
}

export async function getRun(db: Database, id: string): Promise<SyncRunRow | undefined> {
  return db.select().from(syncRuns).where(eq(syncRuns.id, id)).get();
}

/** The project's queued or running run, if any (there is at most one: requests join it). */
export async function getActiveRun(db: Database, projectId: string): Promise<SyncRunRow | undefined> {
  return db
    .select()
    .from(syncRuns)
    .where(and(eq(syncRuns.projectId, projectId), inArray(syncRuns.status, ["queued", "running"])))
    .orderBy(asc(syncRuns.id))
    .get();
}

/** Newest first, keyset on id (UUIDv7: creation order). */
export async function listRuns(db: Database, projectId: string, page: { limit: number; beforeId?: string | null }): Promise<SyncRunRow[]> {
  return db
    .select()
    .from(syncRuns)
    .where(and(eq(syncRuns.projectId, projectId), page.beforeId ? lt(syncRuns.id, page.beforeId) : undefined))
    .orderBy(desc(syncRuns.id))
    .limit(page.limit)
    .all();
}

export async function lastRunOf(db: Database, projectId: string, mode: "incremental" | "full"): Promise<SyncRunRow | undefined> {
  return db
    .select()
    .from(syncRuns)
    .where(and(eq(syncRuns.projectId, projectId), eq(syncRuns.mode, mode), or(eq(syncRuns.status, "succeeded"), eq(syncRuns.status, "failed"))))
    .orderBy(desc(syncRuns.id))
    .get();
}

export async function insertRun(db: Database, row: NewRun): Promise<SyncRunRow> {
  const [created] = await db.insert(syncRuns).values(row).returning();
  return created!;
}

/** Adds a step's counters and writes its checkpoint in one statement. */
export function recordStep(
  db: Database,
  id: string,
  delta: Partial<RunCounts>,
  set: Partial<Pick<NewRun, "status" | "checkpoint" | "resumeAt" | "error" | "startedAt" | "finishedAt" | "mode" | "total">>,
) {
  const increments = Object.fromEntries(
    RUN_COUNTERS.filter((k) => (delta[k] ?? 0) !== 0).map((k) => [k, sql`${syncRuns[k]} + ${delta[k]!}`]),
  );
  return db
    .update(syncRuns)
    .set({ ...increments, ...set, ...(typeof set.error === "string" ? { error: redactSecrets(set.error) } : {}) })
    .where(eq(syncRuns.id, id));
}

/** A finished run and the project's cursor it advanced, in one batch. */
export async function recordRunSucceeded(
  db: Database,
  args: {
    runId: string;
    projectId: string;
    mode: SyncRunRow["mode"];
    counts: RunCounts;
    startedAt: string;
    finishedAt: string;
    cursor: string | null;
    cursorEtag: string | null;
    /** The listing's count, when the tracker gave one (absent: leave the column as it is). */
    total?: number | null;
  },
): Promise<void> {
  await db.batch([
    recordStep(db, args.runId, args.counts, {
      status: "succeeded",
      startedAt: args.startedAt,
      finishedAt: args.finishedAt,
      checkpoint: null,
      resumeAt: null,
      error: null,
      ...(args.total !== undefined ? { total: args.total } : {}),
    }),
    db
      .update(projects)
      .set({
        cursor: args.cursor,
        cursorEtag: args.cursorEtag,
        lastError: null,
        ...(args.mode === "full" ? { lastFullSyncAt: args.finishedAt, lastIncrementalSyncAt: args.finishedAt } : { lastIncrementalSyncAt: args.finishedAt }),
      })
      .where(eq(projects.id, args.projectId)),
  ]);
}

/** The issue phase's cursor, stored when that phase completes (the comment phase keeps its own). */
export async function storeIssueCursor(db: Database, projectId: string, cursor: string | null, cursorEtag: string | null): Promise<void> {
  await db.update(projects).set({ cursor, cursorEtag }).where(eq(projects.id, projectId));
}

/** A failed run, and the project's last error naming it, in one batch. */
export async function recordRunFailed(
  db: Database,
  args: { runId: string; projectId: string; error: string; finishedAt: string },
  activity: readonly ActivityEntry[] = [],
): Promise<void> {
  await runBatch(db, [
    recordStep(db, args.runId, {}, { status: "failed", finishedAt: args.finishedAt, error: redactSecrets(args.error), resumeAt: null }),
    db.update(projects).set({ lastError: redactSecrets(`sync run ${args.runId} failed: ${args.error}`) }).where(eq(projects.id, args.projectId)),
    ...activityStatements(activity),
  ]);
}
