import { abortAllDurableObjects } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api, json } from "../support/api";
import { withHeldPageWrites } from "../support/held-writes";
import { listAllIssues, projectWithTracker, syncAndWait, waitForRun } from "../support/trackers";

/**
 * The run loop fetches page k+1 while page k is written (src/sync/runs.ts, listStep). These tests
 * hold a page write open and watch the tracker, so they prove the overlap and its limits without
 * timing anything.
 */

type Batch = (...args: unknown[]) => Promise<unknown>;
const d1Proto = () => Object.getPrototypeOf(env.DB) as { batch: Batch };

/** GET …/issues listing requests the fake has answered, in order. */
const listRequests = (fake: any): string[] =>
  fake.requests.filter((r: any) => r.method === "GET" && /\/issues(\?|$)/.test(r.path)).map((r: any) => r.path);

describe("pipelined listing", () => {
  it("asks for the next page while the current one is being written, with exactly the requests of a serial listing", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 3, tickMs: 1000 });
    fake.seed(40); // 14+ pages: several steps of 5 pages, so the hand-over between steps is covered too
    const { result: run, held, overlapped } = await withHeldPageWrites(
      {
        holds: 3,
        isPageWrite: (sqls) => JSON.stringify(sqls).includes("INSERT INTO"),
        requestsSeen: () => listRequests(fake).length,
      },
      () => syncAndWait(project.id, "full", 30_000),
    );
    expect(run.status).toBe("succeeded");
    expect(held).toBe(3);
    expect(overlapped).toBe(3);
    const listed = listRequests(fake);
    // Every request was used for a page (none fetched ahead and thrown away) and none was repeated;
    // the only other requests are the run's comment phase (the repository-wide comment listing).
    const commentListings = fake.requests.filter((r: any) => r.method === "GET" && /\/issues\/comments(\?|$)/.test(r.path));
    expect(commentListings.length).toBe(1);
    expect(run.stats.requests).toBe(listed.length + commentListings.length);
    expect(run.stats.pages).toBe(listed.length);
    expect(new Set(listed).size).toBe(listed.length);
    expect(run.stats.created).toBe(40);
    expect((await listAllIssues(project.id)).length).toBe(40);
  });

  it("a run torn down while a fetched-ahead page is unapplied resumes from the checkpoint: that page is fetched again, nothing lost or duplicated", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 3, tickMs: 1000 });
    fake.seed(30);
    const proto = d1Proto();
    const realBatch = proto.batch;
    let pageWrites = 0;
    let release: (() => void) | null = null;
    const held = new Promise<void>((resolve) => (release = resolve));
    let aheadAtTearDown: string | null = null;
    const spy = vi.spyOn(proto, "batch").mockImplementation(async function (this: unknown, ...args: unknown[]) {
      const statements = args[0] as unknown[] | undefined;
      const isPageWrite = JSON.stringify(statements?.map((s: any) => String(s?.statement ?? "")) ?? []).includes("INSERT INTO");
      if (isPageWrite && ++pageWrites === 3) {
        // The third page's write never completes in this object: wait for the page after it to be fetched.
        await vi.waitFor(() => {
          if (listRequests(fake).length < 4) throw new Error("page 4 not fetched yet");
        }, { timeout: 10_000, interval: 5 });
        aheadAtTearDown = listRequests(fake)[3]!;
        await held;
        throw new Error("D1_ERROR: torn down");
      }
      return realBatch.apply(this, args);
    });
    const { runId } = await json(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "full" } }));
    await vi.waitFor(() => {
      if (aheadAtTearDown === null) throw new Error("not there yet");
    }, { timeout: 10_000, interval: 10 });
    await abortAllDurableObjects();
    spy.mockRestore();
    release!();
    const run = await waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    // The page fetched ahead but never applied was asked for again after the restart.
    expect(listRequests(fake).filter((p) => p === aheadAtTearDown).length).toBe(2);
    const all = await listAllIssues(project.id);
    expect(all.length).toBe(30);
    expect(new Set(all.map((i) => i.external.number)).size).toBe(30);
  });
});
