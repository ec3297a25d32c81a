/**
 * The one listing loop, for every record kind a run lists (issues, repository-wide comments; next,
 * pull requests): bounded pages per step, pipelined, checkpointed, with same-second blocks.
 *
 * - Position: an ordered listing (by `updated_at`) is a keyset scan, an unordered one follows the
 *   tracker's next page (listing-block.ts decides, same-second blocks re-read included). The next
 *   page is found however the tracker says it (`Link`, `X-Next-Page`, or a page number from
 *   `X-Total-Count`: providers/http.ts `nextPageUrl`).
 * - Pipelined: the request for page k+1 is started as soon as page k's raw answer says where it is
 *   (its head: `Link`, last raw `updated_at`; inside a same-second block, once its items are read)
 *   and runs while page k is validated, normalised and written; the checkpoint moves past page k
 *   only after its write. The step's last page starts
 *   the next step's first request only when the caller keeps it (`carry`), so nothing is fetched
 *   past the end and no request outlives the step unobserved.
 * - First request: the only one that may send the stored ETag; it fixes the listing's start (the
 *   tracker's clock) and the ETag kept for the next run (only if that page held every change).
 */
import { nowIso } from "../ids";
import type { IssuePageHead } from "../providers/types";
import { advanceListing, needsItems, type BlockPage, type ListedItem, type ListingPosition } from "./listing-block";

/** Re-read this much before a cursor: tracker clocks and replication lag are not exact. */
export const OVERLAP_MS = 2 * 60_000;

/** What the loop reads of any listing page: the issue page's head fields (a comment page has the same). */
export type ListedPage = Pick<IssuePageHead, "nextUrl" | "etag" | "notModified" | "serverTime" | "lastUpdatedAt" | "rawCount" | "total">;

/** Where the listing stands: the parameters of the next page request. */
export interface PagePosition {
  since: string | null;
  url: string | null;
}

/** The listing fields of a run checkpoint (each record kind keeps one in its phase). */
export interface ListingCheckpoint extends ListingPosition {
  /** Highest `updated_at` stored by this listing. */
  highWater: string | null;
  /** The tracker's clock (or ours, minus the overlap) when the listing began. */
  listingStartedAt: string | null;
  /** True while the next request is the listing's first: the only one that may use the stored ETag. */
  firstRequest: boolean;
  /** ETag of the first page, kept when that page held the whole change set. */
  firstPageEtag: string | null;
  /** Items the tracker says the listing holds (its first page's count header); null when it gives none. */
  total?: number | null;
}

/** What a record kind plugs into the loop. */
export interface ListingSource<P extends ListedPage> {
  ordered: boolean;
  pageSize: number;
  /** The ETag stored for this listing's first request, when the run may use it. */
  storedEtag: string | null;
  items(page: P): readonly ListedItem[];
  /** Called for every page answered (a 304 included), before anything else looks at it. */
  received?(page: P): void;
  /** Requests one page; an adapter may call `onHead` with the page's head before normalising its items. */
  fetch(at: PagePosition, etag: string | null, onHead: (head: IssuePageHead) => void): Promise<P>;
  /** Writes one page (the records, and whatever the kind marks). */
  apply(page: P): Promise<void>;
  /** A page fetched ahead by the previous step, if it is exactly `at`; null otherwise. */
  takeCarried?(at: PagePosition): Promise<P | null>;
  /** Keeps the step's last request for the next step; absent: the step's last page starts nothing. */
  hold?(at: PagePosition, page: Promise<P>): void;
}

/** A page request in flight: its head as soon as the adapter read the raw answer, its page when normalised. */
interface StartedPage<P> {
  head: Promise<BlockPage>;
  page: Promise<P>;
}

/** Starts a page request now; the rejections are observed later by whoever awaits them. */
function start<P extends ListedPage>(source: ListingSource<P>, at: PagePosition, etag: string | null): StartedPage<P> {
  let announce: (head: BlockPage) => void = () => undefined;
  const early = new Promise<BlockPage>((resolve) => (announce = resolve));
  const page = source.fetch(at, etag, (head) => announce(head));
  page.catch(() => undefined); // awaited (or deliberately dropped) later; never an unhandled rejection
  // An adapter that announces no head (or a 304) gives it with the finished page.
  const head: Promise<BlockPage> = Promise.race([early, page]);
  head.catch(() => undefined);
  return { head, page };
}

function settled<P extends ListedPage>(page: P): StartedPage<P> {
  return { head: Promise.resolve(page), page: Promise.resolve(page) };
}

export function initialListing(since: string | null): ListingCheckpoint {
  return { since, nextUrl: null, highWater: null, listingStartedAt: null, firstRequest: true, firstPageEtag: null };
}

/**
 * Reads up to `pagesPerStep` pages. True when the listing is complete (the last page was written),
 * false when another step must continue from the checkpoint.
 */
export async function listPages<P extends ListedPage>(source: ListingSource<P>, cp: ListingCheckpoint, pagesPerStep: number): Promise<boolean> {
  const useEtag = cp.firstRequest && source.storedEtag !== null;
  const first: PagePosition = { since: cp.since, url: cp.nextUrl };
  const carried = useEtag ? null : ((await source.takeCarried?.(first)) ?? null);
  let pending: StartedPage<P> = carried ? settled(carried) : start(source, first, useEtag ? source.storedEtag : null);
  for (let i = 0; i < pagesPerStep; i++) {
    // Where the listing goes after this page (same-second block re-reads included), decided from the
    // page's raw head when that suffices — before its items are validated and normalised — so the
    // next request overlaps this page's normalisation and write; the checkpoint takes it after.
    const head = await pending.head;
    const after: ListingPosition = structuredClone({ since: cp.since, nextUrl: cp.nextUrl, block: cp.block ?? null, cursorCap: cp.cursorCap ?? null });
    const advance = (from: BlockPage, items: readonly ListedItem[]) => {
      const next: PagePosition | null = advanceListing(after, from, items, source.ordered) ? { since: after.since, url: after.nextUrl } : null;
      // The step's last page starts the next request only if something will keep it (no wasted request).
      const ahead = next && (i < pagesPerStep - 1 || source.hold) ? start(source, next, null) : null;
      return { next, ahead };
    };
    // The items are not read on this path (needsItems): the head stands for the page.
    let moved = needsItems(after, head, source.ordered) ? null : advance(head, []);
    let page: P;
    try {
      page = await pending.page;
    } catch (err) {
      await moved?.ahead?.page.catch(() => undefined);
      throw err;
    }
    source.received?.(page);
    if (cp.firstRequest) {
      cp.listingStartedAt = page.serverTime ?? nowIso(Date.now() - OVERLAP_MS);
      // The ETag can stand for "nothing changed" only if this page held every change: a new change
      // sorts last, so it would land on a later page and leave a full first page unchanged.
      cp.firstPageEtag = page.etag && page.nextUrl === null && page.rawCount < source.pageSize ? page.etag : null;
      cp.firstRequest = false;
      // The progress bar's denominator: what the tracker counts for this listing, if it counts.
      cp.total = page.total ?? null;
    }
    if (page.notModified) {
      // A 304 has no next page: nothing was started from its head.
      cp.firstPageEtag = source.storedEtag;
      cp.nextUrl = null;
      return true;
    }
    const items = source.items(page);
    moved ??= advance(page, items);
    const { next, ahead } = moved;
    try {
      await source.apply(page);
      for (const item of items) if (!cp.highWater || item.updatedAt > cp.highWater) cp.highWater = item.updatedAt;
    } catch (err) {
      // Let the request in flight finish before the step ends: no tracker traffic outlives it.
      await ahead?.page.catch(() => undefined);
      throw err;
    }
    // Page k is written: only now may the checkpoint move past it (block re-read state included).
    Object.assign(cp, after);
    if (!next) return true;
    if (!ahead) return false;
    if (i === pagesPerStep - 1) {
      source.hold?.(next, ahead.page);
      return false;
    }
    pending = ahead;
  }
  return false;
}
