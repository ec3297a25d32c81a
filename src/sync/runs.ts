/**
 * Sync runs: incremental and full, executed by the project's Durable Object in bounded steps.
 *
 * A step reads a few pages (or probes a few missing issues), merges them through `applySnapshots`,
 * and checkpoints in D1; the next step runs in a fresh alarm invocation, so a 100,000-issue
 * repository never exceeds one invocation's subrequest or CPU budget. A rate-limited step leaves
 * the checkpoint where it was and resumes at the tracker's reset time instead of sleeping.
 *
 * Listing strategy:
 * - Trackers that sort by `updated_at` (GitHub, GitLab) are read as a keyset scan: each page is a
 *   fresh "updated since <last updated_at seen>" query. An issue edited while we page moves to the
 *   end of the order and is read later; offset pagination could skip a neighbour instead. Only a
 *   page whose items all share one timestamp follows the tracker's `Link` next URL, and such a
 *   block is re-read until a pass brings nothing new (listing-block.ts).
 * - Gitea cannot sort: every page is read following `Link` verbatim, and the cursor becomes the
 *   tracker's clock at the start of the run (its `Date` header), so a change made while we paged is
 *   re-read next time.
 * - The cursor advances only when the run has stored everything up to it; the next incremental run
 *   re-reads an overlap window before it, deduplicated on (external id, updated_at).
 */
import { type Database } from "../db/client";
import { projectDatabaseById } from "../db/shards";
import { listUnseenLinked, markSeen } from "../db/issues";
import { getProject } from "../db/projects";
import type { SyncRunRow } from "../db/schema";
import { getActiveRun, insertRun, recordRunFailed, recordRunSucceeded, recordStep, storeIssueCursor, zeroCounts, type RunCounts } from "../db/sync-runs";
import type { Env } from "../env";
import { ConfigurationError, NotFound, ProjectPaused, StateConflict } from "../errors";
import { newId, nowIso } from "../ids";
import { log } from "../log";
import { storePullRequestCursor } from "../db/pull-requests";
import { recordPhaseFailed } from "../db/phases";
import { RateLimitedError, TrackerError, type ClosingIssueRef, type CommentPage, type IssuePage, type PullRequestPage } from "../providers/types";
import { applySnapshots } from "./apply-snapshots";
import { applyPullRequests, askClosingReferences, readClosingReferences } from "./pull-requests";
import { loadSyncContext, type SyncContext } from "./context";
import { openCredential, refreshTokenExpiry } from "./credentials";
import { commentStep, initialCommentCheckpoint, type CommentCheckpoint } from "./comments-run";
import { applyGone } from "./deletion";
import { recordRepositoryObservation } from "./repository";
import { cappedCursor } from "./listing-block";
import { initialListing, listPages, OVERLAP_MS, type ListingCheckpoint, type PageChain } from "./listing-loop";
import { settingsOf } from "./project-settings";
import { scopeListFilter } from "./scope";

export type RunMode = "incremental" | "full";
export type RunTrigger = "cron" | "api" | "webhook" | "resume";

export { OVERLAP_MS };
/**
 * Per step (one alarm invocation) the budget is 50 subrequests on the free plan: a page costs one
 * tracker request and 4–5 D1 queries, a probe one request and up to 3 queries, plus ~4 for the run.
 */
const PAGES_PER_STEP = 5;
const PROBES_PER_STEP = 10;
/**
 * A PR costs more than an issue: each changed one is applied on its own (its links diffed, the
 * tracker asked for its closing references), so the PR phase reads one page a step.
 */
const PULL_REQUEST_PAGES_PER_STEP = 1;
/** Consecutive failed steps (5xx / network after the tracker client's own retries) before a run fails. */
const MAX_STEP_FAILURES = 5;

interface Checkpoint extends ListingCheckpoint {
  /** "comments": the comment phase (sync/comments-run.ts), after the issue listing and probes. */
  phase: "list" | "probe" | "comments" | "pulls";
  comments?: CommentCheckpoint;
  /** Pull request phase (GitLab, Gitea: their issue listings carry no PRs), with its own cursor. */
  pulls?: ListingCheckpoint;
  /** Probe phase: keyset over local issue ids. */
  probeAfterId: string | null;
  failures: number;
  /**
   * The issue cursor this run reached, stored when the issue phase completed: each phase keeps its
   * own cursor, so a comment phase that fails never holds issue sync back.
   */
  issueCursor?: { cursor: string | null; etag: string | null };
}

/** Where a phase's listing starts: a full run lists everything, an incremental one from its cursor less the overlap. */
function sinceOf(mode: RunMode, cursor: string | null): string | null {
  return mode === "incremental" && cursor ? new Date(Date.parse(cursor) - OVERLAP_MS).toISOString() : null;
}

function initialCheckpoint(mode: RunMode, cursor: string | null): Checkpoint {
  return { phase: "list", ...initialListing(sinceOf(mode, cursor)), probeAfterId: null, failures: 0 };
}

/**
 * Starts a run for the project or joins the active one. A full request upgrades an active
 * incremental run: its listing restarts from the beginning, its counters are kept.
 */
export async function requestRun(env: Env, projectId: string, mode: RunMode, trigger: RunTrigger): Promise<{ runId: string; joined: boolean }> {
  const db = await projectDatabaseById(env, projectId);
  const active = await getActiveRun(db, projectId);
  if (active) {
    if (mode === "full" && active.mode === "incremental") {
      // The incremental listing's total does not describe the full one: unknown until its first page.
      await recordStep(db, active.id, {}, { mode: "full", checkpoint: JSON.stringify(initialCheckpoint("full", null)), resumeAt: null, total: null });
    }
    return { runId: active.id, joined: true };
  }
  const project = await getProject(db, projectId);
  if (!project) throw new NotFound("project", projectId);
  if (!project.syncEnabled) throw new StateConflict(`sync is disabled for project ${projectId}`);
  // A credential that cannot even be opened (a token not given for this origin) is the run's error to
  // report, not the API's: the run starts and fails with it, and the tracker never sees the token.
  const pausedReason = await openCredential(env, db, project).then(
    (credential) => credential.pausedReason,
    (err: unknown) => {
      if (err instanceof TrackerError) return null;
      throw err;
    },
  );
  if (pausedReason) throw new ProjectPaused(`project ${projectId} is paused: ${pausedReason}`);
  const run = await insertRun(db, {
    id: newId(),
    projectId,
    mode,
    trigger,
    status: "queued",
    checkpoint: JSON.stringify(initialCheckpoint(mode, project.cursor)),
    createdAt: nowIso(),
  });
  return { runId: run.id, joined: false };
}

/**
 * Runs one bounded step of the project's active run. Returns when the next step should run, or
 * null when there is nothing left to do.
 */
export async function runStep(env: Env, projectId: string, now: () => number = Date.now, carry?: PageCarry): Promise<{ nextStepAt: string | null }> {
  const db = await projectDatabaseById(env, projectId);
  const run = await getActiveRun(db, projectId);
  if (!run) return { nextStepAt: null };
  if (run.resumeAt && Date.parse(run.resumeAt) > now()) return { nextStepAt: run.resumeAt };

  let ctx: SyncContext;
  try {
    ctx = { ...(await loadSyncContext(env, projectId)), origin: { source: run.mode === "full" ? "full" : "poll", runId: run.id } };
  } catch (err) {
    await failRun(db, run, projectId, err instanceof NotFound || err instanceof ConfigurationError ? err.message : String(err));
    return { nextStepAt: null };
  }
  if (ctx.credential.pausedReason) {
    // No retry storm: the run ends now with the reason; resuming the project starts a new one.
    await failRun(db, run, projectId, `paused: ${ctx.credential.pausedReason}`);
    return { nextStepAt: null };
  }

  await refreshTokenExpiry(db, ctx.credential, ctx.tracker, now);
  const checkpoint = JSON.parse(run.checkpoint ?? "null") as Checkpoint | null ?? initialCheckpoint(run.mode, ctx.project.cursor);
  const counts = zeroCounts();
  const startedAt = run.startedAt ?? nowIso(now());
  try {
    return await runCheckedStep(ctx, run, checkpoint, counts, startedAt, now, carry);
  } finally {
    await recordRepositoryObservation(ctx);
  }
}

async function runCheckedStep(
  ctx: SyncContext,
  run: SyncRunRow,
  checkpoint: Checkpoint,
  counts: RunCounts,
  startedAt: string,
  now: () => number,
  carry: PageCarry | undefined,
): Promise<{ nextStepAt: string | null }> {
  const { db, project } = ctx;
  const projectId = project.id;
  try {
    let done =
      checkpoint.phase === "list"
        ? await listStep(ctx, run, checkpoint, counts, carry)
        : checkpoint.phase === "probe"
          ? await probeStep(ctx, run, checkpoint, counts)
          : checkpoint.phase === "comments"
            ? await commentPhaseStep(ctx, run, checkpoint, carry)
            : await pullRequestStep(ctx, run, checkpoint);
    if (done && checkpoint.phase !== "comments" && checkpoint.phase !== "pulls") {
      await storeIssuePhaseCursor(ctx, checkpoint);
      checkpoint.phase = "comments";
      done = false;
    } else if (done && checkpoint.phase === "comments" && ctx.tracker.listPullRequestsPage) {
      checkpoint.phase = "pulls";
      done = false;
    }
    checkpoint.failures = 0;
    counts.requests = stepRequests(ctx, carry);
    if (!done) {
      await recordStep(db, run.id, counts, { status: "running", startedAt, checkpoint: JSON.stringify(checkpoint), resumeAt: null, ...totalOf(checkpoint) });
      return { nextStepAt: nowIso(now()) };
    }
    await finishRun(ctx, run, checkpoint, counts, startedAt, now);
    return { nextStepAt: null };
  } catch (err) {
    counts.requests = stepRequests(ctx, carry);
    if (err instanceof RateLimitedError) {
      // Keep the checkpoint (the failed page is read again) and come back at the reset time.
      await recordStep(db, run.id, counts, { status: "running", startedAt, checkpoint: JSON.stringify(checkpoint), resumeAt: err.retryAt, ...totalOf(checkpoint) });
      log.info("sync run rate limited", { projectId, runId: run.id, retryAt: err.retryAt });
      return { nextStepAt: err.retryAt };
    }
    const retryable = !(err instanceof TrackerError) || err.retryable;
    checkpoint.failures += 1;
    const message = err instanceof Error ? err.message : String(err);
    if (retryable && checkpoint.failures < MAX_STEP_FAILURES) {
      const retryAt = nowIso(now() + 2 ** checkpoint.failures * 1000);
      await recordStep(db, run.id, counts, { status: "running", startedAt, checkpoint: JSON.stringify(checkpoint), resumeAt: retryAt, error: message });
      log.info("sync step failed; will retry", { projectId, runId: run.id, failures: checkpoint.failures, error: message });
      return { nextStepAt: retryAt };
    }
    if (checkpoint.phase === "pulls") {
      // Development links never fail the issue sync they ride on: the issue and comment cursors are
      // stored, the run succeeds, and the PR phase's own cursor stays with its failure shown in status.
      await recordPhaseFailed(db, projectId, "pullRequests", message, nowIso(now()));
      log.info("pull request phase failed; its cursor stays", { projectId, runId: run.id, error: message });
      await finishRun(ctx, run, checkpoint, counts, startedAt, now);
      return { nextStepAt: null };
    }
    if (checkpoint.phase === "comments" && !isCredentialRefusal(err)) {
      // The same shape as the PR phase: the issue cursor is stored, the comment cursor stays with its
      // failure shown in status and on the dashboard, and the PR phase still runs.
      await recordPhaseFailed(db, projectId, "comments", message, nowIso(now()));
      log.info("comment phase failed; its cursor stays", { projectId, runId: run.id, error: message });
      checkpoint.failures = 0;
      if (ctx.tracker.listPullRequestsPage) {
        checkpoint.phase = "pulls";
        await recordStep(db, run.id, counts, { status: "running", startedAt, checkpoint: JSON.stringify(checkpoint), resumeAt: null, ...totalOf(checkpoint) });
        return { nextStepAt: nowIso(now()) };
      }
      await finishRun(ctx, run, checkpoint, counts, startedAt, now);
      return { nextStepAt: null };
    }
    await recordStep(db, run.id, counts, { startedAt });
    // A refused credential in the comment phase fails the run (access lost is the project's trouble, not the phase's).
    const stuck = checkpoint.phase === "comments" ? `the comment phase failed (issues are synced up to the issue cursor): ${message}` : message;
    await failRun(db, run, projectId, stuck, err instanceof TrackerError ? err.status : null);
    return { nextStepAt: null };
  }
}

/**
 * The issue listing's chain of requests, kept by the Durable Object between alarm invocations
 * (memory only): the next step of the same run continues it when its checkpoint asks for exactly the
 * page fetched ahead, else drops it. After an eviction or crash it is simply gone and the pages are
 * fetched again: nothing about it is durable, and the checkpoint never points past an unapplied page.
 */
export interface PageCarry {
  /** The run (and mode) the chains list for. */
  key: string | null;
  issues: { chain: PageChain<IssuePage> | null };
  /** The repository-wide comment listing (GitHub, Gitea). */
  comments: { chain: PageChain<CommentPage> | null };
  /** The previous step's tracker and the requests it had made when that step was recorded: the chain's later ones count for the next step. */
  counted?: { tracker: { readonly requestCount: number }; recorded: number } | null;
}

/** Tracker requests to record for this step: its own, and those the previous step's chain made after that step was recorded. */
function stepRequests(ctx: SyncContext, carry: PageCarry | undefined): number {
  const late = carry?.counted ? carry.counted.tracker.requestCount - carry.counted.recorded : 0;
  if (carry) carry.counted = { tracker: ctx.tracker, recorded: ctx.tracker.requestCount };
  return ctx.tracker.requestCount + late;
}

export function emptyCarry(): PageCarry {
  return { key: null, issues: { chain: null }, comments: { chain: null } };
}

/** Stops the kept chains and lets their requests land: the write path that runs next sees no page fetched before it. */
export async function dropCarry(carry: PageCarry): Promise<void> {
  const chains = [carry.issues.chain, carry.comments.chain];
  carry.issues.chain = null;
  carry.comments.chain = null;
  carry.key = null;
  await Promise.all(chains.map((chain) => chain?.stop()));
}

/** The carry for this run's steps: a chain kept for another run (or mode) is dropped first. */
async function carryFor(carry: PageCarry | undefined, run: SyncRunRow): Promise<PageCarry | undefined> {
  const key = JSON.stringify([run.id, run.mode]);
  if (carry && carry.key !== key) {
    await dropCarry(carry);
    carry.key = key;
    carry.counted = null;
  }
  return carry;
}

/** The closing-reference query of each listed page, started when the page arrived (the page may be carried into the next step). */
const closingAsks = new WeakMap<IssuePage, Promise<Map<number, ClosingIssueRef[]>>>();

/**
 * Reads up to PAGES_PER_STEP pages of the issue listing through the one listing loop
 * (listing-loop.ts). True when the listing (and, for full runs, probing) is complete. The chain of
 * requests goes on in `carry` between steps of the same run.
 */
async function listStep(ctx: SyncContext, run: SyncRunRow, cp: Checkpoint, counts: RunCounts, carry?: PageCarry): Promise<boolean> {
  const settings = settingsOf(ctx.project);
  const filter = scopeListFilter(settings.scope, settings.fieldMaps);
  const askedInStep = new Map<number, string>();
  const kept = await carryFor(carry, run);
  const complete = await listPages<IssuePage>(
    {
      ordered: ctx.tracker.orderedByUpdate,
      pageSize: ctx.tracker.pageSize,
      storedEtag: run.mode === "incremental" ? ctx.project.cursorEtag : null,
      items: (page) => page.issues,
      fetch: async (at, etag, onHead) => {
        const page = await ctx.tracker.listPage({ since: at.since, url: at.url, etag, onHead, filter });
        // The page's closing-reference query (GitHub) goes out as soon as the page arrives, so its
        // answer is there when the page's turn to be written comes (the pages before may still be
        // writing). Its failure (a 429) is handled now and thrown where the page is applied.
        // A PR an earlier page of this step listed as it is here (the keyset's repeated boundary
        // item) is asked once: that page is written first.
        const fresh = (page.pullRequests ?? []).filter((pr) => askedInStep.get(pr.number) !== (pr.updatedAt ?? ""));
        for (const pr of fresh) askedInStep.set(pr.number, pr.updatedAt ?? "");
        const asked = askClosingReferences(ctx, fresh);
        asked.catch(() => undefined);
        closingAsks.set(page, asked);
        return page;
      },
      keep: kept?.issues,
      received: () => void counts.pages++,
      apply: async (page) => {
        counts.fetched += page.issues.length;
        const pulls = readClosingReferences(ctx, page.pullRequests ?? [], closingAsks.get(page));
        // Its failure (a 429) may come while the issues are written: handled now, thrown where awaited.
        pulls.catch(() => undefined);
        try {
          if (page.issues.length > 0) {
            const applied = await applySnapshots(ctx, page.issues, "listing", run.mode === "full" ? { seenByRun: run.id } : {});
            counts.created += applied.created;
            counts.updated += applied.updated;
            counts.unchanged += applied.unchanged;
            counts.conflicts += applied.conflicts;
            counts.pushed += applied.pushQueued;
            counts.orphaned += applied.orphaned;
            // Written rows were marked in their write; only skipped ones still need it.
            if (run.mode === "full" && applied.notMarkedSeen.length > 0) await markSeen(ctx.db, ctx.project.id, run.id, applied.notMarkedSeen);
          }
        } catch (err) {
          // No tracker request outlives the step.
          await pulls.catch(() => undefined);
          throw err;
        }
        // Pull requests the listing carries (GitHub) keep their development links current.
        await applyPullRequests(ctx, await pulls);
      },
    },
    cp,
    PAGES_PER_STEP,
  );
  if (!complete) return false;
  if (run.mode === "full") {
    cp.phase = "probe";
    return false;
  }
  return true;
}

/**
 * Full runs only, after a complete listing: linked local issues the listing did not contain are
 * probed one by one; only a tracker answer of deleted or moved applies the deletion policy, so a
 * partial listing can never orphan anything.
 */
async function probeStep(ctx: SyncContext, run: SyncRunRow, cp: Checkpoint, counts: RunCounts): Promise<boolean> {
  const missing = await listUnseenLinked(ctx.db, ctx.project.id, run.id, { afterId: cp.probeAfterId, limit: PROBES_PER_STEP });
  for (const local of missing) {
    const lookup = await ctx.tracker.getIssue(local.externalNumber!);
    if (lookup.status === "found" && lookup.issue.externalId !== local.externalId) {
      // The number holds another issue now: ours is gone from it (never merged into another's).
      const outcome = await applyGone(ctx, local, { status: "deleted" });
      if (outcome === "orphaned" || outcome === "deleted") counts.orphaned++;
      if (outcome === "recreated") counts.pushed++;
    } else if (lookup.status === "found") {
      // Listed late (changed while we paged) or filtered from the listing: merge what it is now.
      const applied = await applySnapshots(ctx, [lookup.issue]);
      counts.updated += applied.updated;
      counts.unchanged += applied.unchanged;
      counts.conflicts += applied.conflicts;
      counts.pushed += applied.pushQueued;
    } else if (lookup.status === "no_access" || lookup.status === "access_lost") {
      // 403, or 404 with the repository itself unreadable: nothing is proven gone.
      log.info("probe: no access to issue; left as is", { projectId: ctx.project.id, issueId: local.id, status: lookup.status });
    } else {
      const outcome = await applyGone(ctx, local, lookup.status === "moved" ? { status: "moved", movedTo: lookup.movedTo } : { status: "deleted" });
      if (outcome === "orphaned" || outcome === "deleted") counts.orphaned++;
      if (outcome === "recreated") counts.pushed++;
    }
    cp.probeAfterId = local.id;
  }
  return missing.length < PROBES_PER_STEP;
}

/**
 * The pull request phase (trackers with a PR listing of their own: GitLab merge requests, Gitea
 * pulls) through the one listing loop, one page a step, from its own cursor (full runs: from the
 * beginning). Complete: that cursor moves on and any earlier failure of the phase is cleared.
 * Each tracker's PR listing is ordered as its issue listing is (GitLab by updated_at ascending,
 * Gitea newest first: unordered for the loop).
 */
async function pullRequestStep(ctx: SyncContext, run: SyncRunRow, cp: Checkpoint): Promise<boolean> {
  const list = ctx.tracker.listPullRequestsPage?.bind(ctx.tracker);
  if (!list) return true;
  // A checkpoint written before the phase had a listing of its own restarts the phase.
  if (typeof cp.pulls?.firstRequest !== "boolean") cp.pulls = initialListing(sinceOf(run.mode, ctx.project.pullRequestCursor));
  const pulls = cp.pulls!;
  const complete = await listPages<PullRequestPage>(
    {
      ordered: ctx.tracker.orderedByUpdate,
      pageSize: ctx.tracker.pageSize,
      storedEtag: null,
      items: (page) => page.pullRequests.flatMap((pr) => (pr.updatedAt ? [{ externalId: pr.externalId, updatedAt: pr.updatedAt }] : [])),
      fetch: (at, _etag, onHead) => list({ since: at.since, url: at.url, onHead }),
      apply: async (page) => {
        await applyPullRequests(ctx, await readClosingReferences(ctx, page.pullRequests));
      },
    },
    pulls,
    PULL_REQUEST_PAGES_PER_STEP,
  );
  if (!complete) return false;
  // As for issues: ordered, the highest updated_at stored; unordered, the listing's start if it listed anything.
  const advancedTo = ctx.tracker.orderedByUpdate ? pulls.highWater : pulls.highWater ? pulls.listingStartedAt : null;
  await storePullRequestCursor(ctx.db, ctx.project.id, cappedCursor(advancedTo, pulls) ?? ctx.project.pullRequestCursor);
  return true;
}

/**
 * The comment phase runs as its own step kind, with its own checkpoint and cursor. A per-issue walk
 * (GitLab) reads notes after the issue listing began: that instant, on the tracker's clock, bounds
 * what it has seen.
 */
async function commentPhaseStep(ctx: SyncContext, run: SyncRunRow, cp: Checkpoint, carry: PageCarry | undefined): Promise<boolean> {
  cp.comments ??= { ...initialCommentCheckpoint(run.mode, ctx.project.commentCursor, ctx.tracker.repositoryWideComments), ...(ctx.tracker.repositoryWideComments ? {} : { listingStartedAt: cp.listingStartedAt }) };
  return commentStep(ctx, run, cp.comments, (await carryFor(carry, run))?.comments);
}

/**
 * The issue phase is complete: its cursor is stored now, before the comment phase runs. Ordered
 * trackers: everything up to the highest updated_at stored is stored. Unordered: everything changed
 * before the listing began was listed.
 */
async function storeIssuePhaseCursor(ctx: SyncContext, cp: Checkpoint): Promise<void> {
  if (cp.issueCursor) return;
  const advancedTo = ctx.tracker.orderedByUpdate ? cp.highWater : cp.highWater ? cp.listingStartedAt : null;
  const cursor = maxIso(ctx.project.cursor, cappedCursor(advancedTo, cp));
  // The stored ETag belongs to the request that starts from this cursor; a moved cursor changes the URL.
  cp.issueCursor = { cursor, etag: cursor === ctx.project.cursor ? cp.firstPageEtag : null };
  await storeIssueCursor(ctx.db, ctx.project.id, cp.issueCursor.cursor, cp.issueCursor.etag);
}

async function finishRun(ctx: SyncContext, run: SyncRunRow, cp: Checkpoint, counts: RunCounts, startedAt: string, now: () => number): Promise<void> {
  const finishedAt = nowIso(now());
  await storeIssuePhaseCursor(ctx, cp);
  await recordRunSucceeded(ctx.db, {
    runId: run.id,
    projectId: ctx.project.id,
    mode: run.mode,
    counts,
    startedAt,
    finishedAt,
    cursor: cp.issueCursor!.cursor,
    cursorEtag: cp.issueCursor!.etag,
    ...totalOf(cp),
  });
  log.info("sync run succeeded", { projectId: ctx.project.id, runId: run.id, mode: run.mode });
}

async function failRun(db: Database, run: SyncRunRow, projectId: string, error: string, status: number | null = null): Promise<void> {
  const finishedAt = nowIso();
  // A refused credential is its own kind: the operator must act (new token, restored access).
  const kind = status === 401 || status === 403 ? "access.failed" : "sync.failed";
  const origin = { source: run.mode === "full" ? ("full" as const) : ("poll" as const), runId: run.id };
  await recordRunFailed(db, { runId: run.id, projectId, error, finishedAt }, [
    { projectId, kind, origin, createdAt: finishedAt, detail: `${run.mode} run failed${status ? ` (HTTP ${status})` : ""}: ${error}` },
  ]);
  log.info("sync run failed", { projectId, runId: run.id, error });
}

/** 401: the credentials were refused: every phase is stuck, and the run's failure says so (access lost). */
function isCredentialRefusal(err: unknown): boolean {
  return err instanceof TrackerError && err.status === 401;
}

/** The run's `total` column once the listing's first page said (or did not say) it. */
function totalOf(cp: Checkpoint): { total?: number | null } {
  return cp.total !== undefined ? { total: cp.total } : {};
}

function maxIso(a: string | null, b: string | null): string | null {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}
