/**
 * The one-word health of a project shown on the dashboard, from its sync status. The rules, in
 * order (the first that holds wins), are written on the overview page and in the README:
 */
import type { ProjectHealth } from "../db/health";
import type { ProjectRow } from "../db/schema";

/** What the health chip and the overview row need: the project, its unsettled work, its lag. */
export interface ProjectSummary {
  project: ProjectRow;
  health: ProjectHealth;
  /**
   * How far the local store is behind the tracker: seconds since the oldest change received and not
   * applied yet, or, when none is waiting, since the last successful run; null before the first one.
   */
  lagSeconds: number | null;
  /** The instant `lagSeconds` counts from. */
  lagSince: string | null;
}

function latest(...values: (string | null)[]): string | null {
  return values.reduce<string | null>((a, b) => (b !== null && (a === null || b > a) ? b : a), null);
}

export function summarize(project: ProjectRow, health: ProjectHealth, now: number): ProjectSummary {
  const since = health.oldestUnappliedAt ?? latest(project.lastIncrementalSyncAt, project.lastFullSyncAt);
  return { project, health, lagSince: since, lagSeconds: since ? Math.max(0, Math.round((now - Date.parse(since)) / 1000)) : null };
}


export const CHIPS = ["paused", "access lost", "importing", "failing", "late", "new", "retrying", "conflicts", "syncing", "healthy"] as const;
export type Chip = (typeof CHIPS)[number];

/** Cron runs an incremental sync every 5 minutes; "late" is more than two intervals without one. */
export const LATE_AFTER_MS = 2 * 5 * 60_000;

export const CHIP_RULES: Record<Chip, string> = {
  paused:
    "sync is switched off for the project (syncEnabled false), or its credential paused it: credentials rejected (HTTP 401), GitHub App installation suspended or uninstalled, or the repository removed from the installation (the reason is shown next to the chip)",
  "access lost":
    "the tracker answers 404 for the repository itself (the token lost access, or another repository now has its name), or it refused the stored credentials (HTTP 401/403) since the last successful run and since the token was last replaced",
  importing: "a run is queued or going and the project has never finished a sync (its first import)",
  failing:
    "the last finished run failed (a run that failed before the token was replaced does not count), or pushes of issues or comments failed for good, or webhook deliveries failed: each waits for a retry, replay or acknowledgement; or a phase of the run is stuck (the comment or pull request listing failed in the last run and its cursor stays) while issues still sync: every run tries the phase again, and the chip clears when one completes",
  late: "no successful run for more than two cron intervals (10 minutes), counted from the project's creation if it never synced",
  new: "created less than two cron intervals ago and no run queued yet: the cron starts the first one within 5 minutes",
  retrying: "pushes of issues or comments failed and are being retried (the attempts and the last error are shown next to the chip)",
  conflicts: "conflicts were recorded and not settled yet: keep local or take the tracker on the project page",
  syncing: "a run is going",
  healthy: "none of the above",
};

function lastSuccessOf(s: ProjectSummary): string | null {
  return s.project.lastIncrementalSyncAt;
}

/** The credential refusal that still holds: after the last success and after the last token replacement. */
function standingAccessFailure(s: ProjectSummary): string | null {
  const failed = s.health.lastAccessFailureAt;
  if (!failed) return null;
  const lastSuccess = lastSuccessOf(s);
  if (lastSuccess && failed <= lastSuccess) return null;
  if (s.health.tokenReplacedAt && failed <= s.health.tokenReplacedAt) return null;
  return failed;
}

/** A phase whose listing failed for good in the last run: its own cursor stays, the other phases go on. */
export interface StuckPhase {
  phase: "comments" | "pull requests";
  error: string;
  /** The first failure in a row. */
  since: string;
}

export function stuckPhasesOf(p: ProjectRow): StuckPhase[] {
  const out: StuckPhase[] = [];
  if (p.commentPhaseError) out.push({ phase: "comments", error: p.commentPhaseError, since: p.commentPhaseErrorAt ?? p.updatedAt });
  if (p.pullRequestPhaseError) out.push({ phase: "pull requests", error: p.pullRequestPhaseError, since: p.pullRequestPhaseErrorAt ?? p.updatedAt });
  return out;
}

/** What an operator does about a stuck phase, by the tracker's answer. */
export function stuckPhaseAdvice(phase: StuckPhase): string {
  const what = phase.phase === "comments" ? "comments" : "merge requests / pull requests";
  if (/\b403\b|forbidden/i.test(phase.error)) return `give the project a token that can read the repository's ${what} (or enable them on the tracker); the next run tries again`;
  if (/\b404\b|not found/i.test(phase.error)) return `check that the repository's ${what} are enabled on the tracker; the next run tries again`;
  return "the next run tries again; if it keeps failing, check the tracker's status and the error";
}

function lastRunFailed(s: ProjectSummary): boolean {
  const run = s.health.lastFinishedRun;
  if (run?.status !== "failed") return false;
  // Replacing the token is the fix for a refused run: what failed before it is history.
  return !(s.health.tokenReplacedAt && (run.finishedAt ?? "") <= s.health.tokenReplacedAt);
}

/**
 * `credentialPausedReason`: why the project's credential keeps it from its tracker (`pausedReason`
 * of its credential status: rejected, installation suspended or removed, repository removed), or null.
 */
export function chipOf(s: ProjectSummary, now: number = Date.now(), credentialPausedReason: string | null = null): Chip {
  const p = s.project;
  const h = s.health;
  if (!p.syncEnabled || credentialPausedReason) return "paused";
  const lastSuccess = lastSuccessOf(s);
  if (p.accessLostAt || standingAccessFailure(s)) return "access lost";
  if (h.activeRun && !p.lastFullSyncAt && !p.lastIncrementalSyncAt) return "importing";
  if (lastRunFailed(s) || h.pushes.failed > 0 || h.commentPushes.failed > 0 || h.failedDeliveries > 0 || stuckPhasesOf(p).length > 0) return "failing";
  // Never synced and no run (an active one is "importing" above): late only once the cron should have run.
  if (now - Date.parse(lastSuccess ?? p.createdAt) > LATE_AFTER_MS) return "late";
  if (!lastSuccess) return "new";
  if (h.pushes.retrying > 0 || h.commentPushes.retrying > 0) return "retrying";
  if (h.openConflicts > 0) return "conflicts";
  if (h.activeRun) return "syncing";
  return "healthy";
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function ago(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

/** Why the chip holds and what to do, in words shown next to it; null for `healthy`, `syncing` and `new`. */
export function chipReasonOf(chip: Chip, s: ProjectSummary, now: number = Date.now(), credentialPausedReason: string | null = null): string | null {
  const p = s.project;
  const h = s.health;
  switch (chip) {
    case "paused":
      return !p.syncEnabled ? "sync switched off: resume it on the project page" : credentialPausedReason;
    case "access lost": {
      if (p.accessLostAt) return `since ${p.accessLostAt}: ${p.accessError ?? "the tracker answers 404 for the repository"}`;
      const failed = standingAccessFailure(s);
      return failed ? `the tracker refused the credentials (HTTP 401/403) at ${failed}: give the project a token that can read and write the repository's issues` : null;
    }
    case "failing": {
      const parts: string[] = [];
      const run = h.lastFinishedRun;
      if (lastRunFailed(s) && run) parts.push(`the last ${run.mode} run failed${run.error ? `: ${run.error}` : ""}`);
      if (h.pushes.failed > 0) parts.push(`${plural(h.pushes.failed, "issue push", "issue pushes")} failed (retry them)`);
      if (h.commentPushes.failed > 0) parts.push(`${plural(h.commentPushes.failed, "comment push", "comment pushes")} failed (retry them)`);
      if (h.failedDeliveries > 0) parts.push(`${plural(h.failedDeliveries, "webhook delivery", "webhook deliveries")} failed (replay or acknowledge them)`);
      for (const stuck of stuckPhasesOf(p)) {
        parts.push(`${stuck.phase}: not synced since ${stuck.since} (issues still sync): ${stuck.error}; ${stuckPhaseAdvice(stuck)}`);
      }
      return parts.join("; ");
    }
    case "late": {
      const since = p.lastIncrementalSyncAt ?? p.createdAt;
      return `no successful sync for ${ago(now - Date.parse(since))}${p.lastError ? `; last error: ${p.lastError}` : ""}`;
    }
    case "retrying": {
      const n = h.pushes.retrying + h.commentPushes.retrying;
      const attempts = Math.max(h.pushes.maxAttempts, h.commentPushes.maxAttempts);
      const error = h.pushes.lastError ?? h.commentPushes.lastError;
      return `${plural(n, "push", "pushes")} retrying after ${plural(attempts, "failed attempt")}${error ? `; last error: ${error}` : ""}`;
    }
    case "conflicts":
      return `${plural(h.openConflicts, "open conflict")}: settle them on the project page`;
    default:
      return null;
  }
}
