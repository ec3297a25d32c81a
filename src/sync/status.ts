import type { Database } from "../db/client";
import { commentCounts } from "../db/comments";
import { countConflicts } from "../db/conflicts";
import { credentialsByIds, emptyHealth, listAllProjects, readHealth, type CredentialTroubles, type ProjectHealth } from "../db/health";
import { freshnessSummary } from "../db/freshness";
import { countBySyncState, countWithSyncWarnings } from "../db/issues";
import type { CredentialRow, ProjectRow, SyncRunRow } from "../db/schema";
import { lastRunOf } from "../db/sync-runs";
import type { Env } from "../env";
import { log } from "../log";
import { chipOf, chipReasonOf, CHIPS, summarize, type Chip, type ProjectSummary } from "./status-chip";

export { summarize, type ProjectSummary };
import { credentialOf, credentialStatusOf, pausedReasonOf, type CredentialStatus } from "./credentials";

/** A project's sync health: cursor lag, runs, and what is stuck (conflicts, pushes, deliveries). */
export interface SyncStatus extends ProjectSummary {
  activeRun: SyncRunRow | null;
  lastRuns: { incremental: SyncRunRow | null; full: SyncRunRow | null };
  issues: { total: number; orphaned: number; error: number; conflict: number };
  conflictsRecorded: number;
  /** Conflicts not yet settled by hand: the number the overview and the chip use. */
  openConflicts: number;
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
  const [{ health }, lastIncremental, lastFull, byState, conflictsRecorded, issuesWithSyncWarnings, comments] = await Promise.all([
    readHealth(db, project.id),
    lastRunOf(db, project.id, "incremental"),
    lastRunOf(db, project.id, "full"),
    countBySyncState(db, project.id),
    countConflicts(db, project.id),
    countWithSyncWarnings(db, project.id),
    commentCounts(db, project.id),
  ]);
  const h = health.get(project.id) ?? emptyHealth();
  const freshness = await freshnessSummary(db, project.id, new Date(now - 24 * 3_600_000).toISOString());
  return {
    ...summarize(project, h, now),
    activeRun: h.activeRun,
    lastRuns: { incremental: lastIncremental ?? null, full: lastFull ?? null },
    issues: {
      total: Object.values(byState).reduce((sum, n) => sum + n, 0),
      orphaned: byState.orphaned ?? 0,
      error: byState.error ?? 0,
      conflict: byState.conflict ?? 0,
    },
    conflictsRecorded,
    openConflicts: h.openConflicts,
    pendingPushes: h.pushes.pending,
    failedPushes: h.pushes.failed,
    failedDeliveries: h.failedDeliveries,
    issuesWithSyncWarnings,
    // Push counts from the same statement as the overview's.
    comments: { ...comments, pendingPushes: h.commentPushes.pending, failedPushes: h.commentPushes.failed },
    freshness,
  };
}

/** A project's chip and why, with its credential's status when it could be read. */
export interface ProjectHealthView {
  summary: ProjectSummary;
  chip: Chip;
  chipReason: string | null;
  credential: CredentialStatus | null;
}

/**
 * Why each project's credential keeps it from its tracker, from the few unhealthy credentials: only
 * projects whose tracker has one open their token to learn whether it is theirs.
 */
async function pausedReasons(env: Env, projects: readonly ProjectRow[], troubles: CredentialTroubles): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const byId = new Map(troubles.credentials.map((c) => [c.id, c]));
  const tokenTrackers = new Set(troubles.credentials.filter((c) => c.kind === "token").map((c) => `${c.provider}\n${c.apiBaseUrl}`));
  for (const p of projects) {
    const removed = troubles.removedRepositories.get(p.id) ?? null;
    let row: CredentialRow | undefined;
    if (p.installationId !== null) row = byId.get(`app:${p.apiBaseUrl}#${p.installationId}`);
    else if (tokenTrackers.has(`${p.provider}\n${p.apiBaseUrl}`)) row = byId.get((await credentialIdOf(env, p)) ?? "");
    if (!row && !removed) continue;
    const reason = pausedReasonOf(row ?? { health: "ok", healthAt: null, healthReason: null, installationId: p.installationId }, removed);
    if (reason) out.set(p.id, reason);
  }
  return out;
}

async function credentialIdOf(env: Env, project: ProjectRow): Promise<string | null> {
  try {
    return (await credentialOf(env, project)).id;
  } catch (err) {
    // A token stored for another origin: the project's own runs say so; the dashboard shows no credential.
    log.info("credential of a project could not be read for the dashboard", { projectId: project.id, error: String(err) });
    return null;
  }
}

export interface OverviewQuery {
  /** Matches name, repository or provider (case-insensitive). */
  q?: string | undefined;
  status?: Chip | undefined;
  sort: "status" | "name" | "lag";
  page: number;
  limit: number;
}

export interface Overview {
  rows: ProjectHealthView[];
  /** Projects in all, how many match the filter, and how many of all are in each chip. */
  total: number;
  matched: number;
  byChip: Record<Chip, number>;
  page: number;
  pages: number;
}

/**
 * The overview: every project's chip from one batch of aggregate statements per shard (`dbs`: every
 * shard's database), filtered, sorted and paged here; credentials (rate limits) read for the page's
 * rows only, each from its project's shard. A fixed number of D1 statements per shard whatever the
 * number of projects.
 */
export async function overview(env: Env, dbs: readonly Database[], query: OverviewQuery, now: number = Date.now()): Promise<Overview> {
  const shards = await Promise.all(
    dbs.map(async (db) => {
      // A shard without projects costs its one listing statement, not the aggregates.
      const projects = await listAllProjects(db);
      const { health, troubles } = projects.length > 0 ? await readHealth(db, null) : { health: new Map<string, ProjectHealth>(), troubles: NO_TROUBLES };
      return { db, projects, health, troubles, paused: await pausedReasons(env, projects, troubles) };
    }),
  );
  const projects = shards.flatMap((s) => s.projects);
  const all = shards.flatMap((s) =>
    s.projects.map((p) => {
      const summary = summarize(p, s.health.get(p.id) ?? emptyHealth(), now);
      const pausedReason = s.paused.get(p.id) ?? null;
      const chip = chipOf(summary, now, pausedReason);
      return { summary, chip, chipReason: chipReasonOf(chip, summary, now, pausedReason), shard: s };
    }),
  );
  // Each shard's list is in name order: the merged list is too.
  all.sort((a, b) => cmp(a.summary.project.name, b.summary.project.name) || cmp(a.summary.project.id, b.summary.project.id));
  const byChip = Object.fromEntries(CHIPS.map((c) => [c, 0])) as Record<Chip, number>;
  for (const r of all) byChip[r.chip]++;
  const needle = query.q?.trim().toLowerCase() ?? "";
  const matched = all.filter(
    (r) =>
      (!query.status || r.chip === query.status) &&
      (!needle || [r.summary.project.name, r.summary.project.repository, r.summary.project.provider].some((v) => v.toLowerCase().includes(needle))),
  );
  if (query.sort === "status") matched.sort((a, b) => CHIPS.indexOf(a.chip) - CHIPS.indexOf(b.chip));
  else if (query.sort === "lag") matched.sort((a, b) => (b.summary.lagSeconds ?? -1) - (a.summary.lagSeconds ?? -1));
  const pages = Math.max(1, Math.ceil(matched.length / query.limit));
  const page = Math.min(Math.max(1, query.page), pages);
  const slice = matched.slice((page - 1) * query.limit, page * query.limit);
  // Rate limits for the page: one read of its credentials.
  const ids = new Map<string, string>();
  for (const r of slice) {
    const p = r.summary.project;
    const id = p.installationId !== null ? `app:${p.apiBaseUrl}#${p.installationId}` : await credentialIdOf(env, p);
    if (id) ids.set(p.id, id);
  }
  // A shared credential has a row in each shard that uses it: read it from the project's own shard.
  const rowsOf = new Map(
    await Promise.all(
      shards.map(async (s) => {
        const wanted = slice.filter((r) => r.shard === s).flatMap((r) => ids.get(r.summary.project.id) ?? []);
        const found = wanted.length > 0 ? await credentialsByIds(s.db, [...new Set(wanted)]) : [];
        return [s, new Map(found.map((c) => [c.id, c]))] as const;
      }),
    ),
  );
  return {
    rows: slice.map(({ shard, ...r }) => {
      const p = r.summary.project;
      const id = ids.get(p.id);
      const credential = id
        ? credentialStatusOf({ kind: p.installationId !== null ? "installation" : "token", installationId: p.installationId }, rowsOf.get(shard)?.get(id) ?? null, shard.troubles.removedRepositories.get(p.id) ?? null, now)
        : null;
      return { ...r, credential };
    }),
    total: projects.length,
    matched: matched.length,
    byChip,
    page,
    pages,
  };
}

const NO_TROUBLES: CredentialTroubles = { credentials: [], removedRepositories: new Map() };

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
