/**
 * Gitea organisation labels: `/repos/{o}/{r}/labels` lists repository labels only; organisation
 * labels are at `/orgs/{o}/labels`, and creating a label whose name exists makes a second one. A
 * push must use the existing label, never create a grey copy of it.
 */
import { describe, expect, it, vi } from "vitest";
import { api, createIssue, json } from "../support/api";
import { projectWithTracker } from "../support/trackers";

async function waitSynced(projectId: string, issueId: string): Promise<any> {
  return vi.waitFor(
    async () => {
      const issue = await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}`));
      if (issue.syncState !== "synced") throw new Error(`issue still ${issue.syncState}: ${issue.syncError}`);
      return issue;
    },
    { timeout: 15_000, interval: 25 },
  );
}

const labelCreates = (fake: { requests: { method: string; path: string }[] }) =>
  fake.requests.filter((r) => r.method === "POST" && /\/labels(\?|$)/.test(r.path)).length;

describe("gitea: organisation labels", () => {
  it("a create and an edit with organisation labels use them and create no repository copy", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "outbound" });
    const orgLabel = fake.store.addOrgLabel("priority/high");
    fake.store.addOrgLabel("kind/bug");

    const created = await createIssue(project.id, { title: "Uses org labels", labels: ["priority/high"] });
    const issue = await waitSynced(project.id, created.id);
    const number = issue.external.number;
    expect(fake.issue(number)!.labels).toEqual(["priority/high"]);

    const res = await api(`/api/v1/projects/${project.id}/issues/${created.id}`, { method: "PATCH", body: { labels: ["priority/high", "kind/bug", "new-one"] } });
    expect(res.status).toBe(200);
    await waitSynced(project.id, created.id);
    expect([...fake.issue(number)!.labels].sort()).toEqual(["kind/bug", "new-one", "priority/high"]);

    // Only the label that existed nowhere was created; the org label was never copied.
    expect(labelCreates(fake)).toBe(1);
    expect(fake.store.duplicatedLabelNames).toEqual([]);
    expect(fake.store.labels.has("priority/high")).toBe(false);
    expect(fake.store.orgLabels.get("priority/high")).toBe(orgLabel);
  });

  it("a user-owned repository (organisation labels answer 404) still resolves repository labels", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "outbound" });
    fake.store.ensureLabel("bug");
    const created = await createIssue(project.id, { title: "User repo", labels: ["bug"] });
    const issue = await waitSynced(project.id, created.id);
    expect(fake.issue(issue.external.number)!.labels).toEqual(["bug"]);
    expect(labelCreates(fake)).toBe(0);
    expect(fake.store.duplicatedLabelNames).toEqual([]);
  });

  it("a label created on the tracker after the adapter listed labels is not created a second time", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "outbound" });
    fake.store.ensureLabel("bug");
    const created = await createIssue(project.id, { title: "First", labels: ["bug"] });
    await waitSynced(project.id, created.id);
    // Someone adds an organisation label between two pushes.
    fake.store.addOrgLabel("triaged");
    const res = await api(`/api/v1/projects/${project.id}/issues/${created.id}`, { method: "PATCH", body: { labels: ["bug", "triaged"] } });
    expect(res.status).toBe(200);
    const issue = await waitSynced(project.id, created.id);
    expect([...fake.issue(issue.external.number)!.labels].sort()).toEqual(["bug", "triaged"]);
    expect(fake.store.duplicatedLabelNames).toEqual([]);
  });
});
