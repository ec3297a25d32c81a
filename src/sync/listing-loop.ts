/**
 * The one listing loop, for every record kind a run lists (issues, repository-wide comments; next,
 * pull requests): bounded pages per step, pipelined, checkpointed, with same-second blocks.
 *
 * - Position: an ordered listing (by `updated_at`) is a keyset scan, an unordered one follows the
 *   tracker's next page (listing-block.ts decides, same-second blocks re-read included). The next
 *   page is found however the tracker says it (`Link`, `X-Next-Page`, or a page number from
 *   `X-Total-Count`: providers/http.ts `nextPageUrl`).
 * - Pipelined: the request for page k+1 is started as soon as page k's raw answer says where it is
 *   (its head: `Link`, last raw `updated_at`; inside a same-second block, once its items are read),
 *   whether or not the pages before k are written yet: the requests follow each other back to back
 *   (one at a time, as trackers ask), the writes follow in page order, and the checkpoint moves past
 *   page k only after its write. The step's last page starts
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

export function initialListing(since: string | null): ListingCheckpoint {
  return { since, nextUrl: null, highWater: null, listingStartedAt: null, firstRequest: true, firstPageEtag: null };
}

/** Where the listing goes after a page: the position the checkpoint takes once the page is written, and the next request (null: the listing ends with this page). */
interface Plan {
  after: ListingPosition;
  next: PagePosition | null;
}

/** One page of a step: its request, where the listing goes after it, and the request after it. */
interface Slot<P> {
  page: Promise<P>;
  plan: Promise<Plan>;
  /** The next page's slot, started as soon as `plan` is known: before this page is normalised or written. */
  following: Promise<Slot<P> | null>;
}

type SlotRequest<P> = { kind: "fetch"; at: PagePosition; etag: string | null } | { kind: "carried"; page: P };

/**
 * Reads up to `pagesPerStep` pages. True when the listing is complete (the last page was written),
 * false when another step must continue from the checkpoint.
 *
 * Two chains run side by side: the requests, each started the moment the previous page's head says
 * where the listing goes (so the tracker is paged back to back, one request at a time, whatever the
 * writes cost), and the writes, in page order. The checkpoint moves past a page only after its write.
 */
export async function listPages<P extends ListedPage>(source: ListingSource<P>, cp: ListingCheckpoint, pagesPerStep: number): Promise<boolean> {
  const useEtag = cp.firstRequest && source.storedEtag !== null;
  const first: PagePosition = { since: cp.since, url: cp.nextUrl };
  const carried = useEtag ? null : ((await source.takeCarried?.(first)) ?? null);
  const inflight: Promise<P>[] = [];
  // Set when a page cannot be read or the step fails: nothing after it would be written, so nothing more is asked for.
  let stopped = false;

  const slotOf = (request: SlotRequest<P>, before: ListingPosition, index: number): Slot<P> => {
    let settlePlan!: (plan: Plan) => void;
    let failPlan!: (err: unknown) => void;
    const plan = new Promise<Plan>((resolve, reject) => ((settlePlan = resolve), (failPlan = reject)));
    plan.catch(() => undefined);
    let giveFollowing!: (slot: Slot<P> | null) => void;
    const following = new Promise<Slot<P> | null>((resolve) => (giveFollowing = resolve));
    let decided = false;
    const fail = (err: unknown) => {
      stopped = true;
      if (decided) return;
      decided = true;
      failPlan(err);
      giveFollowing(null);
    };
    // Never throws: it may run inside the adapter's `onHead`.
    const decide = (from: () => { page: BlockPage; items: readonly ListedItem[]; notModified: boolean }) => {
      if (decided) return;
      decided = true;
      let decision: { plan: Plan; following: Slot<P> | null };
      try {
        const { page, items, notModified } = from();
        const after: ListingPosition = structuredClone(before);
        const next = !notModified && advanceListing(after, page, items, source.ordered) ? { since: after.since, url: after.nextUrl } : null;
        // Within the step, and the step's last page only if something keeps the request (no wasted request).
        const wanted = index < pagesPerStep - 1 || (index === pagesPerStep - 1 && source.hold !== undefined);
        decision = { plan: { after, next }, following: next && wanted && !stopped ? slotOf({ kind: "fetch", at: next, etag: null }, after, index + 1) : null };
      } catch (err) {
        stopped = true;
        failPlan(err);
        giveFollowing(null);
        return;
      }
      settlePlan(decision.plan);
      giveFollowing(decision.following);
    };
    // The raw head decides at once (synchronously, before the adapter validates and normalises the
    // items) unless a same-second block needs the items.
    const onHead = (head: IssuePageHead) => {
      if (!head.notModified && !needsItems(before, head, source.ordered)) decide(() => ({ page: head, items: [], notModified: false }));
    };
    const page = request.kind === "carried" ? Promise.resolve(request.page) : source.fetch(request.at, request.etag, onHead);
    inflight.push(page);
    page.then((read) => decide(() => ({ page: read, items: read.notModified ? [] : source.items(read), notModified: read.notModified })), fail);
    return { page, plan, following };
  };

  const position: ListingPosition = { since: cp.since, nextUrl: cp.nextUrl, block: cp.block ?? null, cursorCap: cp.cursorCap ?? null };
  let slot = slotOf(carried ? { kind: "carried", page: carried } : { kind: "fetch", at: first, etag: useEtag ? source.storedEtag : null }, position, 0);
  try {
    for (let i = 0; i < pagesPerStep; i++) {
      const page = await slot.page;
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
      await source.apply(page);
      for (const item of items) if (!cp.highWater || item.updatedAt > cp.highWater) cp.highWater = item.updatedAt;
      // Page k is written: only now may the checkpoint move past it (block re-read state included).
      const { after, next } = await slot.plan;
      Object.assign(cp, after);
      if (!next) return true;
      const following = await slot.following;
      if (!following) return false;
      if (i === pagesPerStep - 1) {
        source.hold?.(next, following.page);
        return false;
      }
      slot = following;
    }
    return false;
  } catch (err) {
    // Ask for nothing more, and let the requests in flight finish: no tracker traffic outlives the step.
    stopped = true;
    await Promise.all(inflight.map((page) => page.catch(() => undefined)));
    throw err;
  }
}
