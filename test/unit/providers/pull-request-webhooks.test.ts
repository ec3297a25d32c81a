import examples from "@octokit/webhooks-examples";
import { describe, expect, it } from "vitest";
import { parseWebhook } from "../../../src/providers";
import giteaPullRequest from "../../fixtures/gitea/pull-request-opened.json";
import giteaPush from "../../fixtures/webhooks/gitea/push.json";
import gitlabMergeRequest from "../../fixtures/webhooks/gitlab/merge-request-hook.json";
import gitlabPush from "../../fixtures/gitlab/push-hook.json";

const headers = (name: string, value: string) => ({ get: (h: string) => (h.toLowerCase() === name ? value : null) });
const example = (name: string, pick: (p: Record<string, any>) => boolean) => ((examples.find((d) => d.name === name)?.examples ?? []) as Record<string, any>[]).find(pick)!;

describe("pull request and push payloads become canonical PRs and pushes", () => {
  it("GitHub pull_request (octokit example): state, refs, default branch, author", () => {
    const event = parseWebhook("github", headers("x-github-event", "pull_request"), example("pull_request", (p) => p.action === "opened"));
    expect(event.pullRequest).toMatchObject({
      externalId: "279147437",
      number: 2,
      state: "open",
      baseRef: "master",
      headRef: "changes",
      author: "Codertocat",
      updatedAt: "2019-05-15T15:20:33.000Z",
      defaultBranch: "master",
    });
  });

  it("GitHub: closed unmerged is closed, closed with merged true is merged, a converted draft is draft", () => {
    // The examples' closes are unmerged; a merge is the same payload with `merged` and `merged_at` set.
    const closed = example("pull_request", (p) => p.action === "closed");
    expect(parseWebhook("github", headers("x-github-event", "pull_request"), closed).pullRequest?.state).toBe("closed");
    const merged = { ...closed, pull_request: { ...closed.pull_request, merged: true, merged_at: closed.pull_request.closed_at } };
    expect(parseWebhook("github", headers("x-github-event", "pull_request"), merged).pullRequest).toMatchObject({ state: "merged", mergedAt: expect.any(String) });
    const draft = example("pull_request", (p) => p.action === "converted_to_draft");
    expect(parseWebhook("github", headers("x-github-event", "pull_request"), draft).pullRequest?.state).toBe("draft");
  });

  it("GitHub push (octokit example): ref, commits, default branch", () => {
    const push = example("push", (p) => Array.isArray(p.commits) && p.commits.length > 0);
    const event = parseWebhook("github", headers("x-github-event", "push"), push);
    expect(event.push).toMatchObject({ ref: push.ref, defaultBranch: push.repository.default_branch });
    expect(event.push?.commits[0]).toMatchObject({ sha: push.commits[0].id, message: push.commits[0].message });
  });

  it("GitLab Merge Request Hook: iid, opened state, branches, default branch, timestamps in UTC", () => {
    const event = parseWebhook("gitlab", headers("x-gitlab-event", "Merge Request Hook"), gitlabMergeRequest);
    expect(event.pullRequest).toMatchObject({
      externalId: "99",
      number: 7,
      state: "open",
      body: "Closes #3",
      baseRef: "main",
      headRef: "fix-login",
      updatedAt: "2024-01-02T10:00:00.000Z",
      defaultBranch: "main",
    });
    const merged = { ...gitlabMergeRequest, object_attributes: { ...gitlabMergeRequest.object_attributes, state: "merged", action: "merge" } };
    expect(parseWebhook("gitlab", headers("x-gitlab-event", "Merge Request Hook"), merged).pullRequest).toMatchObject({ state: "merged", mergedAt: "2024-01-02T10:00:00.000Z" });
  });

  it("GitLab Push Hook: commits", () => {
    const event = parseWebhook("gitlab", headers("x-gitlab-event", "Push Hook"), gitlabPush);
    expect(event.push?.commits[0]).toMatchObject({ sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", message: "fixed readme" });
  });

  it("Gitea pull_request without updated_at still maps; a WIP title is a draft", () => {
    const event = parseWebhook("gitea", headers("x-gitea-event-type", "pull_request"), giteaPullRequest);
    expect(event.pullRequest).toMatchObject({ number: 9, state: "open", baseRef: expect.any(String), updatedAt: null });
    const wip = { ...giteaPullRequest, pull_request: { ...giteaPullRequest.pull_request, title: "WIP: Add cache" } };
    expect(parseWebhook("gitea", headers("x-gitea-event-type", "pull_request"), wip).pullRequest?.state).toBe("draft");
  });

  it("Gitea push: commits and ref", () => {
    const event = parseWebhook("gitea", headers("x-gitea-event-type", "push"), giteaPush);
    expect(event.push).toMatchObject({ ref: "refs/heads/main", commits: [{ sha: "bffeb74224043ba2feb48d137756c8a9331c449a", message: "Fix the login redirect\n" }] });
  });
});
