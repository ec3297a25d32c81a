/**
 * A frozen issue (out of the sync scope, `onLeave: "freeze"`) syncs nothing, comments included:
 * tracker comments wait and local comments stay unsent until the issue is back in scope.
 */
import { describe, expect, it, vi } from "vitest";
import { api, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import type { Provider } from "../../src/providers/types";

const TRACKERS: Provider[] = ["github", "gitlab", "gitea"];

async function commentsOf(projectId: string, issueId: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments?limit=500`))).items;
}

describe.each(TRACKERS)("%s: comments of a frozen issue", (provider) => {
  it("neither arrive nor leave while the issue is out of scope, and both sync once it is back", async () => {
    // Two labels (an OR): never pushed down to GitLab's list filter, so every poll sees the issue leave
    // (with a pushed-down filter GitLab only shows it at the next full run: see docs).
    const { fake, project } = await projectWithTracker(provider, { scope: { labelsAny: ["syndarix", "synced"] } });
    const seeded = fake.seedIssue({ title: "in scope", labels: ["syndarix"] });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(seeded.number)!;

    // Leaves scope on the tracker: frozen.
    fake.edit(seeded.number, { labels: ["bug"] });
    await syncAndWait(project.id);
    fake.addComment(seeded.number, { body: "said on the tracker while frozen", author: "carol" });
    await syncAndWait(project.id);
    await syncAndWait(project.id, "full");
    expect((await commentsOf(project.id, local.id)).map((c) => c.body)).toEqual([]);

    const res = await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments`, { method: "POST", body: { body: "said here while frozen" } });
    expect(res.status).toBe(201);
    await new Promise((r) => setTimeout(r, 500));
    expect(fake.commentsOf(seeded.number).map((c) => c.body)).toEqual(["said on the tracker while frozen"]);

    // Back in scope: the waiting tracker comment arrives and the held local one goes out.
    fake.edit(seeded.number, { labels: ["bug", "syndarix"] });
    await syncAndWait(project.id);
    await vi.waitFor(
      async () => {
        const bodies = (await commentsOf(project.id, local.id)).map((c) => c.body).sort();
        expect(bodies).toEqual(["said here while frozen", "said on the tracker while frozen"]);
        expect(fake.commentsOf(seeded.number).some((c) => c.body.includes("said here while frozen"))).toBe(true);
      },
      { timeout: 15_000, interval: 100 },
    );
  });
});
