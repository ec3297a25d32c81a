import type { Database } from "../db/client";
import { commentCounts } from "../db/comments";
import { countConflicts } from "../db/conflicts";
import { countFailedDeliveries } from "../db/deliveries";
import { freshnessSummary } from "../db/freshness";
import { countBySyncState, countWithSyncWarnings } from "../db/issues";
import { countByStatus } from "../db/outbox";
import type { ProjectRow, SyncRunRow } from "../db/schema";
import { getActiveRun, lastRunOf } from "../db/sync-runs";

/** A project's sync health: cursor lag, runs, and what is stuck (conflicts, pushes, deliveries). */
export interface SyncStatus {
  project: ProjectRow;
  lagSeconds: number | null;
  activeRun: SyncRunRow | null;
  lastRuns: { incremental: SyncRunRow | null; full: SyncRunRow | null };
  issues: { total: number; orphaned: number; error: number; conflict: number };
  conflictsRecorded: number;
  pendingPushes: number;
  failedPushes: number;
  failedDeliveries: number;
  /** Issues whose last push had fields the tracker refused silently (kept locally). */
  issuesWithSyncWarnings: number;
  comments: Awaited<ReturnType<typeof commentCounts>>;
  /** Tracker change → stored here over the last 24 hours, by source. */
  freshness: Awaited<ReturnType<typeof freshnessSummary>>;
}

export async function syncStatus(db: Database, project: ProjectRow, now: number = Date.now()): Promise<SyncStatus> {
  const [active, lastIncremental, lastFull, byState, conflictsRecorded, byOutbox, failedDeliveries, issuesWithSyncWarnings] = await Promise.all([
    getActiveRun(db, project.id),
    lastRunOf(db, project.id, "incremental"),
    lastRunOf(db, project.id, "full"),
    countBySyncState(db, project.id),
    countConflicts(db, project.id),
    countByStatus(db, project.id),
    countFailedDeliveries(db, project.id),
    countWithSyncWarnings(db, project.id),
  ]);
  const [comments, freshness] = await Promise.all([commentCounts(db, project.id), freshnessSummary(db, project.id, new Date(now - 24 * 3_600_000).toISOString())]);
  return {
    project,
    lagSeconds: project.cursor ? Math.max(0, Math.round((now - Date.parse(project.cursor)) / 1000)) : null,
    activeRun: active ?? null,
    lastRuns: { incremental: lastIncremental ?? null, full: lastFull ?? null },
    issues: {
      total: Object.values(byState).reduce((sum, n) => sum + n, 0),
      orphaned: byState.orphaned ?? 0,
      error: byState.error ?? 0,
      conflict: byState.conflict ?? 0,
    },
    conflictsRecorded,
    pendingPushes: byOutbox.pending ?? 0,
    failedPushes: byOutbox.failed ?? 0,
    failedDeliveries,
    issuesWithSyncWarnings,
    comments,
    freshness,
  };
}
