/**
 * A local change through the API wakes the event subscriptions as soon as it is written (after the
 * answer), not when its push job runs or the cron sweep comes (src/http/event-kick.ts).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeReceiver } from "../fakes/fake-receiver";
import { api, createIssue, createProject, json } from "../support/api";
import { routeToFake } from "../support/trackers";

afterEach(async () => {
  vi.restoreAllMocks();
  const { items } = await json(await api("/api/v1/subscriptions?limit=500"));
  for (const sub of items) await api(`/api/v1/subscriptions/${sub.id}`, { method: "DELETE" });
});

describe("local changes wake the event subscriptions", () => {
  it("an issue created or edited through the API wakes the subscription at once, with no push job or sweep behind it; a read wakes nothing", async () => {
    const project = await createProject();
    const url = `https://hooks-${crypto.randomUUID().slice(0, 8)}.receiver.test/events`;
    routeToFake(url, new FakeReceiver(url));
    const created = await api("/api/v1/subscriptions", { method: "POST", body: { url, eventTypes: ["issue.*"], projectIds: [project.id] } });
    expect(created.status).toBe(201);
    const sub = await json(created);
    // The push jobs go nowhere: only the write itself can wake the subscription.
    vi.spyOn(env.PUSH_QUEUE, "send").mockResolvedValue(undefined as never);
    vi.spyOn(env.PUSH_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
    const woken = vi.spyOn(env.EVENT_DISPATCHER, "idFromName");
    const wakesOf = () => woken.mock.calls.filter(([name]) => name === sub.id).length;
    const issue = await createIssue(project.id, { title: "Local change" });
    await vi.waitFor(() => expect(wakesOf()).toBeGreaterThan(0), { timeout: 5_000, interval: 10 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    woken.mockClear();

    expect((await api(`/api/v1/projects/${project.id}/issues/${issue.id}`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(wakesOf()).toBe(0);

    const edited = await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { title: "Local change, edited" } });
    expect(edited.status).toBe(200);
    await vi.waitFor(() => expect(wakesOf()).toBeGreaterThan(0), { timeout: 5_000, interval: 10 });
  });
});
