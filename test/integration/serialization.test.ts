import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait, waitForRun } from "../support/trackers";
import { accepted, deliver, waitProcessed } from "./webhooks.support";

/** Tracks how many tracker requests are in flight at once; each takes a little while. */
function measureConcurrency(fake: any): { max: () => number } {
  const original = fake.handle.bind(fake);
  let inFlight = 0;
  let max = 0;
  fake.handle = async (request: Request) => {
    inFlight++;
    max = Math.max(max, inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return await original(request);
    } finally {
      inFlight--;
    }
  };
  return { max: () => max };
}

async function pendingPushes(projectId: string): Promise<number> {
  const row = await env.DB.prepare("select count(*) as n from outbox where project_id = ? and status = 'pending'").bind(projectId).first<{ n: number }>();
  return row!.n;
}

describe("one writer per project", () => {
  it("two runs, a webhook apply and a push fired at once never overlap their tracker calls, and all of them land", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" }, { perPage: 2, tickMs: 1 });
    fake.seed(8);
    await syncAndWait(project.id, "full");
    const local = (await localByNumber(project.id)).get(3)!;
    fake.seedIssue({ title: "opened while we sync" });
    const hook = await fake.webhook("opened", 9);
    const concurrency = measureConcurrency(fake);

    const [runA, runB, delivery, edit] = await Promise.all([
      api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "incremental" } }).then(json),
      api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "full" } }).then(json),
      deliver(project, hook).then(accepted),
      api(`/api/v1/projects/${project.id}/issues/${local.id}`, { method: "PATCH", body: { title: "edited locally meanwhile" } }),
    ]);
    expect(edit.status).toBe(200);
    expect(runB.runId).toBe(runA.runId);
    const run = await waitForRun(runA.runId, 30_000);
    await waitProcessed(delivery);
    await vi.waitFor(async () => expect(await pendingPushes(project.id)).toBe(0), { timeout: 15_000, interval: 25 });

    expect(run.status).toBe("succeeded");
    expect(concurrency.max()).toBe(1);
    expect(fake.issue(3)!.title).toBe("edited locally meanwhile");
    const after = await localByNumber(project.id);
    expect(after.get(9)!.title).toBe("opened while we sync");
    expect([...after.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
