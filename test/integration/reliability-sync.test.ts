import { abortAllDurableObjects } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import type { Provider } from "../../src/providers/types";
import { api, json } from "../support/api";
import { listAllIssues, projectWithTracker, syncAndWait, waitForRun } from "../support/trackers";

type Fault = "server_error" | "rate_limit" | "truncated_json" | "network" | "timeout";

/** Local store equals the tracker exactly: same issues, same fields, no duplicates. */
async function expectConverged(projectId: string, fake: any): Promise<void> {
  const all = await listAllIssues(projectId);
  // Issues deleted in the tracker stay as orphans (the default policy); they must really be gone there.
  for (const orphan of all.filter((i) => i.syncState === "orphaned")) expect(fake.issue(orphan.external.number)?.deleted ?? true).toBe(true);
  const local = all.filter((i) => i.syncState !== "orphaned");
  const numbers = local.map((i) => i.external?.number);
  expect(new Set(numbers).size).toBe(local.length);
  const remote = fake.store.visible().filter((i: any) => i.kind === "issue");
  expect(local.length).toBe(remote.length);
  const byNumber = new Map(local.map((i) => [i.external.number, i]));
  for (const r of remote) {
    const l: any = byNumber.get(r.number);
    expect(l, `issue #${r.number}`).toBeDefined();
    expect({ title: l.title, body: l.body, state: l.state, labels: l.labels, assignees: l.assignees, milestone: l.milestone }).toEqual({
      title: r.title,
      body: r.body ?? "",
      state: r.state,
      labels: [...new Set(r.labels)].sort(),
      assignees: [...new Set(r.assignees)].sort(),
      milestone: r.milestone,
    });
  }
}

/** Wraps the fake so chosen list requests fail the way a real network or tracker does. */
function injectFaults(fake: any, faults: Map<number, Fault>): void {
  const original = fake.handle.bind(fake);
  let listCalls = 0;
  fake.handle = async (request: Request) => {
    const isList = request.method === "GET" && /\/issues$/.test(new URL(request.url).pathname);
    const fault = isList ? faults.get(++listCalls) : undefined;
    switch (fault) {
      case "timeout":
        throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
      case "network":
        throw new TypeError("Network connection lost.");
      case "truncated_json": {
        const res = await original(request);
        const text = await res.text();
        return new Response(text.slice(0, Math.max(1, Math.floor(text.length / 2))), { status: res.status, headers: res.headers });
      }
      case "server_error":
        return new Response(JSON.stringify({ message: "Service Unavailable" }), { status: 503, headers: { "content-type": "application/json" } });
      case "rate_limit":
        fake.fail({ kind: "rate_limit", times: 1, resetInSeconds: 1 });
        return original(request);
      default:
        return original(request);
    }
  };
}

describe("faults injected into the tracker mid-run", () => {
  it.each(["github", "gitlab", "gitea"] as Provider[])("%s: after 5xx, timeouts, 429, truncated pages and dropped connections the store equals the tracker", async (provider) => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "inbound" }, { perPage: 4, tickMs: 1 });
    fake.seed(22, { pullRequestEvery: 5 });
    injectFaults(
      fake,
      new Map<number, Fault>([
        [2, "server_error"],
        [3, "timeout"],
        [5, "truncated_json"],
        [7, "network"],
        [9, "rate_limit"],
      ]),
    );
    const run = await syncAndWait(project.id, "full", 30_000);
    expect(run.status).toBe("succeeded");
    await expectConverged(project.id, fake);
    // Then edits on the tracker side and another fault-ridden incremental run.
    for (const n of [1, 5, 9]) fake.edit(n, { title: `edited ${n}`, labels: ["after"] });
    injectFaults(fake, new Map<number, Fault>([[1, "network"]]));
    const incremental = await syncAndWait(project.id, "incremental", 30_000);
    expect(incremental.status).toBe("succeeded");
    await expectConverged(project.id, fake);
  });

  it("a run whose Durable Object is torn down mid-run resumes from its checkpoint and finishes with nothing lost or duplicated", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 2, tickMs: 1 });
    fake.seed(30);
    // Slow the tracker down so the abort lands while the run is between pages.
    const original = fake.handle.bind(fake);
    fake.handle = async (request: Request) => {
      await new Promise((r) => setTimeout(r, 15));
      return original(request);
    };
    const { runId } = await json(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "full" } }));
    await vi.waitFor(async () => {
      const run = await json(await api(`/api/v1/sync-runs/${runId}`));
      if (run.stats.pages < 4) throw new Error("not far enough yet");
    }, { timeout: 10_000, interval: 10 });
    await abortAllDurableObjects();
    const run = await waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    await expectConverged(project.id, fake);
  });
});

describe("faults injected into the consumer", () => {
  it("a step that throws after N pages (a D1 failure mid-write) is retried from its checkpoint; the store equals the tracker", async () => {
    const { env } = await import("cloudflare:workers");
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" }, { perPage: 3, tickMs: 1 });
    fake.seed(20);
    // Every D1 batch of the Durable Object goes through this prototype: fail the 4th and 5th page writes.
    const proto = Object.getPrototypeOf(env.DB) as { batch: (...args: unknown[]) => Promise<unknown> };
    const realBatch = proto.batch;
    let batches = 0;
    const spy = vi.spyOn(proto, "batch").mockImplementation(function (this: unknown, ...args: unknown[]) {
      batches++;
      if (batches === 4 || batches === 5) return Promise.reject(new Error("D1_ERROR: injected failure after 3 pages"));
      return realBatch.apply(this, args);
    });
    try {
      const run = await syncAndWait(project.id, "full", 30_000);
      expect(run.status).toBe("succeeded");
      expect(batches).toBeGreaterThan(5);
    } finally {
      spy.mockRestore();
    }
    await expectConverged(project.id, fake);
  });
});

describe("property: random tracker histories converge", () => {
  it("any sequence of tracker edits, deletes and incremental/full runs ends with the store equal to the tracker", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant("edit" as const), n: fc.integer({ min: 1, max: 8 }), title: fc.string({ maxLength: 12 }), closed: fc.boolean(), labels: fc.subarray(["a", "b", "c"]) }),
            fc.record({ op: fc.constant("create" as const), title: fc.string({ minLength: 1, maxLength: 12 }) }),
            fc.record({ op: fc.constant("delete" as const), n: fc.integer({ min: 1, max: 8 }) }),
            fc.record({ op: fc.constant("sync" as const), mode: fc.constantFrom("incremental" as const, "full" as const) }),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        async (ops) => {
          const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 3, tickMs: 1 });
          fake.seed(8);
          await syncAndWait(project.id, "full");
          for (const op of ops) {
            if (op.op === "edit" && fake.issue(op.n) && !fake.issue(op.n)!.deleted) fake.edit(op.n, { title: op.title || "untitled", state: op.closed ? "closed" : "open", labels: op.labels });
            else if (op.op === "create") fake.seedIssue({ title: op.title });
            else if (op.op === "delete" && fake.issue(op.n) && !fake.issue(op.n)!.deleted) fake.delete(op.n);
            else if (op.op === "sync") await syncAndWait(project.id, op.mode);
          }
          // Deletions are only discovered by reconciliation (GitLab sends no delete hook at all).
          await syncAndWait(project.id, "full");
          await expectConverged(project.id, fake);
        },
      ),
      { numRuns: 12 },
    );
    // Twelve whole histories through the Worker: more than one test's usual budget on a busy machine.
  }, 90_000);
});
