import { describe, expect, it } from "vitest";
import { parseWebhook, WebhookPayloadError } from "../../../src/providers";
import { FakeTracker } from "../../fakes/fake-tracker.ts";
import giteaLabelUpdated from "../../fixtures/gitea/issue-label-updated.json";
import giteaOpened from "../../fixtures/gitea/issues-opened-offset.json";
import giteaPullRequest from "../../fixtures/gitea/pull-request-opened.json";
import giteaPush from "../../fixtures/webhooks/gitea/push.json";
import gitlabOpen2018 from "../../fixtures/gitlab/issue-hook-open-2018-format.json";
import gitlabMergeRequest from "../../fixtures/webhooks/gitlab/merge-request-hook.json";
import gitlabPush from "../../fixtures/gitlab/push-hook.json";
import gitlabUpdateMilestone from "../../fixtures/gitlab/issue-hook-update-with-milestone.json";
import gitlabTask from "../../fixtures/gitlab/work-item-hook-task.json";

const gitlab = (event: string) => new Headers({ "X-Gitlab-Event": event });
const gitea = (event: string, type?: string) =>
  new Headers(type ? { "X-Gitea-Event": event, "X-Gitea-Event-Type": type } : { "X-Gitea-Event": event });

describe("GitLab Issue Hook", () => {
  it("maps an old-format (2018, `… UTC`) open hook to a complete snapshot", () => {
    const normalized = parseWebhook("gitlab", gitlab("Issue Hook"), gitlabOpen2018);
    expect(normalized).toMatchObject({ kind: "issue", action: "opened", event: "Issue Hook", complete: true, movedTo: null });
    expect(normalized.issue).toEqual({
      externalId: "301",
      number: 23,
      url: "http://example.com/gitlabhq/gitlab-test/issues/23",
      title: "New API: create/update/delete file",
      body: "Create new API for manipulations with repository",
      state: "open",
      labels: ["API", "backend"],
      assignees: ["user1"],
      milestone: null,
      createdAt: "2018-09-17T21:01:30.000Z",
      updatedAt: "2018-09-17T21:05:12.000Z",
      closedAt: null,
    });
  });

  it("marks a hook with a set milestone incomplete: only milestone_id is sent, not its title", () => {
    const normalized = parseWebhook("gitlab", gitlab("Issue Hook"), gitlabUpdateMilestone);
    expect(normalized.action).toBe("edited");
    expect(normalized.complete).toBe(false);
    expect(normalized.summary).toMatchObject({ milestoneId: 7 });
    expect(normalized.changedFields).toEqual(["milestone", "title"]);
    expect(normalized.issue).toMatchObject({ body: "", assignees: [], labels: ["API"], updatedAt: "2024-03-02T11:30:00.250Z" });
  });

  it("reads a missing `assignees` as nobody only when assignee_ids is empty", () => {
    const attrs = { ...gitlabOpen2018.object_attributes };
    const { assignees: _, ...withoutAssignees } = gitlabOpen2018;
    expect(parseWebhook("gitlab", gitlab("Issue Hook"), { ...withoutAssignees, object_attributes: attrs }).complete).toBe(false);
    const none = { ...withoutAssignees, object_attributes: { ...attrs, assignee_ids: [] } };
    const normalized = parseWebhook("gitlab", gitlab("Issue Hook"), none);
    expect(normalized.complete).toBe(true);
    expect(normalized.issue?.assignees).toEqual([]);
  });

  it.each([
    ["update", "edited"],
    ["close", "closed"],
    ["reopen", "reopened"],
  ])("maps action %s to %s", (action, canonical) => {
    const payload = { ...gitlabOpen2018, object_attributes: { ...gitlabOpen2018.object_attributes, action } };
    expect(parseWebhook("gitlab", gitlab("Issue Hook"), payload).action).toBe(canonical);
  });

  it("treats Confidential Issue Hook like Issue Hook", () => {
    const payload = { ...gitlabOpen2018, event_type: "confidential_issue" };
    expect(parseWebhook("gitlab", gitlab("Confidential Issue Hook"), payload).kind).toBe("issue");
  });

  it("reports a moved issue (close with moved_to_id) as transferred", () => {
    const attrs = { ...gitlabOpen2018.object_attributes, action: "close", state: "closed", moved_to_id: 999 };
    const normalized = parseWebhook("gitlab", gitlab("Issue Hook"), { ...gitlabOpen2018, object_attributes: attrs });
    expect(normalized.action).toBe("transferred");
    expect(normalized.summary).toMatchObject({ movedToId: 999 });
  });

  it("treats a work item that is not an issue as kind other", () => {
    expect(parseWebhook("gitlab", gitlab("Issue Hook"), gitlabTask).kind).toBe("other");
  });

  it("names the missing field", () => {
    const { iid: _, ...attrs } = gitlabOpen2018.object_attributes;
    expect(() => parseWebhook("gitlab", gitlab("Issue Hook"), { ...gitlabOpen2018, object_attributes: attrs })).toThrow(
      WebhookPayloadError,
    );
    expect(() => parseWebhook("gitlab", gitlab("Issue Hook"), { ...gitlabOpen2018, object_attributes: attrs })).toThrow(
      /object_attributes\.iid/,
    );
  });

  it("normalizes merge request and push hooks by kind", () => {
    expect(parseWebhook("gitlab", gitlab("Merge Request Hook"), gitlabMergeRequest)).toMatchObject({
      kind: "pull_request",
      action: "open",
      summary: { number: 7, headRef: "fix-login", baseRef: "main" },
    });
    expect(parseWebhook("gitlab", gitlab("Push Hook"), gitlabPush)).toMatchObject({
      kind: "push",
      summary: { ref: "refs/heads/master", commits: 1 },
    });
    expect(parseWebhook("gitlab", gitlab("Pipeline Hook"), { object_kind: "pipeline" }).kind).toBe("other");
  });

  it("parses the fake's deliveries in both timestamp formats", async () => {
    const fake = new FakeTracker("gitlab", { baseUrl: "https://gitlab.example/api/v4" });
    fake.seedIssue({ title: "Hook", labels: ["x"], assignees: ["bob"] });
    for (const gitlabTimeFormat of ["utc", "iso"] as const) {
      const delivery = await fake.webhook("update", 1, { gitlabTimeFormat });
      const normalized = parseWebhook("gitlab", new Headers(delivery.headers), delivery.payload);
      expect(normalized).toMatchObject({ kind: "issue", action: "edited", complete: true });
      expect(normalized.issue).toMatchObject({ title: "Hook", labels: ["x"], assignees: ["bob"], createdAt: "2024-01-01T00:00:00.000Z" });
    }
  });
});

describe("Gitea issue events", () => {
  it("maps an opened event with a +02:00 timestamp and null assignees", () => {
    const normalized = parseWebhook("gitea", gitea("issues", "issues"), giteaOpened);
    expect(normalized).toMatchObject({ kind: "issue", action: "opened", event: "issues", complete: true });
    expect(normalized.issue).toEqual({
      externalId: "1207",
      number: 7,
      url: "https://gitea.example/acme/widgets/issues/7",
      title: "Crash on save",
      body: "",
      state: "open",
      labels: ["kind/bug"],
      assignees: [],
      milestone: "v1.2",
      createdAt: "2024-05-02T13:17:35.000Z",
      updatedAt: "2024-05-02T13:17:35.000Z",
      closedAt: null,
    });
  });

  it("maps label_updated from an issue_label event with a negative offset", () => {
    const normalized = parseWebhook("gitea", gitea("issues", "issue_label"), giteaLabelUpdated);
    expect(normalized.action).toBe("labeled");
    expect(normalized.changedFields).toEqual(["labels"]);
    expect(normalized.issue).toMatchObject({
      labels: ["kind/bug", "perf"],
      assignees: ["alice", "bob"],
      state: "closed",
      closedAt: "2024-05-03T13:30:00.000Z",
    });
  });

  it.each([
    ["assigned", "issue_assign", "assigned"],
    ["unassigned", "issue_assign", "assigned"],
    ["label_cleared", "issue_label", "labeled"],
    ["milestoned", "issue_milestone", "milestoned"],
    ["demilestoned", "issue_milestone", "milestoned"],
    ["edited", "issues", "edited"],
    ["closed", "issues", "closed"],
    ["reopened", "issues", "reopened"],
    ["deleted", "issues", "deleted"],
  ])("maps %s (%s) to %s", (action, type, canonical) => {
    expect(parseWebhook("gitea", gitea("issues", type), { ...giteaOpened, action }).action).toBe(canonical);
  });

  it("works with older Gitea that sends no X-Gitea-Event-Type", () => {
    expect(parseWebhook("gitea", gitea("issues"), giteaOpened).kind).toBe("issue");
  });

  it("normalizes pull request and push events by kind", () => {
    expect(parseWebhook("gitea", gitea("pull_request", "pull_request"), giteaPullRequest)).toMatchObject({
      kind: "pull_request",
      action: "opened",
      summary: { number: 9, headRef: "feature/cache", baseRef: "main" },
    });
    expect(parseWebhook("gitea", gitea("pull_request", "pull_request_label"), giteaPullRequest).kind).toBe("pull_request");
    expect(parseWebhook("gitea", gitea("push", "push"), giteaPush)).toMatchObject({ kind: "push", summary: { commits: 1 } });
    // issue_comment is a comment event (issue 12): an issue payload without `comment` is refused.
    expect(() => parseWebhook("gitea", gitea("issue_comment", "issue_comment"), giteaOpened)).toThrow(/comment/);
  });

  it("names the missing field", () => {
    const { title: _, ...issue } = giteaOpened.issue;
    expect(() => parseWebhook("gitea", gitea("issues", "issues"), { ...giteaOpened, issue })).toThrow(/issue\.title/);
  });

  it("parses the fake's deliveries for every issue event type", async () => {
    const fake = new FakeTracker("gitea", { baseUrl: "https://gitea.example/api/v1" });
    fake.seedIssue({ title: "G", labels: ["l"], milestone: "m1" });
    for (const action of ["opened", "label_updated", "assigned", "milestoned"]) {
      const delivery = await fake.webhook(action, 1);
      const normalized = parseWebhook("gitea", new Headers(delivery.headers), delivery.payload);
      expect(normalized.kind).toBe("issue");
      expect(normalized.issue).toMatchObject({ title: "G", labels: ["l"], milestone: "m1", assignees: [] });
    }
  });
});
