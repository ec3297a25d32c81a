/**
 * The comment phase of a sync run: a separate step kind that runs after the issue listing (and,
 * for full runs, the probes), in bounded steps that checkpoint like the rest of the run.
 *
 * - GitHub and Gitea: one repository-wide listing of comments changed since the comment cursor
 *   (minus the overlap). GitHub sorts by `updated_at`, so pages are read as a keyset scan like
 *   issues, and an idle run costs one conditional request answered 304 (free). Gitea orders by
 *   creation: every page is read and the cursor becomes its clock at the start of the listing.
 *   A full run lists everything; afterwards live linked comments the listing did not contain (on
 *   live issues, older than the listing) were deleted on the tracker.
 * - GitLab: no repository-wide listing. The notes of each issue whose tracker copy changed since
 *   the comment cursor are read (a note touches its issue's `updated_at`, and the issue phase just
 *   stored those); a full run reads every linked issue's notes. Each read is the issue's complete
 *   list, so local comments missing from it were deleted.
 * - Last, comments that were waiting for their issue are applied if the issue arrived.
 */
import {
  listIssuesChangedSince,
  listLinkedCommentsOfIssue,
  listUnseenLinkedComments,
  storeCommentCursor,
} from "../db/comments";
import type { SyncRunRow } from "../db/schema";
import type { CommentPage, IssuePageHead } from "../providers/types";
import { nowIso } from "../ids";
import { applyCommentDeletions, applyComments, applyWaitingComments } from "./comments";
import type { SyncContext } from "./context";

export interface CommentCheckpoint {
  stage: "list" | "deletions" | "waiting";
  since: string | null;
  nextUrl: string | null;
  highWater: string | null;
  listingStartedAt: string | null;
  firstRequest: boolean;
  firstPageEtag: string | null;
  /** Keyset over local ids (GitLab issues; deletion candidates). */
  afterId: string | null;
}

const PAGES_PER_STEP = 5;
const ISSUES_PER_STEP = 10;
const DELETIONS_PER_STEP = 100;
const OVERLAP_MS = 2 * 60_000;

/**
 * `repositoryWide`: the since of a tracker listing re-reads an overlap window (tracker clocks). The
 * per-issue walk (GitLab) compares stored `updated_at`s, so it starts strictly after the cursor.
 */
export function initialCommentCheckpoint(mode: "incremental" | "full", cursor: string | null, repositoryWide = true): CommentCheckpoint {
  const since = mode === "incremental" && cursor ? (repositoryWide ? new Date(Date.parse(cursor) - OVERLAP_MS).toISOString() : cursor) : null;
  return { stage: "list", since, nextUrl: null, highWater: null, listingStartedAt: null, firstRequest: true, firstPageEtag: null, afterId: null };
}

/** One bounded step of the comment phase. True when the phase is complete (and the cursor stored). */
export async function commentStep(ctx: SyncContext, run: SyncRunRow, cp: CommentCheckpoint): Promise<boolean> {
  if (cp.stage === "list") {
    const listed = ctx.tracker.repositoryWideComments ? await listRepositoryStep(ctx, run, cp) : await listPerIssueStep(ctx, run, cp);
    if (!listed) return false;
    cp.stage = run.mode === "full" && ctx.tracker.repositoryWideComments ? "deletions" : "waiting";
    cp.afterId = null;
    return false;
  }
  if (cp.stage === "deletions") {
    const unseen = await listUnseenLinkedComments(ctx.db, ctx.project.id, run.id, { afterId: cp.afterId, limit: DELETIONS_PER_STEP });
    // Only comments the tracker had before the listing began: one pushed meanwhile was not listable.
    const gone = unseen.filter((c) => cp.listingStartedAt !== null && c.externalUpdatedAt !== null && c.externalUpdatedAt < cp.listingStartedAt);
    await applyCommentDeletions(ctx, gone);
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
 * Starts a comment page request now: its head (`Link`, last raw `updated_at`) as soon as the adapter
 * read the raw answer, its page once validated and normalised. Rejections are observed by whoever
 * awaits them.
 */
function startCommentPage(ctx: SyncContext, at: { since: string | null; url: string | null }, etag: string | null) {
  let announce: (head: IssuePageHead) => void = () => undefined;
  const early = new Promise<IssuePageHead>((resolve) => (announce = resolve));
  const page = ctx.tracker.listCommentsPage({ since: at.since, url: at.url, etag, onHead: (head) => announce(head) });
  page.catch(() => undefined); // awaited (or deliberately dropped) later; never an unhandled rejection
  const head: Promise<Pick<IssuePageHead, "nextUrl" | "lastUpdatedAt">> = Promise.race([early, page]);
  head.catch(() => undefined);
  return { head, page };
}

/**
 * Up to PAGES_PER_STEP pages of the repository-wide listing. Pipelined like the issue listing: the
 * request for page k+1 starts as soon as page k's raw head arrives and runs while page k is
 * validated, normalised and written; the
 * checkpoint moves past page k only after its write. The step's last page starts nothing (no request
 * outlives the step, none is wasted).
 */
async function listRepositoryStep(ctx: SyncContext, run: SyncRunRow, cp: CommentCheckpoint): Promise<boolean> {
  const ordered = ctx.tracker.commentsOrderedByUpdate;
  const useEtag = cp.firstRequest && run.mode === "incremental" && ctx.project.commentCursorEtag !== null;
  let pending = startCommentPage(ctx, { since: cp.since, url: cp.nextUrl }, useEtag ? ctx.project.commentCursorEtag : null);
  for (let i = 0; i < PAGES_PER_STEP; i++) {
    // Where the listing goes after this page, known from its raw head: the next request overlaps this
    // page's validation, normalisation and write.
    const head = await pending.head;
    const next =
      head.nextUrl === null
        ? null
        : ordered && head.lastUpdatedAt && (!cp.since || head.lastUpdatedAt > cp.since)
          ? { since: head.lastUpdatedAt, url: null }
          : { since: cp.since, url: head.nextUrl };
    const ahead = next && i < PAGES_PER_STEP - 1 ? startCommentPage(ctx, next, null) : null;
    let page: CommentPage;
    try {
      page = await pending.page;
    } catch (err) {
      await ahead?.page.catch(() => undefined);
      throw err;
    }
    if (cp.firstRequest) {
      cp.listingStartedAt = page.serverTime ?? nowIso(Date.now() - OVERLAP_MS);
      cp.firstPageEtag = page.etag && page.nextUrl === null && page.rawCount < ctx.tracker.pageSize ? page.etag : null;
      cp.firstRequest = false;
    }
    if (page.notModified) {
      cp.firstPageEtag = ctx.project.commentCursorEtag;
      cp.nextUrl = null;
      return true;
    }
    try {
      if (page.comments.length > 0) {
        await applyComments(ctx, page.comments, run.mode === "full" ? run.id : null, { markSeen: true });
        for (const c of page.comments) if (!cp.highWater || c.updatedAt > cp.highWater) cp.highWater = c.updatedAt;
      }
    } catch (err) {
      // Let the request in flight finish before the step ends: no tracker traffic outlives it.
      await ahead?.page.catch(() => undefined);
      throw err;
    }
    // Page k is written: only now does the checkpoint move past it.
    if (!next) {
      cp.nextUrl = null;
      return true;
    }
    cp.since = next.since;
    cp.nextUrl = next.url;
    if (!ahead) return false;
    pending = ahead;
  }
  return false;
}

async function listPerIssueStep(ctx: SyncContext, run: SyncRunRow, cp: CommentCheckpoint): Promise<boolean> {
  cp.listingStartedAt ??= nowIso();
  const changed = await listIssuesChangedSince(ctx.db, ctx.project.id, cp.since, { afterId: cp.afterId, limit: ISSUES_PER_STEP });
  for (const issue of changed) {
    const notes = await ctx.tracker.listIssueComments(issue.externalNumber!);
    if (notes !== null) {
      await applyComments(ctx, notes, run.mode === "full" ? run.id : null);
      const listed = new Set(notes.map((n) => n.externalId));
      const local = await listLinkedCommentsOfIssue(ctx.db, issue.id);
      // The issue's complete list, read inside this step (no push interleaves in the Durable
      // Object): a linked comment not in it was deleted on the tracker.
      await applyCommentDeletions(ctx, local.filter((c) => !listed.has(c.externalId!)));
    }
    if (issue.externalUpdatedAt && (!cp.highWater || issue.externalUpdatedAt > cp.highWater)) cp.highWater = issue.externalUpdatedAt;
    cp.afterId = issue.id;
  }
  return changed.length < ISSUES_PER_STEP;
}

async function finishComments(ctx: SyncContext, run: SyncRunRow, cp: CommentCheckpoint): Promise<void> {
  const current = ctx.project.commentCursor;
  const advancedTo = ctx.tracker.commentsOrderedByUpdate ? cp.highWater : cp.highWater ? cp.listingStartedAt : null;
  const cursor = !current ? advancedTo : advancedTo && advancedTo > current ? advancedTo : current;
  const etag = ctx.tracker.repositoryWideComments && cursor === current ? cp.firstPageEtag : null;
  await storeCommentCursor(ctx.db, ctx.project.id, cursor, etag);
}
