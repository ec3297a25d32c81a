import { describe, expect, it } from "vitest";
import { PageChain, type ListedPage, type PagePosition } from "../../src/sync/listing-loop";
import type { IssuePageHead } from "../../src/providers/types";

/**
 * PageChain (src/sync/listing-loop.ts) against an in-memory listing of numbered pages followed by
 * their next URL (an unordered listing): when requests start, how far ahead, and after a failure.
 */
type Page = ListedPage & { n: number };

function listing(pages: number, failOnce: Set<number> = new Set()) {
  const requested: number[] = [];
  const answers = new Map<number, { resolve: () => void }>();
  const pageOf = (n: number): Page => ({
    n,
    nextUrl: n < pages ? `page:${n + 1}` : null,
    etag: null,
    notModified: false,
    serverTime: null,
    lastUpdatedAt: null,
    rawCount: 1,
    total: null,
  });
  const source = {
    ordered: false,
    items: () => [],
    fetch: (at: PagePosition, _etag: string | null, onHead: (head: IssuePageHead) => void): Promise<Page> => {
      const n = at.url ? Number(at.url.slice("page:".length)) : 1;
      requested.push(n);
      return new Promise<Page>((resolve, reject) => {
        answers.set(n, {
          resolve: () => {
            if (failOnce.delete(n)) return reject(new Error(`page ${n} cut`));
            const page = pageOf(n);
            onHead(page as IssuePageHead);
            resolve(page);
          },
        });
      });
    },
  };
  const answer = async (n: number) => {
    answers.get(n)!.resolve();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { source, requested, answer };
}

const start: PagePosition = { since: null, url: null };
const position = { since: null, nextUrl: null, block: null, cursorCap: null };

describe("PageChain", () => {
  it("starts each request from the previous answer, at most `ahead` beyond the page taken, and more as pages are taken", async () => {
    const l = listing(10);
    const chain = new PageChain<Page>(l.source, 2, Infinity);
    const first = chain.take(start, null, position);
    expect(l.requested).toEqual([1]);
    await l.answer(1);
    await l.answer(2);
    await l.answer(3);
    // Page 1 taken, pages 2 and 3 requested and answered: page 4 waits until the loop takes page 2.
    expect(l.requested).toEqual([1, 2, 3]);
    expect((await first.page).n).toBe(1);
    const second = chain.take({ since: null, url: "page:2" }, null, (await first.plan).after);
    expect(l.requested).toEqual([1, 2, 3, 4]);
    expect((await second.page).n).toBe(2);
  });

  it("a budget bounds the requests in all: a step's chain never asks past its pages", async () => {
    const l = listing(10);
    const chain = new PageChain<Page>(l.source, 5, 3);
    chain.take(start, null, position);
    for (const n of [1, 2, 3, 4]) if (l.requested.includes(n)) await l.answer(n);
    expect(l.requested).toEqual([1, 2, 3]);
  });

  it("a page that cannot be read stops the chain; asked again at that position, the chain goes on ahead from there", async () => {
    const l = listing(10, new Set([2]));
    const chain = new PageChain<Page>(l.source, 2, Infinity);
    const first = chain.take(start, null, position);
    await l.answer(1);
    await l.answer(2); // cut
    expect(l.requested).toEqual([1, 2]);
    const cut = chain.take({ since: null, url: "page:2" }, null, (await first.plan).after);
    await expect(cut.page).rejects.toThrow("page 2 cut");
    // The loop asks for page 2 again (a new step, or a retry): a fresh request, and the look-ahead resumes.
    chain.reset();
    const again = chain.take({ since: null, url: "page:2" }, null, (await first.plan).after);
    expect(l.requested).toEqual([1, 2, 2]);
    await l.answer(2);
    expect((await again.page).n).toBe(2);
    expect(l.requested).toEqual([1, 2, 2, 3]);
  });

  it("stop starts nothing more and waits for what is in flight", async () => {
    const l = listing(10);
    const chain = new PageChain<Page>(l.source, 2, Infinity);
    chain.take(start, null, position);
    let stopped = false;
    const stopping = chain.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 0));
    expect(stopped).toBe(false);
    await l.answer(1);
    await stopping;
    expect(stopped).toBe(true);
    expect(l.requested).toEqual([1]);
  });
});
