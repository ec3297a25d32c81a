import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { openPull } from "../fakes/fake-pulls";
import { listAllIssues, projectWithTracker, syncAndWait } from "../support/trackers";

/**
 * The listing loop pages the tracker back to back, whatever the writes cost: each request starts as
 * soon as the previous page's head says where the listing goes, not when the page before it is
 * written, a bounded number of pages ahead, across step boundaries (src/sync/listing-loop.ts).
 * Proven by holding a page write open and watching the tracker.
 */

type Batch = (...args: unknown[]) => Promise<unknown>;
const d1Proto = () => Object.getPrototypeOf(env.DB) as { batch: Batch };

const listRequests = (fake: any): string[] =>
  fake.requests.filter((r: any) => r.method === "GET" && /\/repos\/[^/]+\/[^/]+\/issues\?/.test(r.path)).map((r: any) => r.path);
const graphqlRequests = (fake: any) => fake.requests.filter((r: any) => r.method === "POST" && /\/graphql$/.test(r.path.split("?")[0]));

/**
 * Holds the `nth` D1 batch that writes a listing page until `until()` holds (or 10 s pass), then
 * notes the listing requests seen a moment later; says whether the condition held while it was open.
 */
function holdPageWrite(
  nth: number,
  until: () => boolean,
  requests: () => number,
  isPageWrite: (sql: string) => boolean = (sql) => sql.includes("INSERT INTO"),
): { released: () => boolean | null; seenWhileHeld: () => number; restore: () => void } {
  const proto = d1Proto();
  const realBatch = proto.batch;
  let writes = 0;
  let outcome: boolean | null = null;
  let seen = 0;
  const spy = vi.spyOn(proto, "batch").mockImplementation(async function (this: unknown, ...args: unknown[]) {
    const statements = (args[0] as { statement?: string }[] | undefined) ?? [];
    if (isPageWrite(JSON.stringify(statements.map((s: any) => String(s?.statement ?? "")))) && ++writes === nth) {
      outcome = false;
      try {
        await vi.waitFor(() => {
          if (!until()) throw new Error("not yet");
        }, { timeout: 10_000, interval: 5 });
        outcome = true;
        // Give the chain time to run further if it were unbounded.
        await new Promise((resolve) => setTimeout(resolve, 150));
        seen = requests();
      } catch {
        // left false: the condition never held while the write was open
      }
    }
    return realBatch.apply(this, args);
  });
  return { released: () => outcome, seenWhileHeld: () => seen, restore: () => spy.mockRestore() };
}

/** A full run while `hold` holds its page write; the hold is undone whatever happens, and must have seen its condition. */
async function fullRunHolding(projectId: string, hold: ReturnType<typeof holdPageWrite>): Promise<any> {
  let run;
  try {
    run = await syncAndWait(projectId, "full", 30_000);
  } finally {
    hold.restore();
  }
  expect(hold.released()).toBe(true);
  expect(run.status).toBe("succeeded");
  return run;
}

/** 30 issues, 3 a page, with the `nth` listing page write held until `requests` listing requests were seen; then nothing was asked twice or lost. */
async function issueListingHolding(nth: number, requests: number): Promise<number> {
  const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 3, tickMs: 1000 });
  fake.seed(30);
  const hold = holdPageWrite(nth, () => listRequests(fake).length >= requests, () => listRequests(fake).length);
  const run = await fullRunHolding(project.id, hold);
  const listed = listRequests(fake);
  expect(new Set(listed).size).toBe(listed.length);
  expect(run.stats.pages).toBe(listed.length);
  expect((await listAllIssues(project.id)).length).toBe(30);
  return hold.seenWhileHeld();
}

describe("the listing's requests follow each other back to back", () => {
  it("while the first page's write is held open, the next pages are requested — two ahead, no more; nothing is repeated or lost", async () => {
    // Page 1 being written, pages 2 and 3 asked for: the chain's bound.
    expect(await issueListingHolding(1, 3)).toBe(3);
  });

  it("a step boundary does not stall the paging: while a step's last page is written, the next step's pages are already requested", async () => {
    // A step reads 5 pages: the 5th page write is the step's last; pages 6 and 7 belong to the next
    // step, which takes them without asking again.
    expect(await issueListingHolding(5, 7)).toBe(7);
  });

  it("the repository-wide comment listing keeps its chain across steps too: the next step's comment pages are requested while a step's last one is written", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    const issue = fake.seedIssue();
    // 100 comments a page (GitHub's maximum), 5 pages a step: 800 comments are two steps.
    for (let i = 0; i < 800; i++) fake.addComment(issue.number, { body: `comment ${i}` });
    const commentListings = () => fake.requests.filter((r: any) => r.method === "GET" && /\/issues\/comments(\?|$)/.test(r.path)).length;
    const hold = holdPageWrite(5, () => commentListings() >= 7, commentListings, (sql) => /INSERT INTO \\"comments\\"/.test(sql));
    await fullRunHolding(project.id, hold);
    expect(hold.seenWhileHeld()).toBe(7);
    const listed = fake.requests.filter((r: any) => r.method === "GET" && /\/issues\/comments(\?|$)/.test(r.path)).map((r: any) => r.path);
    expect(new Set(listed).size).toBe(listed.length);
    const stored = await env.DB.prepare("select count(*) as n from comments where project_id = ? and deleted_at is null").bind(project.id).first<{ n: number }>();
    expect(stored!.n).toBe(800);
  });

  it("a page's closing-reference query goes out when the page arrives, while the pages before it are still being written", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 3, tickMs: 1000 });
    const issue = fake.seedIssue({ title: "Bug" });
    // Open pull requests on every page of the listing: each page with one asks its own query.
    for (let i = 0; i < 8; i++) openPull(fake, { title: `Change ${i}`, body: i === 7 ? `Fixes #${issue.number}` : "Refactoring", head: `change-${i}` });
    const hold = holdPageWrite(1, () => graphqlRequests(fake).length >= 2, () => graphqlRequests(fake).length);
    await fullRunHolding(project.id, hold);
    // Each pull request asked about once, however the pages overlap at their boundaries.
    const asked = graphqlRequests(fake).flatMap((r: any) => [...String(r.body?.query).matchAll(/pullRequest\(number:(\d+)\)/g)].map((m) => Number(m[1])));
    expect(asked.length).toBe(new Set(asked).size);
    expect(asked.length).toBe(8);
    const local = (await listAllIssues(project.id)).find((i: any) => i.external?.number === issue.number);
    expect(local.development.pullRequests).toEqual([expect.objectContaining({ relation: "closes", state: "open" })]);
  });
});
