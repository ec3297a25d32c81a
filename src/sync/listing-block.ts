/**
 * Where an ordered listing (GitHub, GitLab) continues after a page, and the re-reading of
 * same-timestamp blocks — for every record kind (issues, repository-wide comments).
 *
 * Each page is normally a fresh keyset query ("updated since the last `updated_at` seen"). A page
 * whose items all share the `since` instant cannot move the keyset on, so the tracker's `Link` next
 * URL (an offset page) is followed inside that block. Offset pages are recomputed on every request:
 * an issue of the block edited meanwhile moves to the end of the listing and every issue after it
 * slides up one place, so the one that slid onto a page already read is not served by that pass.
 * So a block read by offset is read again from its first page until a pass brings no issue the
 * earlier passes missed; if it still does after MAX_BLOCK_PASSES, the run's cursor is capped at
 * the block, and the next run reads it again.
 */
/** What the block logic needs of a listed record, whatever its kind. */
export interface ListedItem {
  externalId: string;
  updatedAt: string;
}

/** What it needs of a page. */
export interface BlockPage {
  nextUrl: string | null;
  lastUpdatedAt: string | null;
}

/** Passes over one block (the first read included) before the run gives up and caps its cursor. */
export const MAX_BLOCK_PASSES = 4;

export interface BlockState {
  /** The shared `updated_at` (the keyset `since` of the block's query). */
  at: string;
  /** 1 for the first read, 2.. for re-reads. */
  pass: number;
  /** External ids of the block's issues seen by any pass. */
  seen: string[];
  /** Issues this pass served that no earlier pass did. */
  newThisPass: number;
}

/** The listing position fields of a run checkpoint this module reads and moves. */
export interface ListingPosition {
  since: string | null;
  nextUrl: string | null;
  block?: BlockState | null;
  /** The cursor may not pass this instant: a block there could not be read completely. */
  cursorCap?: string | null;
}

/**
 * Moves `cp` to the request after `page`. Returns false when the listing is complete (no more
 * pages), true when there is a next request.
 */
export function advanceListing(cp: ListingPosition, page: BlockPage, items: readonly ListedItem[], ordered: boolean): boolean {
  if (!ordered) {
    cp.nextUrl = page.nextUrl;
    return page.nextUrl !== null;
  }
  const T = cp.since;
  const wholePageAtSince = T !== null && page.lastUpdatedAt !== null && page.lastUpdatedAt <= T;
  const block = cp.block && cp.block.at === T ? cp.block : null;
  if (block) recordBlockPage(block, items, T!);

  if (wholePageAtSince && page.nextUrl !== null) {
    // Inside a block: only an offset page can go on. A block begins at its query's first page.
    cp.block = block ?? { at: T!, pass: 1, seen: blockIds(items, T!), newThisPass: 0 };
    cp.nextUrl = page.nextUrl;
    return true;
  }
  if (block) {
    // This pass over the block ends here: read it again from its first page unless this pass was a
    // re-read that found nothing new.
    const clean = block.pass > 1 && block.newThisPass === 0;
    if (!clean && block.pass < MAX_BLOCK_PASSES) {
      block.pass += 1;
      block.newThisPass = 0;
      cp.nextUrl = null;
      return true;
    }
    if (!clean && (!cp.cursorCap || T! < cp.cursorCap)) cp.cursorCap = T;
  }
  cp.block = null;
  if (page.nextUrl === null) {
    cp.nextUrl = null;
    return false;
  }
  if (page.lastUpdatedAt && (!T || page.lastUpdatedAt > T)) {
    cp.since = page.lastUpdatedAt;
    cp.nextUrl = null;
  } else {
    cp.nextUrl = page.nextUrl;
  }
  return true;
}

/**
 * Whether `advanceListing` needs the page's items to move on from it (a same-timestamp block is
 * being read or begins here). When not, the page's head alone decides the next request, so it can
 * be sent before the page's items are validated and normalised.
 */
export function needsItems(cp: ListingPosition, head: BlockPage, ordered: boolean): boolean {
  if (!ordered) return false;
  const T = cp.since;
  if (cp.block && cp.block.at === T) return true;
  return T !== null && head.lastUpdatedAt !== null && head.lastUpdatedAt <= T && head.nextUrl !== null;
}

function blockIds(items: readonly ListedItem[], at: string): string[] {
  return items.filter((s) => s.updatedAt <= at).map((s) => s.externalId);
}

function recordBlockPage(block: BlockState, items: readonly ListedItem[], at: string): void {
  const seen = new Set(block.seen);
  for (const id of blockIds(items, at)) {
    if (seen.has(id)) continue;
    seen.add(id);
    block.seen.push(id);
    if (block.pass > 1) block.newThisPass += 1;
  }
}

/** The cursor a run may advance to: never past a block it could not read completely. */
export function cappedCursor(advancedTo: string | null, cp: ListingPosition): string | null {
  if (!advancedTo || !cp.cursorCap) return advancedTo;
  return advancedTo > cp.cursorCap ? cp.cursorCap : advancedTo;
}
