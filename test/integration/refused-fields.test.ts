/**
 * Trackers that accept a write and silently drop part of it: GitHub without push access drops
 * labels/assignees/milestone (200), GitLab Free keeps one assignee. The answer is compared with what
 * was sent; a refused field is kept locally, named on the issue (`syncWarnings`) and in status, and
 * the issue is not pushed again and again.
 */
import { describe, expect, it, vi } from "vitest";
import { api, createIssue, json } from "../support/api";
import { projectWithTracker } from "../support/trackers";

async function waitSettled(projectId: string, issueId: string): Promise<any> {
  return vi.waitFor(
    async () => {
      const issue = await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}`));
      if (issue.syncState === "pending_push") throw new Error("still pending");
      return issue;
    },
    { timeout: 15_000, interval: 25 },
  );
}

const writes = (fake: { requests: { method: string }[] }) => fake.requests.filter((r) => r.method !== "GET").length;

describe("fields the tracker refused silently", () => {
  it("github: a token without push access drops the labels of an edit; local keeps them and the issue says why, once", async () => {
    const { fake, project } = await projectWithTracker("github");
    const created = await createIssue(project.id, { title: "Needs a label" });
    const linked = await waitSettled(project.id, created.id);
    expect(linked.syncState).toBe("synced");
    fake.store.tokenWithoutPushAccess = true;

    const res = await api(`/api/v1/projects/${project.id}/issues/${created.id}`, { method: "PATCH", body: { title: "Needs a label (edited)", labels: ["bug"], assignees: ["alice"] } });
    expect(res.status).toBe(200);
    const issue = await waitSettled(project.id, created.id);
    const number = issue.external.number;
    expect(fake.issue(number)!.title).toBe("Needs a label (edited)");
    expect(fake.issue(number)!.labels).toEqual([]);
    // Kept locally, not overwritten by the answer.
    expect(issue.labels).toEqual(["bug"]);
    expect(issue.assignees).toEqual(["alice"]);
    expect(issue.syncWarnings.map((w: any) => w.field).sort()).toEqual(["assignees", "labels"]);
    expect(issue.syncWarnings[0].reason).toMatch(/tracker/i);

    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status.issuesWithSyncWarnings).toBe(1);

    // No loop: a later sync run and some time bring no further writes.
    const before = writes(fake);
    const run = await json(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: {} }));
    await vi.waitFor(async () => {
      const r = await json(await api(`/api/v1/sync-runs/${run.runId}`));
      if (r.status !== "succeeded") throw new Error(r.status);
    }, { timeout: 15_000, interval: 25 });
    await new Promise((r) => setTimeout(r, 300));
    expect(writes(fake)).toBe(before);
    const again = await json(await api(`/api/v1/projects/${project.id}/issues/${created.id}`));
    expect(again.labels).toEqual(["bug"]);
  });

  it("gitlab free tier: a create with two assignees keeps the first on the tracker; local keeps both and says why", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    fake.store.singleAssignee = true;
    const created = await createIssue(project.id, { title: "Two people", assignees: ["alice", "bob"] });
    const issue = await waitSettled(project.id, created.id);
    expect(fake.issue(issue.external.number)!.assignees).toEqual(["alice"]);
    expect(issue.assignees).toEqual(["alice", "bob"]);
    expect(issue.syncWarnings).toMatchObject([{ field: "assignees", sent: ["alice", "bob"], tracker: ["alice"] }]);
  });
});
