import { afterAll, describe, expect, it, vi } from "vitest";
import { FakeReceiver } from "../fakes/fake-receiver";
import { api, json } from "../support/api";
import { listAllIssues, projectWithTracker, routeToFake, syncAndWait } from "../support/trackers";

/**
 * A first import through the Worker, in real time: the run's steps write the issues and their
 * activity, each step's end wakes the subscription's dispatcher, and its alarms send the events. No
 * test drives a round: this is the path production takes.
 */
describe("events of an import", () => {
  const receiver = new FakeReceiver(`https://import-${crypto.randomUUID().slice(0, 8)}.receiver.test/hook`);
  routeToFake(receiver.url, receiver);

  afterAll(async () => {
    const { items } = await json(await api("/api/v1/subscriptions?limit=500"));
    for (const sub of items) await api(`/api/v1/subscriptions/${sub.id}`, { method: "DELETE" });
  });

  it("an import of 1,000 issues sends exactly 1,000 issue.created events, none twice", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seed(1_000);
    const res = await api("/api/v1/subscriptions", { method: "POST", body: { url: receiver.url, eventTypes: ["issue.created"], projectIds: [project.id], payload: "thin" } });
    expect(res.status).toBe(201);

    const run = await syncAndWait(project.id, "full", 60_000);
    expect(run.status).toBe("succeeded");
    await vi.waitFor(() => expect(receiver.received.length).toBeGreaterThanOrEqual(1_000), { timeout: 60_000, interval: 100 });
    // Let any straggler arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(receiver.received).toHaveLength(1_000);
    expect(new Set(receiver.ids()).size).toBe(1_000);
    expect(receiver.received.every((r) => r.json.type === "issue.created")).toBe(true);
    const local = await listAllIssues(project.id);
    expect(new Set(receiver.received.map((r) => r.json.data.issue.id))).toEqual(new Set(local.map((i) => i.id)));
  }, 150_000);
});
