/**
 * The one-word health of a project shown on the dashboard, from its sync status. The rules, in
 * order (the first that holds wins), are written on the overview page and in the README:
 */
import type { SyncStatus } from "./status";

export const CHIPS = ["paused", "access lost", "importing", "failing", "late", "new", "syncing", "healthy"] as const;
export type Chip = (typeof CHIPS)[number];

/** Cron runs an incremental sync every 5 minutes; "late" is more than two intervals without one. */
export const LATE_AFTER_MS = 2 * 5 * 60_000;

export const CHIP_RULES: Record<Chip, string> = {
  paused:
    "sync is switched off for the project (syncEnabled false), or its credential paused it: credentials rejected (HTTP 401), GitHub App installation suspended or uninstalled, or the repository removed from the installation (the reason is shown next to the chip)",
  "access lost":
    "the tracker answers 404 for the repository itself (the token lost access, or another repository now has its name), or it refused the stored credentials (HTTP 401/403) since the last successful run",
  importing: "a run is queued or going and the project has never finished a sync (its first import)",
  failing: "the last finished run failed, or pushes or webhook deliveries failed and wait for repair",
  late: "no successful run for more than two cron intervals (10 minutes), counted from the project's creation if it never synced",
  new: "created less than two cron intervals ago and no run queued yet: the cron starts the first one within 5 minutes",
  syncing: "a run is going",
  healthy: "none of the above",
};

/**
 * `credentialPausedReason`: why the project's credential keeps it from its tracker (`pausedReason`
 * of its credential status: rejected, installation suspended or removed, repository removed), or null.
 */
export function chipOf(s: SyncStatus, lastAccessFailureAt: string | null, now: number = Date.now(), credentialPausedReason: string | null = null): Chip {
  const p = s.project;
  if (!p.syncEnabled || credentialPausedReason) return "paused";
  const lastSuccess = p.lastIncrementalSyncAt;
  if (p.accessLostAt) return "access lost";
  if (lastAccessFailureAt && (!lastSuccess || lastAccessFailureAt > lastSuccess)) return "access lost";
  if (s.activeRun && !p.lastFullSyncAt && !p.lastIncrementalSyncAt) return "importing";
  const finished = [s.lastRuns.incremental, s.lastRuns.full].filter((r) => r !== null).sort((a, b) => ((a.finishedAt ?? "") < (b.finishedAt ?? "") ? 1 : -1));
  if (finished[0]?.status === "failed" || s.failedPushes > 0 || s.failedDeliveries > 0) return "failing";
  // Never synced and no run (an active one is "importing" above): late only once the cron should have run.
  if (now - Date.parse(lastSuccess ?? p.createdAt) > LATE_AFTER_MS) return "late";
  if (!lastSuccess) return "new";
  if (s.activeRun) return "syncing";
  return "healthy";
}

/** Why a `paused` or `access lost` chip holds, in words shown next to it; null for the other chips. */
export function chipReasonOf(chip: Chip, s: SyncStatus, lastAccessFailureAt: string | null, credentialPausedReason: string | null = null): string | null {
  const p = s.project;
  if (chip === "paused") return !p.syncEnabled ? "sync switched off" : credentialPausedReason;
  if (chip !== "access lost") return null;
  if (p.accessLostAt) return `since ${p.accessLostAt}: ${p.accessError ?? "the tracker answers 404 for the repository"}`;
  return lastAccessFailureAt ? `the tracker refused the credentials (HTTP 401/403) at ${lastAccessFailureAt}` : null;
}
