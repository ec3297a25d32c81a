import examples from "@octokit/webhooks-examples";
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { QUEUES, type Job } from "../../src/queue/messages";
import { loadSyncContext } from "../../src/sync/context";
import { resendStaleDeliveries } from "../../src/jobs/sweeps";
import { applyDelivery, recordDeliveryFailure } from "../../src/sync/deliveries";
import { api, expectProblem, json, SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker } from "../support/trackers";
import { accepted, countRows, deliver, deliverAndApply, deliveryRow, githubDelivery, storedIssues, waitProcessed } from "./webhooks.support";

type Payload = Record<string, any>;
const issueExamples = (examples.find((d) => d.name === "issues")?.examples ?? []) as Payload[];
const opened = issueExamples.find((p) => p.action === "opened")!;
const [pushExample] = (examples.find((d) => d.name === "push")?.examples ?? []) as Payload[];

async function githubProject(overrides: Record<string, unknown> = {}) {
  return (await projectWithTracker("github", overrides, { webhookSecret: SECRET_WEBHOOK })).project;
}

/**
 * Delivers while the project's Durable Object is unreachable and the queue refuses sends: the edge
 * still answers 202 and the row stays `received`.
 */
async function deliverWithQueueDown(project: { id: string; provider: string }, payload: Payload) {
  const hook = await githubDelivery("issues", payload);
  vi.spyOn(env.PROJECT_SYNC, "get").mockImplementationOnce(() => ({ applyDelivery: async () => Promise.reject(new Error("object unreachable")) }) as any);
  const send = vi.spyOn(env.SYNC_QUEUE, "send").mockRejectedValueOnce(new Error("queue unavailable"));
  const id = await accepted(await deliver(project, hook));
  await vi.waitFor(() => expect(send).toHaveBeenCalledTimes(1));
  send.mockRestore();
  // Nothing else will pick it up by itself.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await deliveryRow(id)).toMatchObject({ status: "received", attempts: 0 });
  return { id, hook };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a lost or exhausted delivery", () => {
  it("a failed queue send still answers 202, and the sweep re-sends the stale delivery, which is then applied", async () => {
    const project = await githubProject();
    const { id } = await deliverWithQueueDown(project, opened);
    // Not yet stale: the sweep leaves it alone.
    expect(await resendStaleDeliveries(env)).toBe(0);
    expect(await resendStaleDeliveries(env, Date.now() + 16 * 60_000)).toBeGreaterThanOrEqual(1);
    expect((await waitProcessed(id)).status).toBe("applied");
    expect(await storedIssues(project.id)).toMatchObject([{ title: opened.issue.title }]);
  });

  it("the dead-letter consumer marks it failed (listed with status=failed), and a replay applies it", async () => {
    const project = await githubProject();
    const { id, hook } = await deliverWithQueueDown(project, opened);

    const batch = createMessageBatch<Job>(QUEUES.syncDead, [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { type: "webhook", projectId: project.id, deliveryRowId: id } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect(await getQueueResult(batch, ctx)).toMatchObject({ explicitAcks: ["m1"], retryMessages: [] });

    const failed = await json(await api(`/api/v1/projects/${project.id}/deliveries?status=failed`));
    expect(failed.items).toMatchObject([{ id, status: "failed", error: expect.stringContaining("retries exhausted") }]);
    expect(await countRows("issues", project.id)).toBe(0);
    // One delivery, by our id or the tracker's: status and error, never the payload.
    const one = await json(await api(`/api/v1/projects/${project.id}/deliveries/${hook.headers["x-github-delivery"]}`));
    expect(one).toEqual(failed.items[0]);
    expect(await json(await api(`/api/v1/projects/${project.id}/deliveries/${id}`))).toEqual(failed.items[0]);
    await expectProblem(await api(`/api/v1/projects/${project.id}/deliveries/no-such-delivery`), 404);

    // Replay by the tracker's delivery id.
    const replay = await api(`/api/v1/projects/${project.id}/deliveries/${hook.headers["x-github-delivery"]}/replay`, { method: "POST" });
    expect(replay.status).toBe(202);
    expect(await json(replay)).toEqual({ status: "queued", id, deliveryId: hook.headers["x-github-delivery"] });
    expect((await waitProcessed(id)).status).toBe("applied");
    expect(await storedIssues(project.id)).toMatchObject([{ title: opened.issue.title }]);
    expect(await json(await api(`/api/v1/projects/${project.id}/deliveries?status=failed`))).toEqual({ items: [], nextCursor: null });
  });

  it("recordDeliveryFailure leaves an applied delivery applied", async () => {
    const project = await githubProject();
    const id = await deliverAndApply(project, await githubDelivery("issues", opened));
    await recordDeliveryFailure(env, project.id, id, "retries exhausted");
    expect(await deliveryRow(id)).toMatchObject({ status: "applied", error: null });
  });
});

describe("replay and idempotency", () => {
  it("applying the same delivery twice changes nothing the second time", async () => {
    const project = await githubProject();
    const id = await deliverAndApply(project, await githubDelivery("issues", opened));
    const before = { issues: await storedIssues(project.id), delivery: await deliveryRow(id) };
    const stub = env.PROJECT_SYNC.get(env.PROJECT_SYNC.idFromName(project.id));
    await runInDurableObject(stub, async () => applyDelivery(await loadSyncContext(env, project.id), id));
    expect(await storedIssues(project.id)).toEqual(before.issues);
    expect(await deliveryRow(id)).toEqual(before.delivery);
    expect(await countRows("events", project.id)).toBe(1);
  });

  it("replaying an applied delivery by its row id re-applies it without changing the issue or logging a second event", async () => {
    const project = await githubProject();
    const id = await deliverAndApply(project, await githubDelivery("issues", opened));
    const [before] = await storedIssues(project.id);
    const res = await api(`/api/v1/projects/${project.id}/deliveries/${id}/replay`, { method: "POST" });
    expect(res.status).toBe(202);
    const row = await waitProcessed(id);
    expect(row).toMatchObject({ status: "applied", attempts: 2 });
    const [after] = await storedIssues(project.id);
    expect(after!.version).toBe(before!.version);
    expect(await countRows("events", project.id)).toBe(1);
  });

  it("replaying an unknown delivery, or on an unknown project, answers 404", async () => {
    const project = await githubProject();
    await expectProblem(await api(`/api/v1/projects/${project.id}/deliveries/no-such-delivery/replay`, { method: "POST" }), 404);
    await expectProblem(await api(`/api/v1/projects/0190f0f0-0000-7000-8000-000000000000/deliveries/x/replay`, { method: "POST" }), 404);
    await expectProblem(await api(`/api/v1/projects/0190f0f0-0000-7000-8000-000000000000/deliveries`), 404);
    await expectProblem(await api(`/api/v1/projects/0190f0f0-0000-7000-8000-000000000000/events`), 404);
  });

  it("the delivery and event APIs need the bearer token", async () => {
    const project = await githubProject();
    await expectProblem(await api(`/api/v1/projects/${project.id}/deliveries`, { token: null }), 401);
    await expectProblem(await api(`/api/v1/projects/${project.id}/events`, { token: null }), 401);
    await expectProblem(await api(`/api/v1/projects/${project.id}/deliveries/x/replay`, { method: "POST", token: "wrong" }), 401);
  });
});

describe("listing", () => {
  it("lists deliveries newest first in pages, filtered by status, without payloads", async () => {
    const project = await githubProject();
    const first = await deliverAndApply(project, await githubDelivery("issues", opened));
    const second = await deliverAndApply(project, await githubDelivery("push", pushExample));
    const ping = await json(await deliver(project, await githubDelivery("ping", { zen: "Keep it logically awesome.", hook_id: 1 })));

    const page1 = await json(await api(`/api/v1/projects/${project.id}/deliveries?limit=2`));
    expect(page1.items.map((d: any) => d.id)).toEqual([ping.id, second]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    expect(page1.items[0]).not.toHaveProperty("payload");
    const page2 = await json(await api(`/api/v1/projects/${project.id}/deliveries?limit=2&cursor=${page1.nextCursor}`));
    expect(page2).toMatchObject({ items: [{ id: first, event: "issues", action: "opened", status: "applied", attempts: 1 }], nextCursor: null });

    const ignored = await json(await api(`/api/v1/projects/${project.id}/deliveries?status=ignored`));
    expect(ignored.items).toMatchObject([{ id: ping.id, event: "ping", status: "ignored" }]);
    await expectProblem(await api(`/api/v1/projects/${project.id}/deliveries?status=lost`), 400);
  });

  it("lists events oldest first in pages, filtered by kind", async () => {
    const project = await githubProject();
    const issueEvent = await deliverAndApply(project, await githubDelivery("issues", opened));
    const pushEvent = await deliverAndApply(project, await githubDelivery("push", pushExample));

    const page1 = await json(await api(`/api/v1/projects/${project.id}/events?limit=1`));
    expect(page1.items).toMatchObject([{ id: issueEvent, kind: "issue", action: "opened", data: { complete: true, issue: { title: opened.issue.title } } }]);
    const page2 = await json(await api(`/api/v1/projects/${project.id}/events?limit=1&cursor=${page1.nextCursor}`));
    expect(page2).toMatchObject({ items: [{ id: pushEvent, kind: "push" }], nextCursor: null });
    const pushes = await json(await api(`/api/v1/projects/${project.id}/events?kind=push`));
    expect(pushes.items.map((e: any) => e.id)).toEqual([pushEvent]);
    await expectProblem(await api(`/api/v1/projects/${project.id}/events?kind=other`), 400);
  });
});
