import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api, createIssue, json } from "../support/api";
import { projectWithTracker } from "../support/trackers";

describe("push while sync is disabled", () => {
  it("a local create is kept pending without any tracker call, and is pushed once sync is enabled again", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound", syncEnabled: false });
    const issue = await createIssue(project.id, { title: "written while sync was off" });
    // Run the push in the project's Durable Object, as the queue consumer does: it finds sync disabled.
    const stub = env.PROJECT_SYNC.get(env.PROJECT_SYNC.idFromName(project.id));
    expect(await stub.pushIssue(project.id, issue.id)).toEqual({ ok: true, value: { retryAt: null } });
    const row = await env.DB.prepare("select status from outbox where issue_id = ?").bind(issue.id).first<{ status: string }>();
    expect(row?.status).toBe("pending");
    expect(fake.requests).toEqual([]);

    await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { syncEnabled: true } });
    // The cron sweep would re-send it after 10 minutes; a further local edit sends it at once.
    await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { body: "and now it goes" } });
    await vi.waitFor(async () => expect((await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`))).syncState).toBe("synced"), { timeout: 10_000 });
    expect(fake.store.visible().map((i: any) => i.title)).toEqual(["written while sync was off"]);
  });
});
