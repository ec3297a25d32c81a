/**
 * The close reason (GitHub `state_reason`) through the Worker: read from polls and webhooks, pushed
 * back with a state change, and kept locally on trackers without the field (GitLab, Gitea).
 */
import { describe, expect, it, vi } from "vitest";
import { api, createIssue, expectProblem, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import { deliverAndApply } from "./webhooks.support";

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

function patchIssue(projectId: string, issueId: string, body: Record<string, unknown>): Promise<Response> {
  return api(`/api/v1/projects/${projectId}/issues/${issueId}`, { method: "PATCH", body });
}

const issueWrites = (fake: { requests: { method: string; path: string; body: unknown }[] }) =>
  fake.requests.filter((r) => r.method !== "GET" && /\/issues\/\d+$/.test(r.path.split("?")[0]!));

describe("github: state_reason", () => {
  it("imports each issue's state_reason as its closeReason", async () => {
    const { fake, project } = await projectWithTracker("github");
    const done = fake.seedIssue({ title: "Done" });
    const dropped = fake.seedIssue({ title: "Dropped" });
    const open = fake.seedIssue({ title: "Open" });
    fake.edit(done.number, { state: "closed" });
    fake.edit(dropped.number, { state: "closed", stateReason: "not_planned" });
    await syncAndWait(project.id);
    const local = await localByNumber(project.id);
    expect(local.get(done.number)!.closeReason).toBe("completed");
    expect(local.get(dropped.number)!.closeReason).toBe("not_planned");
    expect(local.get(open.number)!.closeReason).toBeNull();
  });

  it("reads the reason of an issues.closed webhook and of a reopen", async () => {
    const { fake, project } = await projectWithTracker("github");
    const seeded = fake.seedIssue({ title: "Hooked" });
    await syncAndWait(project.id);
    fake.edit(seeded.number, { state: "closed", stateReason: "not_planned" });
    await deliverAndApply(project, await fake.webhook("closed", seeded.number));
    let local = (await localByNumber(project.id)).get(seeded.number)!;
    expect(local.state).toBe("closed");
    expect(local.closeReason).toBe("not_planned");

    fake.edit(seeded.number, { state: "open" });
    await deliverAndApply(project, await fake.webhook("reopened", seeded.number));
    local = (await localByNumber(project.id)).get(seeded.number)!;
    expect(local.state).toBe("open");
    expect(local.closeReason).toBe("reopened");
  });

  it("pushes a local close reason as state_reason with the close, and takes GitHub's reason on reopen", async () => {
    const { fake, project } = await projectWithTracker("github");
    const seeded = fake.seedIssue({ title: "To close" });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(seeded.number)!;

    const res = await patchIssue(project.id, local.id, { state: "closed", closeReason: "not_planned" });
    expect(res.status).toBe(200);
    expect((await json(res)).closeReason).toBe("not_planned");
    let settled = await waitSettled(project.id, local.id);
    expect(settled.syncState).toBe("synced");
    expect(settled.closeReason).toBe("not_planned");
    const close = issueWrites(fake).at(-1)!;
    expect(close.body).toMatchObject({ state: "closed", state_reason: "not_planned" });
    expect(fake.issue(seeded.number)!.stateReason).toBe("not_planned");

    await patchIssue(project.id, local.id, { state: "open" });
    settled = await waitSettled(project.id, local.id);
    expect(fake.issue(seeded.number)!.state).toBe("open");
    // GitHub answers a reopen with state_reason "reopened": stored as it answered.
    expect(settled.closeReason).toBe("reopened");
  });

  it("closes without a reason as GitHub's default (completed) and stores what GitHub answered", async () => {
    const { fake, project } = await projectWithTracker("github");
    const created = await createIssue(project.id, { title: "Local then closed" });
    await waitSettled(project.id, created.id);
    await patchIssue(project.id, created.id, { state: "closed" });
    const settled = await waitSettled(project.id, created.id);
    const close = issueWrites(fake).at(-1)!;
    expect(close.body).toMatchObject({ state: "closed" });
    expect(close.body as Record<string, unknown>).not.toHaveProperty("state_reason");
    expect(settled.closeReason).toBe("completed");
  });

  it("keeps a reason changed on an already closed issue locally: GitHub takes state_reason only with a state change", async () => {
    const { fake, project } = await projectWithTracker("github");
    const seeded = fake.seedIssue({ title: "Closed" });
    fake.edit(seeded.number, { state: "closed" });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(seeded.number)!;
    const before = issueWrites(fake).length;
    const res = await patchIssue(project.id, local.id, { closeReason: "duplicate" });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.closeReason).toBe("duplicate");
    expect(body.syncState).toBe("synced");
    await syncAndWait(project.id, "full");
    expect(issueWrites(fake).length).toBe(before);
    const activity = await json(await api(`/api/v1/projects/${project.id}/activity?issueId=${local.id}&kind=issue.updated`));
    expect(activity.items.at(-1).changes.closeReason).toEqual({ before: "completed", after: "duplicate" });
  });
});

describe("close reason: bad input", () => {
  it("refuses a close reason on an issue left open with 422 naming closeReason, and an unknown reason with 400", async () => {
    const { fake, project } = await projectWithTracker("github");
    const seeded = fake.seedIssue({ title: "Open" });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(seeded.number)!;
    const open = await expectProblem(await patchIssue(project.id, local.id, { closeReason: "not_planned" }), 422);
    expect(open.errors).toEqual([expect.objectContaining({ field: "closeReason" })]);
    const unknown = await expectProblem(await patchIssue(project.id, local.id, { state: "closed", closeReason: "wontfix" }), 400);
    expect(unknown.errors!.map((e) => e.field)).toContain("closeReason");
    // "reopened" is GitHub's word for a reopened issue, never a local choice.
    expect((await expectProblem(await patchIssue(project.id, local.id, { closeReason: "reopened" }), 400)).errors!.map((e) => e.field)).toContain("closeReason");
    expect(fake.issue(seeded.number)!.state).toBe("open");
  });
});

describe.each(["gitlab", "gitea"] as const)("%s: close reason kept locally", (provider) => {
  it("closes the tracker issue and keeps the local reason, which no later sync clears", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const seeded = fake.seedIssue({ title: "No reasons here" });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(seeded.number)!;
    expect(local.closeReason).toBeNull();
    await patchIssue(project.id, local.id, { state: "closed", closeReason: "not_planned" });
    const settled = await waitSettled(project.id, local.id);
    expect(settled.syncState).toBe("synced");
    expect(fake.issue(seeded.number)!.state).toBe("closed");
    for (const write of issueWrites(fake)) expect(JSON.stringify(write.body ?? {})).not.toContain("not_planned");
    fake.edit(seeded.number, { title: "Renamed on the tracker" });
    await syncAndWait(project.id, "full");
    const after = (await localByNumber(project.id)).get(seeded.number)!;
    expect(after.title).toBe("Renamed on the tracker");
    expect(after.closeReason).toBe("not_planned");
  });
});
