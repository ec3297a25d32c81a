import { describe, expect, it, vi } from "vitest";
import type { FakeIssue, IssueEdit, IssueSeed } from "../fakes/fake-tracker";
import giteaPush from "../fixtures/webhooks/gitea/push.json";
import gitlabMergeRequest from "../fixtures/webhooks/gitlab/merge-request-hook.json";
import gitlabNote from "../fixtures/webhooks/gitlab/note-hook.json";
import { api, expectProblem, json, SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker } from "../support/trackers";
import { accepted, countRows, deliver, deliverAndApply, deliveryRow, storedIssues, waitProcessed } from "./webhooks.support";

type Provider = "gitlab" | "gitea";

async function trackerProject(provider: Provider, overrides: Record<string, unknown> = {}) {
  return projectWithTracker(provider, overrides, { webhookSecret: SECRET_WEBHOOK });
}

/** The synced fields as the tracker holds them now. */
function fieldsOf(issue: FakeIssue) {
  return {
    title: issue.title,
    body: issue.body ?? "",
    state: issue.state,
    labels: [...new Set(issue.labels)].sort(),
    assignees: [...new Set(issue.assignees)].sort(),
    milestone: issue.milestone,
  };
}

interface ActionCase {
  /** The tracker's own action string. */
  action: string;
  /** What a person changes in the tracker before it sends the hook. */
  edit: IssueEdit;
  /** Fields of the seeded issue before the edit (defaults: open, label "bug", assignee alice). */
  seed?: IssueSeed;
  changes?: Record<string, unknown>;
}

const OPENED: Record<Provider, string> = { gitlab: "open", gitea: "opened" };

const CASES: Record<Provider, ActionCase[]> = {
  gitlab: [
    { action: "update", edit: { title: "Renamed in GitLab", body: "New description" }, changes: { title: { previous: "Seeded", current: "Renamed in GitLab" } } },
    { action: "update", edit: { labels: ["bug", "p1"] }, changes: { labels: { previous: [], current: [] } } },
    { action: "update", edit: { assignees: ["alice", "bob"] } },
    { action: "update", edit: { assignees: [] } },
    { action: "close", edit: { state: "closed" } },
    { action: "reopen", edit: { state: "open" }, seed: { state: "closed" } },
  ],
  gitea: [
    { action: "edited", edit: { title: "Renamed in Gitea", body: "New body" }, changes: { title: { from: "Seeded" } } },
    { action: "closed", edit: { state: "closed" } },
    { action: "reopened", edit: { state: "open" }, seed: { state: "closed" } },
    { action: "label_updated", edit: { labels: ["bug", "p1"] } },
    { action: "label_cleared", edit: { labels: [] } },
    { action: "assigned", edit: { assignees: ["alice", "bob"] } },
    { action: "unassigned", edit: { assignees: [] } },
    { action: "milestoned", edit: { milestone: "v2.0" } },
    { action: "demilestoned", edit: { milestone: null }, seed: { milestone: "v1.0" } },
  ],
};

async function seededAndImported(provider: Provider, seed: IssueSeed = {}, overrides: Record<string, unknown> = {}) {
  const { fake, project } = await trackerProject(provider, overrides);
  const issue = fake.seedIssue({ title: "Seeded", labels: ["bug"], assignees: ["alice"], ...seed });
  await deliverAndApply(project, await fake.webhook(OPENED[provider], issue.number));
  return { fake, project, issue };
}

describe.each(["gitlab", "gitea"] as const)("%s issue hooks", (provider) => {
  it(`${OPENED[provider]} for an unknown issue imports it with every synced field`, async () => {
    const { fake, project } = await trackerProject(provider);
    const issue = fake.seedIssue({ title: "From the tracker", body: "Steps", labels: ["bug", "ui"], assignees: ["bob"] });
    await deliverAndApply(project, await fake.webhook(OPENED[provider], issue.number));
    expect(await storedIssues(project.id)).toMatchObject([{ ...fieldsOf(issue), external_id: String(issue.id), sync_state: "synced" }]);
  });

  it.each(CASES[provider].map((c) => [`${c.action} ${JSON.stringify(c.edit)}`, c] as const))(
    "%s changes the local issue to what the tracker holds",
    async (_name, c) => {
      const { fake, project, issue } = await seededAndImported(provider, c.seed);
      fake.advance(60_000);
      fake.edit(issue.number, c.edit);
      await deliverAndApply(project, await fake.webhook(c.action, issue.number, c.changes ? { changes: c.changes } : {}));
      expect(await storedIssues(project.id)).toMatchObject([{ ...fieldsOf(fake.issue(issue.number)!), sync_state: "synced" }]);
    },
  );

  it("a wrong or missing signature/token answers 401 and stores nothing", async () => {
    const { fake, project } = await trackerProject(provider);
    const issue = fake.seedIssue();
    const hook = await fake.webhook(OPENED[provider], issue.number);
    const header = provider === "gitlab" ? "x-gitlab-token" : "x-gitea-signature";
    const wrong = provider === "gitlab" ? "not-the-secret" : "0".repeat(64);
    await expectProblem(await deliver(project, { ...hook, headers: { ...hook.headers, [header]: wrong } }), 401);
    const { [header]: _, ...without } = hook.headers;
    await expectProblem(await deliver(project, { ...hook, headers: without }), 401);
    expect(await countRows("webhook_deliveries", project.id)).toBe(0);
    expect(await countRows("issues", project.id)).toBe(0);
  });
});

describe("GitLab specifics", () => {
  it("a moved issue (moved_to_id) is orphaned under the default policy", async () => {
    const { fake, project, issue } = await seededAndImported("gitlab");
    fake.transfer(issue.number);
    await deliverAndApply(project, await fake.webhook("close", issue.number));
    expect(await storedIssues(project.id)).toMatchObject([{ sync_state: "orphaned", state: "open", title: "Seeded" }]);
  });

  it("a moved issue is deleted locally under deletion policy delete", async () => {
    const { fake, project, issue } = await seededAndImported("gitlab", {}, { deletionPolicy: "delete" });
    fake.transfer(issue.number);
    await deliverAndApply(project, await fake.webhook("close", issue.number));
    expect(await storedIssues(project.id)).toEqual([]);
  });

  it("an update that sets a milestone (only milestone_id in the hook) is no snapshot: nothing changes, a sync is asked for", async () => {
    const { fake, project, issue } = await seededAndImported("gitlab");
    const before = await storedIssues(project.id);
    fake.advance(60_000);
    fake.edit(issue.number, { milestone: "v1.0", title: "Also renamed" });
    const id = await deliverAndApply(project, await fake.webhook("update", issue.number));
    expect(await storedIssues(project.id)).toEqual(before);
    expect((await deliveryRow(id))!.error).toMatch(/incremental sync was requested/);
  });

  it("a Confidential Issue Hook with ISO timestamps is applied like an Issue Hook", async () => {
    const { fake, project } = await trackerProject("gitlab");
    const issue = fake.seedIssue({ title: "Secret bug", confidential: true });
    const hook = await fake.webhook("open", issue.number, { gitlabTimeFormat: "iso" });
    expect(hook.headers["x-gitlab-event"]).toBe("Confidential Issue Hook");
    await deliverAndApply(project, hook);
    expect(await storedIssues(project.id)).toMatchObject([{ title: "Secret bug" }]);
  });

  it("a delivery retried with the same Idempotency-Key answers 200 duplicate", async () => {
    const { fake, project } = await trackerProject("gitlab");
    const issue = fake.seedIssue();
    const payload = (await fake.webhook("open", issue.number)).payload;
    const first = await fake.signedWebhook("Issue Hook", payload, "retry-key-1");
    const retry = await fake.signedWebhook("Issue Hook", payload, "retry-key-1");
    expect(retry.headers["x-gitlab-webhook-uuid"]).not.toBe(first.headers["x-gitlab-webhook-uuid"]);
    await deliverAndApply(project, first);
    const res = await deliver(project, retry);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ status: "duplicate" });
    expect(await countRows("webhook_deliveries", project.id)).toBe(1);
    expect(await countRows("issues", project.id)).toBe(1);
  });

  it("an incident (a work item, not an issue) answers 200 ignored and imports nothing", async () => {
    const { fake, project } = await trackerProject("gitlab");
    const incident = fake.seedPullRequest({ title: "Outage" });
    const res = await deliver(project, await fake.webhook("open", incident.number));
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: "ignored" });
    expect(await countRows("issues", project.id)).toBe(0);
  });

  it("a Merge Request Hook lands in the event log as a pull_request event", async () => {
    const { fake, project } = await trackerProject("gitlab");
    await deliverAndApply(project, await fake.signedWebhook("Merge Request Hook", gitlabMergeRequest));
    const events = await json(await api(`/api/v1/projects/${project.id}/events?kind=pull_request`));
    expect(events.items).toMatchObject([
      { provider: "gitlab", kind: "pull_request", externalNumber: 7, data: { summary: { title: "Fix the login redirect", headRef: "fix-login", baseRef: "main" } } },
    ]);
    expect(await countRows("issues", project.id)).toBe(0);
  });

  it("a Note Hook on an issue (comment) is accepted and logged as a comment event (issue 12)", async () => {
    const { fake, project } = await trackerProject("gitlab");
    const res = await deliver(project, await fake.signedWebhook("Note Hook", gitlabNote));
    expect(res.status).toBe(202);
    expect(await json(res)).toMatchObject({ status: "accepted" });
    await vi.waitFor(async () => expect(await countRows("events", project.id)).toBe(1), { timeout: 10_000, interval: 25 });
  });
});

describe("Gitea specifics", () => {
  it("deleted (Gitea 1.25+) orphans the local issue; with policy delete it removes it", async () => {
    for (const [policy, expected] of [["orphan", 1], ["delete", 0]] as const) {
      const { fake, project, issue } = await seededAndImported("gitea", {}, { deletionPolicy: policy });
      fake.delete(issue.number);
      await deliverAndApply(project, await fake.webhook("deleted", issue.number));
      const stored = await storedIssues(project.id);
      expect(stored).toHaveLength(expected);
      if (expected === 1) expect(stored[0]).toMatchObject({ sync_state: "orphaned", sync_error: "deleted in the tracker" });
    }
  });

  it("a push lands in the event log as kind push", async () => {
    const { fake, project } = await trackerProject("gitea");
    const id = await accepted(await deliver(project, await fake.signedWebhook("push", giteaPush)));
    expect((await waitProcessed(id)).status).toBe("applied");
    const events = await json(await api(`/api/v1/projects/${project.id}/events`));
    expect(events.items).toMatchObject([{ id, provider: "gitea", kind: "push", data: { summary: { ref: "refs/heads/main", commits: 1 } } }]);
  });
});
