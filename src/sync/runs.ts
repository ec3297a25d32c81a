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
import { database, type Database } from "../db/client";
import { listUnseenLinked, markSeen } from "../db/issues";
import { getProject } from "../db/projects";
import type { SyncRunRow } from "../db/schema";
import { getActiveRun, insertRun, recordRunFailed, recordRunSucceeded, recordStep, zeroCounts, type RunCounts } from "../db/sync-runs";
import type { Env } from "../env";
import { ConfigurationError, NotFound, ProjectPaused, StateConflict } from "../errors";
import { newId, nowIso } from "../ids";
import { errorText, log } from "../log";
import { RateLimitedError, TrackerError, type IssuePage, type IssuePageHead } from "../providers/types";
import { applySnapshots } from "./apply-snapshots";
import { applyPullRequest } from "./pull-requests";
import { loadSyncContext, type SyncContext } from "./context";
import { openCredential, refreshTokenExpiry } from "./credentials";
import { commentStep, initialCommentCheckpoint, type CommentCheckpoint } from "./comments-run";
import { applyGone } from "./deletion";
import { recordRepositoryObservation } from "./repository";
import { advanceListing, cappedCursor, needsItems, type ListingPosition } from "./listing-block";

export type RunMode = "incremental" | "full";
export type RunTrigger = "cron" | "api" | "webhook" | "resume";

/** Re-read this much before the cursor: tracker clocks and replication lag are not exact. */
export const OVERLAP_MS = 2 * 60_000;
/**
 * Per step (one alarm invocation) the budget is 50 subrequests on the free plan: a page costs one
 * tracker request and 4–5 D1 queries, a probe one request and up to 3 queries, plus ~4 for the run.
 */
const PAGES_PER_STEP = 5;
const PROBES_PER_STEP = 10;
/** Consecutive failed steps (5xx / network after the tracker client's own retries) before a run fails. */
const MAX_STEP_FAILURES = 5;

interface Checkpoint extends ListingPosition {
  /** "comments": the comment phase (sync/comments-run.ts), after the issue listing and probes. */
  phase: "list" | "probe" | "comments" | "pulls";
  comments?: CommentCheckpoint;
  /** Pull request phase (GitLab, Gitea: their issue listings carry no PRs). */
  pulls?: PullRequestCheckpoint;
  /** Keyset position for ordered trackers; the fixed `since` for unordered ones. */
  since: string | null;
  /** A `Link` next URL to follow verbatim, when set. */
  nextUrl: string | null;
  /** Highest `updated_at` stored by this run. */
  highWater: string | null;
  /** The tracker's clock (or ours, minus the overlap) when the run's listing began. */
  listingStartedAt: string | null;
  /** True while the next request is the run's first: the only one that may use the stored ETag. */
  firstRequest: boolean;
  /** ETag of the first page, kept when that page held the whole change set. */
  firstPageEtag: string | null;
  /** Probe phase: keyset over local issue ids. */
  probeAfterId: string | null;
  failures: number;
  /** Items the tracker says the listing holds (its first page's count header); null when it gives none. */
  total?: number | null;
}

function initialCheckpoint(mode: RunMode, cursor: string | null): Checkpoint {
  const since = mode === "incremental" && cursor ? new Date(Date.parse(cursor) - OVERLAP_MS).toISOString() : null;
  return { phase: "list", since, nextUrl: null, highWater: null, listingStartedAt: null, firstRequest: true, firstPageEtag: null, probeAfterId: null, failures: 0 };
}

/**
 * Starts a run for the project or joins the active one. A full request upgrades an active
 * incremental run: its listing restarts from the beginning, its counters are kept.
 */
export async function requestRun(env: Env, projectId: string, mode: RunMode, trigger: RunTrigger): Promise<{ runId: string; joined: boolean }> {
  const db = database(env.DB);
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
  const db = database(env.DB);
  const run = await getActiveRun(db, projectId);
  if (!run) return { nextStepAt: null };
  if (run.resumeAt && Date.parse(run.resumeAt) > now()) return { nextStepAt: run.resumeAt };

  // A page fetched ahead by the previous step is still the one request in flight: let it land before
  // this step makes any other call to the tracker (one project's tracker calls never overlap).
  await carry?.held?.page.catch(() => undefined);
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
            ? await commentPhaseStep(ctx, run, checkpoint)
            : await pullRequestStep(ctx, run, checkpoint);
    if (done && checkpoint.phase !== "comments" && checkpoint.phase !== "pulls") {
      checkpoint.phase = "comments";
      done = false;
    } else if (done && checkpoint.phase === "comments" && ctx.tracker.listPullRequestsPage) {
      checkpoint.phase = "pulls";
      done = false;
    }
    checkpoint.failures = 0;
    counts.requests = ctx.tracker.requestCount;
    if (!done) {
      await recordStep(db, run.id, counts, { status: "running", startedAt, checkpoint: JSON.stringify(checkpoint), resumeAt: null, ...totalOf(checkpoint) });
      return { nextStepAt: nowIso(now()) };
    }
    await finishRun(ctx, run, checkpoint, counts, startedAt, now);
    return { nextStepAt: null };
  } catch (err) {
    counts.requests = ctx.tracker.requestCount;
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
    await recordStep(db, run.id, counts, { startedAt });
    await failRun(db, run, projectId, message, err instanceof TrackerError ? err.status : null);
    return { nextStepAt: null };
  }
}

/**
 * A listing request fetched ahead of the step that applies it. The Durable Object keeps at most one
 * between alarm invocations (memory only): the next step uses it when its checkpoint asks for
 * exactly this request, else drops it. After an eviction or crash it is simply gone and the page is
 * fetched again: nothing about it is durable, and the checkpoint never points past an unapplied page.
 */
export interface PageCarry {
  held: { key: string; page: Promise<IssuePage> } | null;
}

/** Where the listing stands: the parameters of the next page request. */
interface PagePosition {
  since: string | null;
  url: string | null;
}

function carryKey(run: SyncRunRow, at: PagePosition): string {
  return JSON.stringify([run.id, run.mode, at.since, at.url]);
}

/** A page request in flight: its head as soon as the adapter read the raw answer, its page when normalised. */
interface StartedPage {
  head: Promise<IssuePageHead>;
  page: Promise<IssuePage>;
}

function headOf(page: IssuePage): IssuePageHead {
  const { issues: _issues, ...head } = page;
  return head;
}

/** Starts a page request now; the rejections are observed later by whoever awaits them. */
function startPage(ctx: SyncContext, at: PagePosition, etag: string | null): StartedPage {
  let announce: (head: IssuePageHead) => void = () => undefined;
  const early = new Promise<IssuePageHead>((resolve) => (announce = resolve));
  const page = ctx.tracker.listPage({ since: at.since, url: at.url, etag, onHead: (head) => announce(head) });
  page.catch(() => undefined); // awaited (or deliberately dropped) later; never an unhandled rejection
  // An adapter that announces no head (or a 304) gives it with the finished page.
  const head = Promise.race([early, page.then(headOf)]);
  head.catch(() => undefined);
  return { head, page };
}

function settledPage(page: IssuePage): StartedPage {
  return { head: Promise.resolve(headOf(page)), page: Promise.resolve(page) };
}

/** The carried page for `at`, if the previous step fetched exactly that; a failed carry is re-fetched. */
async function takeCarried(carry: PageCarry | undefined, key: string): Promise<IssuePage | null> {
  const held = carry?.held ?? null;
  if (carry) carry.held = null;
  if (!held || held.key !== key) return null;
  try {
    return await held.page;
  } catch (err) {
    // A rate limit is real news about the tracker; anything else (e.g. I/O cancelled with the
    // previous invocation) only costs the request again.
    if (err instanceof RateLimitedError) throw err;
    return null;
  }
}

/**
 * Where the listing goes after `page`, known as soon as the page arrives (before it is applied), or
 * null when it was the last page.
 */

/**
 * Reads up to PAGES_PER_STEP pages. True when the listing (and, for full runs, probing) is complete.
 *
 * Pipelined: the request for page k+1 is started as soon as page k's raw answer says where it is (its
 * head: `Link`, last raw `updated_at`; inside a same-second block, once its items are read) and runs
 * while page k is validated, normalised, merged and written; the checkpoint (`cp.since` / `cp.nextUrl`) moves past page k only after its
 * writes completed. The last page of a step starts the next step's first request into `carry`.
 * Every request started is one the serial loop would make too: nothing is fetched past the end.
 */
async function listStep(ctx: SyncContext, run: SyncRunRow, cp: Checkpoint, counts: RunCounts, carry?: PageCarry): Promise<boolean> {
  const ordered = ctx.tracker.orderedByUpdate;
  const useEtag = cp.firstRequest && run.mode === "incremental" && ctx.project.cursorEtag !== null;
  const first: PagePosition = { since: cp.since, url: cp.nextUrl };
  const carried = useEtag ? null : await takeCarried(carry, carryKey(run, first));
  let pending: StartedPage = carried ? settledPage(carried) : startPage(ctx, first, useEtag ? ctx.project.cursorEtag : null);
  for (let i = 0; i < PAGES_PER_STEP; i++) {
    // Where the listing goes after this page (same-second block re-reads included), decided from the
    // page's raw head when that suffices — before its items are validated and normalised — so the
    // next request overlaps this page's normalisation and write; the checkpoint takes it after.
    const head = await pending.head;
    const after: ListingPosition = structuredClone({ since: cp.since, nextUrl: cp.nextUrl, block: cp.block ?? null, cursorCap: cp.cursorCap ?? null });
    const advance = (from: IssuePage) => {
      const next: PagePosition | null = advanceListing(after, from, ordered) ? { since: after.since, url: after.nextUrl } : null;
      // The step's last page starts the next request only if something will keep it (no wasted request).
      const ahead = next && (i < PAGES_PER_STEP - 1 || carry) ? startPage(ctx, next, null) : null;
      return { next, ahead };
    };
    // The items are not read on this path (needsItems): the head stands for the page.
    let moved = needsItems(after, head, ordered) ? null : advance({ ...head, issues: [] });
    let page: IssuePage;
    try {
      page = await pending.page;
    } catch (err) {
      await moved?.ahead?.page.catch(() => undefined);
      throw err;
    }
    counts.pages++;
    if (cp.firstRequest) {
      cp.listingStartedAt = page.serverTime ?? nowIso(Date.now() - OVERLAP_MS);
      // The ETag can stand for "nothing changed" only if this page held every change: a new change
      // sorts last, so it would land on a later page and leave a full first page unchanged.
      cp.firstPageEtag = page.etag && page.nextUrl === null && page.rawCount < ctx.tracker.pageSize ? page.etag : null;
      cp.firstRequest = false;
      // The progress bar's denominator: what the tracker counts for this listing, if it counts.
      cp.total = page.total ?? null;
    }
    if (page.notModified) {
      cp.firstPageEtag = ctx.project.cursorEtag;
      cp.nextUrl = null;
      break;
    }
    moved ??= advance(page);
    const { next, ahead } = moved;
    try {
      counts.fetched += page.issues.length;
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
        for (const s of page.issues) if (!cp.highWater || s.updatedAt > cp.highWater) cp.highWater = s.updatedAt;
      }
      // Pull requests the listing carries (GitHub) keep their development links current.
      for (const pr of page.pullRequests ?? []) await applyPullRequest(ctx, pr);
    } catch (err) {
      // Let the request in flight finish before the step ends: no tracker traffic outlives it.
      await ahead?.page.catch(() => undefined);
      throw err;
    }
    // Page k is written: only now may the checkpoint move past it (block re-read state included).
    Object.assign(cp, after);
    if (!next) break;
    if (!ahead) return false;
    if (i === PAGES_PER_STEP - 1) {
      if (carry) carry.held = { key: carryKey(run, next), page: ahead.page };
      return false;
    }
    pending = ahead;
  }
  if (cp.nextUrl !== null) return false;
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

interface PullRequestCheckpoint {
  since: string | null;
  url: string | null;
}

/**
 * The pull request phase (trackers with a PR listing of their own): PRs changed since the run's
 * starting cursor, a few pages a step. A failure other than a rate limit ends the phase (logged):
 * development links must never fail the issue sync they ride on.
 */
async function pullRequestStep(ctx: SyncContext, run: SyncRunRow, cp: Checkpoint): Promise<boolean> {
  const list = ctx.tracker.listPullRequestsPage?.bind(ctx.tracker);
  if (!list) return true;
  cp.pulls ??= { since: initialCheckpoint(run.mode, ctx.project.cursor).since, url: null };
  try {
    for (let i = 0; i < PAGES_PER_STEP; i++) {
      const page = await list({ since: cp.pulls.since, url: cp.pulls.url });
      for (const pr of page.pullRequests) await applyPullRequest(ctx, pr);
      cp.pulls.url = page.nextUrl;
      if (page.nextUrl === null) return true;
    }
    return false;
  } catch (err) {
    if (err instanceof RateLimitedError) throw err;
    log.info("pull request listing failed; development links wait for the next run", { projectId: ctx.project.id, runId: run.id, error: errorText(err) });
    return true;
  }
}

/** The comment phase runs as its own step kind, with its own checkpoint and cursor. */
async function commentPhaseStep(ctx: SyncContext, run: SyncRunRow, cp: Checkpoint): Promise<boolean> {
  cp.comments ??= initialCommentCheckpoint(run.mode, ctx.project.commentCursor, ctx.tracker.repositoryWideComments);
  return commentStep(ctx, run, cp.comments);
}

async function finishRun(ctx: SyncContext, run: SyncRunRow, cp: Checkpoint, counts: RunCounts, startedAt: string, now: () => number): Promise<void> {
  const finishedAt = nowIso(now());
  // Ordered trackers: everything up to the highest updated_at stored is stored. Unordered: everything
  // changed before the listing began was listed.
  const advancedTo = ctx.tracker.orderedByUpdate ? cp.highWater : cp.highWater ? cp.listingStartedAt : null;
  const cursor = maxIso(ctx.project.cursor, cappedCursor(advancedTo, cp));
  await recordRunSucceeded(ctx.db, {
    runId: run.id,
    projectId: ctx.project.id,
    mode: run.mode,
    counts,
    startedAt,
    finishedAt,
    cursor,
    // The stored ETag belongs to the request that starts from this cursor; a moved cursor changes the URL.
    cursorEtag: cursor === ctx.project.cursor ? cp.firstPageEtag : null,
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

/** The run's `total` column once the listing's first page said (or did not say) it. */
function totalOf(cp: Checkpoint): { total?: number | null } {
  return cp.total !== undefined ? { total: cp.total } : {};
}

function maxIso(a: string | null, b: string | null): string | null {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}
