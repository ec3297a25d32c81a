/**
 * The one listing loop, for every record kind a run lists (issues, repository-wide comments; next,
 * pull requests): bounded pages per step, pipelined, checkpointed, with same-second blocks.
 *
 * - Position: an ordered listing (by `updated_at`) is a keyset scan, an unordered one follows the
 *   tracker's next page (listing-block.ts decides, same-second blocks re-read included). The next
 *   page is found however the tracker says it (`Link`, `X-Next-Page`, or a page number from
 *   `X-Total-Count`: providers/http.ts `nextPageUrl`).
 * - Pipelined: the request for page k+1 is started the moment page k's raw answer says where it is
 *   (its head: `Link`, last raw `updated_at`; inside a same-second block, once its items are read),
 *   whether or not the pages before k are written yet: the requests follow each other back to back
 *   (one at a time, as trackers ask), the writes follow in page order, and the checkpoint moves past
 *   page k only after its write. A run's listing keeps its chain of requests across steps
 *   (`keep`, memory only), at most CHAIN_AHEAD pages ahead of the page being written, so a step
 *   boundary does not stall the paging; without `keep` nothing is fetched past the step's pages.
 * - First request: the only one that may send the stored ETag; it fixes the listing's start (the
 *   tracker's clock) and the ETag kept for the next run (only if that page held every change).
 */
import { nowIso } from "../ids";
import { RateLimitedError, type IssuePageHead } from "../providers/types";
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
  /** Keeps the chain of requests from one step to the next (absent: the step's last page starts nothing). */
  keep?: { chain: PageChain<P> | null };
}

/** Pages a kept chain may have requested beyond the one being written (two: a step boundary up to one page's latency does not stall it). */
export const CHAIN_AHEAD = 2;

export function initialListing(since: string | null): ListingCheckpoint {
  return { since, nextUrl: null, highWater: null, listingStartedAt: null, firstRequest: true, firstPageEtag: null };
}

/** Where the listing goes after a page: the position the checkpoint takes once the page is written, and the next request (null: the listing ends with this page). */
interface Plan {
  after: ListingPosition;
  next: PagePosition | null;
}

/** One request of a chain. */
interface ChainSlot<P> {
  at: PagePosition;
  page: Promise<P>;
  plan: Promise<Plan>;
  /** The plan, once known (the chain starts the next request from it). */
  decided: Plan | null;
  /** The step that started it (requests of an earlier step may have been cut with its invocation). */
  generation: number;
}

const samePosition = (a: PagePosition, b: PagePosition) => a.since === b.since && a.url === b.url;

/**
 * The requests of one listing, each started the moment the previous page's head says where the
 * listing goes: at most `ahead` started and not yet taken by the loop, and at most `budget` in all.
 */
export class PageChain<P extends ListedPage> {
  #source: Pick<ListingSource<P>, "fetch" | "items" | "ordered">;
  #waiting: ChainSlot<P>[] = [];
  #tail: ChainSlot<P> | null = null;
  #inflight: Promise<P>[] = [];
  #stopped = false;
  #budget: number;
  generation = 0;

  constructor(
    source: Pick<ListingSource<P>, "fetch" | "items" | "ordered">,
    private readonly ahead: number,
    budget: number,
  ) {
    this.#source = source;
    this.#budget = budget;
  }

  /** A new step: what the chain starts from now on goes through this step's source (its credentials). */
  nextStep(source: Pick<ListingSource<P>, "fetch" | "items" | "ordered">): void {
    this.#source = source;
    this.generation++;
  }

  /** The request for `at`: the one fetched ahead if it is exactly that, else a new one (and what was ahead is dropped). */
  take(at: PagePosition, etag: string | null, before: ListingPosition): ChainSlot<P> {
    const first = this.#waiting[0];
    if (first && etag === null && samePosition(first.at, at)) {
      this.#waiting.shift();
      this.#pump();
      return first;
    }
    // Asked anew (nothing ahead, or not this position): the loop goes on from here, so the chain
    // does too, even if a page it had fetched ahead could not be read.
    this.#waiting = [];
    this.#stopped = false;
    const slot = this.#start(at, etag, before);
    this.#waiting.shift();
    this.#pump();
    return slot;
  }

  /** Drops what was fetched ahead: the next `take` asks again. */
  reset(): void {
    this.#waiting = [];
    this.#tail = null;
  }

  /** Starts nothing more, and lets the requests in flight finish: no tracker traffic outlives the caller. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.reset();
    await Promise.all(this.#inflight.map((page) => page.catch(() => undefined)));
  }

  #pump(): void {
    const next = this.#tail?.decided?.next;
    if (this.#stopped || !next || this.#waiting.length >= this.ahead || this.#budget <= 0) return;
    this.#start(next, null, this.#tail!.decided!.after);
  }

  #start(at: PagePosition, etag: string | null, before: ListingPosition): ChainSlot<P> {
    this.#budget--;
    const source = this.#source;
    let settlePlan!: (plan: Plan) => void;
    let failPlan!: (err: unknown) => void;
    const plan = new Promise<Plan>((resolve, reject) => ((settlePlan = resolve), (failPlan = reject)));
    plan.catch(() => undefined);
    let finished = false;
    // Never throws: it may run inside the adapter's `onHead`.
    const decide = (from: () => { page: BlockPage; items: readonly ListedItem[]; notModified: boolean }) => {
      if (finished) return;
      finished = true;
      try {
        const { page, items, notModified } = from();
        const after: ListingPosition = structuredClone(before);
        const next = !notModified && advanceListing(after, page, items, source.ordered) ? { since: after.since, url: after.nextUrl } : null;
        slot.decided = { after, next };
      } catch (err) {
        this.#stopped = true;
        failPlan(err);
        return;
      }
      settlePlan(slot.decided);
      this.#pump();
    };
    // The raw head decides at once (before the adapter validates and normalises the items) unless a
    // same-second block needs the items.
    const onHead = (head: IssuePageHead) => {
      if (!head.notModified && !needsItems(before, head, source.ordered)) decide(() => ({ page: head, items: [], notModified: false }));
    };
    const slot: ChainSlot<P> = { at, page: Promise.resolve() as unknown as Promise<P>, plan, decided: null, generation: this.generation };
    // Assigned after the slot exists: an adapter may announce the head as soon as it can.
    slot.page = source.fetch(at, etag, onHead);
    this.#inflight.push(slot.page);
    slot.page.then(
      (read) => decide(() => ({ page: read, items: read.notModified ? [] : source.items(read), notModified: read.notModified })),
      (err: unknown) => {
        // A page that cannot be read ends the chain: nothing after it would be written.
        this.#stopped = true;
        if (!finished) {
          finished = true;
          failPlan(err);
        }
      },
    );
    void slot.page.finally(() => (this.#inflight = this.#inflight.filter((page) => page !== slot.page))).catch(() => undefined);
    this.#waiting.push(slot);
    this.#tail = slot;
    return slot;
  }
}

/**
 * Reads up to `pagesPerStep` pages. True when the listing is complete (the last page was written),
 * false when another step must continue from the checkpoint.
 */
export async function listPages<P extends ListedPage>(source: ListingSource<P>, cp: ListingCheckpoint, pagesPerStep: number): Promise<boolean> {
  const useEtag = cp.firstRequest && source.storedEtag !== null;
  let chain = source.keep?.chain ?? null;
  if (chain && !useEtag) {
    chain.nextStep(source);
  } else {
    await chain?.stop();
    // Kept: a few pages ahead, across steps. Not kept: never a request past this step's pages.
    chain = source.keep ? new PageChain(source, CHAIN_AHEAD, Infinity) : new PageChain(source, pagesPerStep, pagesPerStep);
    if (source.keep) source.keep.chain = chain;
  }
  let position: ListingPosition = { since: cp.since, nextUrl: cp.nextUrl, block: cp.block ?? null, cursorCap: cp.cursorCap ?? null };
  let at: PagePosition = { since: cp.since, url: cp.nextUrl };
  try {
    for (let i = 0; i < pagesPerStep; i++) {
      let slot = chain.take(at, i === 0 && useEtag ? source.storedEtag : null, position);
      let page: P;
      try {
        page = await slot.page;
      } catch (err) {
        // A request an earlier step started may have been cut with that invocation: asked again,
        // once. A rate limit is real news about the tracker.
        if (slot.generation === chain.generation || err instanceof RateLimitedError) throw err;
        chain.reset();
        slot = chain.take(at, null, position);
        page = await slot.page;
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
      await source.apply(page);
      for (const item of items) if (!cp.highWater || item.updatedAt > cp.highWater) cp.highWater = item.updatedAt;
      // Page k is written: only now may the checkpoint move past it (block re-read state included).
      const { after, next } = await slot.plan;
      Object.assign(cp, after);
      if (!next) return true;
      position = after;
      at = next;
    }
    return false;
  } catch (err) {
    await chain.stop();
    if (source.keep?.chain === chain) source.keep.chain = null;
    throw err;
  }
}
