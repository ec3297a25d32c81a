/**
 * `scope.onLeave: "unlink"` through the Worker: an issue leaving scope (on the tracker or by a local
 * edit) loses its link; neither side is closed, deleted or written to.
 */
import { describe, expect, it, vi } from "vitest";
import { api, expectProblem, json } from "../support/api";
import { listAllIssues, localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import type { Provider } from "../../src/providers/types";

const TRACKERS: Provider[] = ["github", "gitlab", "gitea"];
const writes = (fake: { requests: { method: string }[] }) => fake.requests.filter((r) => r.method !== "GET").length;

async function issueOf(projectId: string, issueId: string): Promise<any> {
  return json(await api(`/api/v1/projects/${projectId}/issues/${issueId}`));
}

describe.each(TRACKERS)("%s: scope onLeave unlink", (provider) => {
  it("a tracker issue leaving scope is unlinked: both issues stay open and unchanged, later tracker edits do not arrive", async () => {
    const { fake, project } = await projectWithTracker(provider, { scope: { labelsAny: ["syndarix"], onLeave: "unlink" } });
    expect(project.scope.onLeave).toBe("unlink");
    const seeded = fake.seedIssue({ title: "in scope", labels: ["syndarix"] });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(seeded.number)!;
    expect(local.external.number).toBe(seeded.number);

    fake.edit(seeded.number, { labels: ["bug"] });
    const before = writes(fake);
    // GitLab lists with the scope pushed down: the issue that left is seen by the full run's probe.
    await syncAndWait(project.id, provider === "gitlab" ? "full" : "incremental");
    const unlinked = await issueOf(project.id, local.id);
    expect(unlinked.external).toBeNull();
    expect(unlinked.state).toBe("open");
    expect(unlinked.deletedAt).toBeNull();
    expect(unlinked.syncState).toBe("synced");
    // The local issue keeps what it last had (labels included): unlinking writes nothing back.
    expect(unlinked.labels).toEqual(["syndarix"]);
    expect(fake.issue(seeded.number)!.state).toBe("open");
    expect(writes(fake)).toBe(before);
    const activity = await json(await api(`/api/v1/projects/${project.id}/activity?issueId=${local.id}&kind=issue.updated`));
    expect(activity.items.at(-1)).toMatchObject({ changes: { externalNumber: { before: seeded.number, after: null } } });
    expect(activity.items.at(-1).detail).toContain("unlinked");

    // Later tracker edits (a close included) never reach the unlinked local issue; a full run orphans nothing.
    fake.edit(seeded.number, { title: "renamed on the tracker", state: "closed" });
    await syncAndWait(project.id, "full");
    const after = await issueOf(project.id, local.id);
    expect(after).toMatchObject({ title: "in scope", state: "open", external: null, syncState: "synced", deletedAt: null });
    expect((await listAllIssues(project.id)).length).toBe(1);
    expect(writes(fake)).toBe(before);
  });

  it("a local edit taking the issue out of scope unlinks it without sending the edit or closing the tracker issue", async () => {
    const { fake, project } = await projectWithTracker(provider, { scope: { labelsAny: ["syndarix"], onLeave: "unlink" } });
    const seeded = fake.seedIssue({ title: "in scope", labels: ["syndarix"] });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(seeded.number)!;
    const before = writes(fake);
    const res = await api(`/api/v1/projects/${project.id}/issues/${local.id}`, { method: "PATCH", body: { labels: [], state: "closed" } });
    expect(res.status).toBe(200);
    const unlinked = await vi.waitFor(
      async () => {
        const issue = await issueOf(project.id, local.id);
        if (issue.external !== null) throw new Error("still linked");
        return issue;
      },
      { timeout: 15_000, interval: 25 },
    );
    expect(unlinked).toMatchObject({ state: "closed", labels: [], syncState: "synced", deletedAt: null });
    expect(writes(fake)).toBe(before);
    expect(fake.issue(seeded.number)).toMatchObject({ state: "open", labels: ["syndarix"] });

    // Back in scope locally: a local-only issue again, so it is created on the tracker as a new issue.
    await api(`/api/v1/projects/${project.id}/issues/${local.id}`, { method: "PATCH", body: { labels: ["syndarix"], state: "open" } });
    const relinked = await vi.waitFor(
      async () => {
        const issue = await issueOf(project.id, local.id);
        if (issue.external === null || issue.syncState !== "synced") throw new Error("not created yet");
        return issue;
      },
      { timeout: 15_000, interval: 25 },
    );
    expect(relinked.external.number).not.toBe(seeded.number);
    expect(fake.issue(seeded.number)).toMatchObject({ state: "open", labels: ["syndarix"] });
  });
});

describe("scope onLeave unlink: dry run", () => {
  it("shows the links that would go, and changes nothing", async () => {
    const { fake, project } = await projectWithTracker("github");
    const seeded = fake.seedIssue({ title: "untagged", labels: ["bug"] });
    await syncAndWait(project.id);
    const res = await api(`/api/v1/projects/${project.id}?dryRun=true`, { method: "PATCH", body: { scope: { labelsAny: ["syndarix"], onLeave: "unlink" } } });
    expect(res.status).toBe(200);
    const report = await json(res);
    expect(report.wouldLeaveScope).toBe(1);
    expect(report.samples).toEqual([expect.objectContaining({ action: "leave_scope", externalNumber: seeded.number, changes: { externalNumber: { before: seeded.number, after: null } } })]);
    expect((await localByNumber(project.id)).get(seeded.number)!.external.number).toBe(seeded.number);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).scope).toBeNull();
  });
});

describe("scope onLeave: bad input", () => {
  it("refuses an unknown onLeave with 400 naming scope.onLeave", async () => {
    const { project } = await projectWithTracker("github");
    const bad = await expectProblem(await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { scope: { labelsAny: ["x"], onLeave: "close" } } }), 400);
    expect(bad.errors!.map((e) => e.field)).toContain("scope.onLeave");
  });
});
