/**
 * The comment phase of a sync run: a separate step kind that runs after the issue listing (and,
 * for full runs, the probes), in bounded steps that checkpoint like the rest of the run.
 *
 * - GitHub and Gitea: one repository-wide listing of comments changed since the comment cursor
 *   (minus the overlap). GitHub sorts by `updated_at`, so pages are read as a keyset scan like
 *   issues, and an idle run costs one conditional request answered 304 (free). Gitea orders by
 *   creation and pages without `Link` (only `X-Total-Count`): every page is read and the cursor
 *   becomes its clock at the start of the listing. Both go through the one listing loop.
 *   A full run lists everything; afterwards live linked comments the listing did not contain (on
 *   live issues, older than the listing) are each asked for: deleted only with proof.
 * - GitLab: no repository-wide listing. The notes of each issue whose tracker copy changed since
 *   the comment cursor (minus a minute: ThrottledTouch) are read (a note touches its issue's
 *   `updated_at`, and the issue phase just stored those); a full run reads every linked issue's
 *   notes. A local comment missing from the list is asked for: deleted only with proof.
 * - Last, comments that were waiting for their issue are applied if the issue arrived.
 */
import {
  listIssuesChangedSince,
  listLinkedCommentsOfIssue,
  listUnseenLinkedComments,
  storeCommentCursor,
} from "../db/comments";
import { getIssue } from "../db/issues";
import type { CommentRow, SyncRunRow } from "../db/schema";
import { nowIso } from "../ids";
import type { CanonicalComment, CommentPage } from "../providers/types";
import { applyCommentDeletions, applyComments, applyWaitingComments } from "./comments";
import type { SyncContext } from "./context";
import { proveCommentGone } from "./deletion";
import { cappedCursor } from "./listing-block";
import { initialListing, listPages, OVERLAP_MS, type ListingCheckpoint, type PageChain } from "./listing-loop";

export interface CommentCheckpoint extends ListingCheckpoint {
  stage: "list" | "deletions" | "waiting";
  /** Keyset over local ids (GitLab issues; deletion candidates). */
  afterId: string | null;
}

const PAGES_PER_STEP = 5;
const ISSUES_PER_STEP = 10;
/** Pages of one issue's notes read in one go (100 a page: far beyond any real issue's notes). */
const MAX_NOTE_PAGES = 1000;
/** Deletion candidates per step: each costs up to two tracker requests (its proof). */
const DELETIONS_PER_STEP = 10;
/**
 * GitLab's ThrottledTouch: a note written within a minute of its issue's last update does not move
 * the issue's `updated_at` (app/models/concerns/throttled_touch.rb, TOUCH_INTERVAL = 1.minute), so
 * the per-issue walk starts this much before the cursor.
 */
export const THROTTLED_TOUCH_MS = 60_000;

/**
 * `repositoryWide`: the since of a tracker listing re-reads an overlap window (tracker clocks). The
 * per-issue walk (GitLab) compares stored `updated_at`s, and re-reads the issues changed in the
 * minute before the cursor (ThrottledTouch).
 */
export function initialCommentCheckpoint(mode: "incremental" | "full", cursor: string | null, repositoryWide = true): CommentCheckpoint {
  const since = mode === "incremental" && cursor ? new Date(Date.parse(cursor) - (repositoryWide ? OVERLAP_MS : THROTTLED_TOUCH_MS)).toISOString() : null;
  return { stage: "list", ...initialListing(since), afterId: null };
}

/** One bounded step of the comment phase. True when the phase is complete (and the cursor stored). */
export async function commentStep(ctx: SyncContext, run: SyncRunRow, cp: CommentCheckpoint, keep?: { chain: PageChain<CommentPage> | null }): Promise<boolean> {
  if (cp.stage === "list") {
    const listed = ctx.tracker.repositoryWideComments ? await listRepositoryStep(ctx, run, cp, keep) : await listPerIssueStep(ctx, run, cp);
    if (!listed) return false;
    cp.stage = run.mode === "full" && ctx.tracker.repositoryWideComments ? "deletions" : "waiting";
    cp.afterId = null;
    return false;
  }
  if (cp.stage === "deletions") {
    const unseen = await listUnseenLinkedComments(ctx.db, ctx.project.id, run.id, { afterId: cp.afterId, limit: DELETIONS_PER_STEP });
    // Only comments the tracker had before the listing began: one pushed meanwhile was not listable.
    const candidates = unseen.filter((c) => cp.listingStartedAt !== null && c.externalUpdatedAt !== null && c.externalUpdatedAt < cp.listingStartedAt);
    await applyProvenDeletions(ctx, candidates);
    cp.afterId = unseen.at(-1)?.id ?? cp.afterId;
    if (unseen.length === DELETIONS_PER_STEP) return false;
    cp.stage = "waiting";
    return false;
  }
  await applyWaitingComments(ctx);
  await finishComments(ctx, run, cp);
  return true;
}

/**
 * Up to PAGES_PER_STEP pages of the repository-wide listing, through the one listing loop
 * (listing-loop.ts): pipelined, checkpointed, same-second blocks re-read, and the next page found
 * from `Link` or, on Gitea, from `X-Total-Count` alone.
 */
async function listRepositoryStep(ctx: SyncContext, run: SyncRunRow, cp: CommentCheckpoint, keep?: { chain: PageChain<CommentPage> | null }): Promise<boolean> {
  return listPages<CommentPage>(
    {
      ordered: ctx.tracker.commentsOrderedByUpdate,
      pageSize: ctx.tracker.pageSize,
      storedEtag: run.mode === "incremental" ? ctx.project.commentCursorEtag : null,
      items: (page) => page.comments,
      fetch: (at, etag, onHead) => ctx.tracker.listCommentsPage({ since: at.since, url: at.url, etag, onHead }),
      keep,
      apply: async (page) => {
        if (page.comments.length > 0) await applyComments(ctx, page.comments, run.mode === "full" ? run.id : null, { markSeen: true });
      },
    },
    cp,
    PAGES_PER_STEP,
  );
}

async function listPerIssueStep(ctx: SyncContext, run: SyncRunRow, cp: CommentCheckpoint): Promise<boolean> {
  cp.listingStartedAt ??= nowIso(Date.now() - OVERLAP_MS);
  const changed = await listIssuesChangedSince(ctx.db, ctx.project.id, cp.since, { afterId: cp.afterId, limit: ISSUES_PER_STEP });
  for (const issue of changed) {
    const listed = await listIssueNotes(ctx, run, issue.externalNumber!);
    if (listed !== null) {
      const local = await listLinkedCommentsOfIssue(ctx.db, issue.id);
      // Absent from the issue's list is no proof (a page may have shifted while read): each one
      // is asked for by itself.
      await applyProvenDeletions(ctx, local.filter((c) => !listed.has(c.externalId!)));
    }
    if (issue.externalUpdatedAt && (!cp.highWater || issue.externalUpdatedAt > cp.highWater)) cp.highWater = issue.externalUpdatedAt;
    cp.afterId = issue.id;
  }
  return changed.length < ISSUES_PER_STEP;
}

/** The issue's notes answered 404 (the issue is gone or unreadable): its own handling decides. */
class IssueNotListable extends Error {}

/**
 * Every note of one issue through the one listing loop (listing-loop.ts), in created order (stable
 * while read: an edit does not move a note), pages pipelined and written as they arrive. Returns
 * the external ids listed, or null when the issue answered 404.
 */
async function listIssueNotes(ctx: SyncContext, run: SyncRunRow, issueNumber: number): Promise<Set<string> | null> {
  const listed = new Set<string>();
  const cp = initialListing(null);
  try {
    await listPages<CommentPage>(
      {
        ordered: false,
        pageSize: ctx.tracker.pageSize,
        storedEtag: null,
        items: (page) => page.comments,
        fetch: async (at, _etag, onHead) => {
          const page = await ctx.tracker.listIssueCommentsPage(issueNumber, { url: at.url, onHead });
          if (page === null) throw new IssueNotListable();
          return page;
        },
        apply: async (page) => {
          for (const c of page.comments) listed.add(c.externalId);
          if (page.comments.length > 0) await applyComments(ctx, page.comments, run.mode === "full" ? run.id : null);
        },
      },
      cp,
      MAX_NOTE_PAGES,
    );
  } catch (err) {
    if (err instanceof IssueNotListable) return null;
    throw err;
  }
  return listed;
}

/**
 * Linked comments a listing did not show: deleted only with proof (deletion.ts) — the comment
 * answers 404 while its issue reads fine. One the tracker still has is merged as it is now.
 */
async function applyProvenDeletions(ctx: SyncContext, candidates: readonly CommentRow[]): Promise<void> {
  if (candidates.length === 0) return;
  const ids = [...new Set(candidates.map((c) => c.issueId))];
  const rows = await Promise.all(ids.map((id) => getIssue(ctx.db, ctx.project.id, id)));
  const issues = new Map(ids.map((id, i) => [id, rows[i]]));
  const gone: CommentRow[] = [];
  const present: CanonicalComment[] = [];
  for (const c of candidates) {
    const issue = issues.get(c.issueId);
    if (!issue || issue.deletedAt !== null || issue.syncState === "orphaned") continue;
    const proof = await proveCommentGone(ctx, issue, c.externalId!);
    if (proof.status === "gone") gone.push(c);
    else if (proof.status === "present") present.push(proof.copy);
  }
  if (present.length > 0) await applyComments(ctx, present);
  await applyCommentDeletions(ctx, gone);
}

/**
 * The comment cursor. A repository-wide listing: as for issues (ordered: the highest `updated_at`
 * stored; unordered: the listing's start, if it listed anything). The per-issue walk read the notes
 * of every issue changed since its `since`, after the issue listing began: that start is the cursor
 * (the next walk goes back a minute from it, for ThrottledTouch), so an idle walk moves it on.
 */
async function finishComments(ctx: SyncContext, run: SyncRunRow, cp: CommentCheckpoint): Promise<void> {
  const current = ctx.project.commentCursor;
  const wide = ctx.tracker.repositoryWideComments;
  const advancedTo = !wide ? cp.listingStartedAt : cappedCursor(ctx.tracker.commentsOrderedByUpdate ? cp.highWater : cp.highWater ? cp.listingStartedAt : null, cp);
  const cursor = !current ? advancedTo : advancedTo && advancedTo > current ? advancedTo : current;
  const etag = ctx.tracker.repositoryWideComments && cursor === current ? cp.firstPageEtag : null;
  await storeCommentCursor(ctx.db, ctx.project.id, cursor, etag);
}
