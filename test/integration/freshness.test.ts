/**
 * Freshness: each applied tracker change's lag (the tracker's updated_at → our write), kept as an
 * hourly histogram per source and shown by the project's status as p50/p95 over the last 24 hours.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { pruneHistory } from "../../src/jobs/retention";
import { api, json } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";
import { deliverAndApply } from "./webhooks.support";

const status = async (projectId: string) => (await json(await api(`/api/v1/projects/${projectId}/status`))).freshness;

describe("freshness of applied tracker changes", () => {
  it("counts poll and webhook changes with their lag, and not the first import", async () => {
    // The fake's clock runs ~200 s behind ours (one second per change, as GitHub's whole-second
    // timestamps need to tell two changes apart): every change it makes is ~195 s old when applied.
    const { fake, project } = await projectWithTracker("github", {}, { startTime: new Date(Date.now() - 200_000).toISOString(), tickMs: 1000 });
    fake.seed(3);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const none = { count: 0, p50Ms: null, p95Ms: null, maxMs: null };
    expect(await status(project.id)).toEqual({ webhook: none, poll: none, full: none });

    fake.edit(1, { title: "edited on the tracker" });
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
    const afterPoll = await status(project.id);
    expect(afterPoll.poll.count).toBe(1);
    expect(afterPoll.poll.p50Ms).toBeGreaterThanOrEqual(190_000);
    expect(afterPoll.poll.p50Ms).toBeLessThanOrEqual(300_000);
    expect(afterPoll.poll.p95Ms).toBe(afterPoll.poll.p50Ms);
    expect(afterPoll.webhook.count).toBe(0);

    fake.edit(2, { labels: ["bug"] });
    await deliverAndApply(project, await fake.webhook("labeled", 2));
    const afterHook = await status(project.id);
    expect(afterHook.webhook.count).toBe(1);
    expect(afterHook.webhook.maxMs).toBeGreaterThanOrEqual(190_000);
    expect(afterHook.poll.count).toBe(1);
  });

  it("a change the store already has (an echo, a repeated delivery) is not counted", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seed(1);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    fake.edit(1, { title: "once" });
    const hook = await fake.webhook("edited", 1);
    await deliverAndApply(project, hook);
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
    const f = await status(project.id);
    expect(f.webhook.count).toBe(1);
    expect(f.poll.count).toBe(0);
  });

  it("the daily retention prunes hours older than a week", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seed(1);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    fake.edit(1, { title: "edited" });
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
    const rows = () => env.DB.prepare("select count(*) as n from freshness where project_id = ?").bind(project.id).first<{ n: number }>();
    expect((await rows())!.n).toBe(1);
    await pruneHistory(env, Date.now() + 6 * 86_400_000);
    expect((await rows())!.n).toBe(1);
    const result = await pruneHistory(env, Date.now() + 8 * 86_400_000);
    expect(result.freshness).toBeGreaterThanOrEqual(1);
    expect((await rows())!.n).toBe(0);
  });
});
