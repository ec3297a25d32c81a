import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Provider } from "../../src/providers/types";
import { closePull, editPull, mergePull, openPull, pullWebhook, pushWebhook, type PullSeed } from "../fakes/fake-pulls";
import type { FakeTracker } from "../fakes/fake-tracker";
import { api, API_TOKEN, expectProblem, json, SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, deliver, deliverAndApply, waitProcessed } from "./webhooks.support";

const OPENED: Record<Provider, string> = { github: "opened", gitlab: "open", gitea: "opened" };

async function setup(provider: Provider, overrides: Record<string, unknown> = {}) {
  const { fake, project } = await projectWithTracker(provider, overrides, { webhookSecret: SECRET_WEBHOOK });
  return { fake, project };
}

/** A tracker issue, imported through its "opened" delivery; returns the local issue. */
async function importedIssue(fake: FakeTracker, project: any, title = "Login is broken"): Promise<{ number: number; id: string }> {
  const issue = fake.seedIssue({ title });
  await deliverAndApply(project, await fake.webhook(OPENED[fake.provider], issue.number));
  const list = await json(await api(`/api/v1/projects/${project.id}/issues?externalNumber=${issue.number}`));
  return { number: issue.number, id: list.items[0].id };
}

async function development(projectId: string, issueId: string): Promise<any> {
  const res = await api(`/api/v1/projects/${projectId}/issues/${issueId}/development`);
  expect(res.status).toBe(200);
  return res.json();
}

async function activityKinds(projectId: string, kinds: string[]): Promise<any[]> {
  const page = await json(await api(`/api/v1/projects/${projectId}/activity?limit=500&kind=${kinds.join(",")}`));
  return page.items;
}

async function localIssue(projectId: string, issueId: string): Promise<any> {
  return json(await api(`/api/v1/projects/${projectId}/issues/${issueId}`));
}

/** Tracker writes to issues (closes pushed by us). */
function issueWrites(fake: FakeTracker): { method: string; path: string; body: unknown }[] {
  return fake.requests.filter((r) => (r.method === "PATCH" || r.method === "PUT") && /\/issues\/\d+$/.test(r.path.split("?")[0]!));
}

async function openAndDeliver(fake: FakeTracker, project: any, seed: PullSeed) {
  const pull = openPull(fake, seed);
  const hook = await pullWebhook(fake, fake.provider === "gitlab" ? "open" : "opened", pull.number);
  await deliverAndApply(project, hook);
  return { pull, hook };
}

async function mergeAndDeliver(fake: FakeTracker, project: any, number: number) {
  const { closedIssues } = mergePull(fake, number);
  const deliveryId = await deliverAndApply(project, await pullWebhook(fake, fake.provider === "gitlab" ? "merge" : "closed", number));
  return { closedIssues, deliveryId };
}

/** Applies a stored delivery again through the replay route (what an operator or a redelivery does). */
async function replay(projectId: string, deliveryId: string): Promise<void> {
  const res = await api(`/api/v1/projects/${projectId}/deliveries/${deliveryId}/replay`, { method: "POST" });
  expect(res.status).toBe(202);
  expect((await waitProcessed(deliveryId)).status).toBe("applied");
}

/** Lets the push queue run: the close reaches the tracker, or (when nothing was queued) nothing does. */
async function settlePushes(projectId: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const row = await env.DB.prepare("select count(*) as n from outbox where project_id = ? and status = 'pending'").bind(projectId).first<{ n: number }>();
      if ((row?.n ?? 0) > 0) throw new Error("outbox not empty yet");
    },
    { timeout: 10_000, interval: 25 },
  );
}

describe("pull requests link issues", () => {
  it('"Fixes #N" in an opened PR makes one closing link, status in_review, and a replay adds nothing', async () => {
    const { fake, project } = await setup("github");
    const issue = await importedIssue(fake, project);
    const { pull, hook } = await openAndDeliver(fake, project, { title: "Fix login", body: `Fixes #${issue.number}`, head: "fix-login" });

    const dev = await development(project.id, issue.id);
    expect(dev.status).toBe("in_review");
    expect(dev.pullRequests).toEqual([{ number: pull.number, url: expect.stringContaining(`/pull/${pull.number}`), title: "Fix login", state: "open", relation: "closes" }]);
    // GitHub's closingIssuesReferences and the keyword both say so: one PR, closing.
    expect(new Set(dev.links.map((l: any) => l.source))).toEqual(new Set(["tracker", "keyword"]));
    const linked = await activityKinds(project.id, ["pr.linked"]);

    // The same delivery again: the tracker's redelivery is a duplicate, a replay applies it again.
    const res = await deliver(project, hook);
    expect(res.status).toBe(200);
    const [stored] = (await json(await api(`/api/v1/projects/${project.id}/deliveries?limit=500`))).items.filter((d: any) => d.event === "pull_request");
    await replay(project.id, stored.id);
    expect(await development(project.id, issue.id)).toEqual(dev);
    expect(await activityKinds(project.id, ["pr.linked"])).toEqual(linked);

    const list = await json(await api(`/api/v1/projects/${project.id}/pull-requests?state=open`));
    expect(list.items).toMatchObject([{ number: pull.number, state: "open", draft: false, headRef: "fix-login", baseRef: "main" }]);
    expect(list.items[0].issues).toEqual([{ issueId: issue.id, projectId: project.id, issueNumber: issue.number, relation: "closes", sources: expect.arrayContaining(["tracker", "keyword"]) }]);
    const listed = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`));
    expect(listed.development.status).toBe("in_review");
  });

  it("GitHub is asked for closingIssuesReferences once per changed PR: a replay asks nothing, an edit asks again", async () => {
    const { fake, project } = await setup("github");
    const issue = await importedIssue(fake, project);
    const graphql = () => fake.requests.filter((r) => r.method === "POST" && /\/graphql$/.test(r.path.split("?")[0]!));
    const { pull } = await openAndDeliver(fake, project, { title: "Fix login", body: `Fixes #${issue.number}`, head: "fix-login" });
    expect(graphql()).toHaveLength(1);
    expect(graphql()[0]!.body).toMatchObject({ query: expect.stringContaining("closingIssuesReferences"), variables: { number: pull.number } });
    const [stored] = (await json(await api(`/api/v1/projects/${project.id}/deliveries?limit=500`))).items.filter((d: any) => d.event === "pull_request");
    await replay(project.id, stored.id);
    expect(graphql()).toHaveLength(1);
    editPull(fake, pull.number, { title: "Fix login for good" });
    await deliverAndApply(project, await pullWebhook(fake, "edited", pull.number));
    expect(graphql()).toHaveLength(2);
  });

  it("an edit removing the keyword removes that link and records pr.unlinked", async () => {
    const { fake, project } = await setup("github");
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix login", body: `Fixes #${issue.number}`, head: "fix-login" });
    editPull(fake, pull.number, { body: "A different approach" });
    await deliverAndApply(project, await pullWebhook(fake, "edited", pull.number));

    const dev = await development(project.id, issue.id);
    expect(dev.pullRequests).toEqual([]);
    expect(dev.status).toBe("none");
    const unlinked = await activityKinds(project.id, ["pr.unlinked"]);
    expect(unlinked.map((e) => e.issueId)).toEqual([issue.id, issue.id]);
  });

  it("a keyword edit keeps the branch link: only the keyword source goes", async () => {
    const { fake, project } = await setup("github");
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix", body: `Fixes #${issue.number}`, head: `${issue.number}-fix-login`, base: "develop" });
    editPull(fake, pull.number, { body: "" });
    await deliverAndApply(project, await pullWebhook(fake, "edited", pull.number));
    const dev = await development(project.id, issue.id);
    expect(dev.pullRequests).toMatchObject([{ number: pull.number, relation: "references" }]);
    expect(dev.links.map((l: any) => l.source)).toEqual(["branch"]);
  });

  it("a draft PR is in_progress; a branch name alone only references", async () => {
    const { fake, project } = await setup("github");
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "WIP", head: `feature/${issue.number}-x`, draft: true });
    const dev = await development(project.id, issue.id);
    expect(dev.status).toBe("in_progress");
    expect(dev.pullRequests).toMatchObject([{ number: pull.number, state: "draft", relation: "references" }]);
    expect(dev.links).toMatchObject([{ source: "branch", relation: "references" }]);
  });

  it("a PR naming an issue of a repository no project syncs is ignored and recorded", async () => {
    const { fake, project } = await setup("github");
    const issue = await importedIssue(fake, project);
    const pull = openPull(fake, { title: "Fix", body: `Fixes nobody/elsewhere#3 and see #${issue.number}`, head: "fix" });
    const id = await deliverAndApply(project, await pullWebhook(fake, "opened", pull.number));
    const dev = await development(project.id, issue.id);
    expect(dev.pullRequests).toMatchObject([{ number: pull.number, relation: "references" }]);
    const ignored = await activityKinds(project.id, ["pr.reference_ignored"]);
    expect(ignored).toHaveLength(1);
    expect(ignored[0].detail).toContain("nobody/elsewhere#3");
    const delivery = await json(await api(`/api/v1/projects/${project.id}/deliveries/${id}`));
    expect(JSON.stringify(delivery)).toContain("nobody/elsewhere#3");
  });

  it("a PR in one project closing an issue of another project's repository links that issue", async () => {
    const { fake, project } = await setup("github");
    const other = await api("/api/v1/projects", {
      method: "POST",
      body: { name: "Other", provider: "github", apiBaseUrl: fake.baseUrl, repository: "acme/gadgets", token: fake.token, webhookSecret: SECRET_WEBHOOK, syncDirection: "bidirectional" },
    });
    const otherProject = await json(other);
    await env.DB.prepare("insert into issues (id, project_id, title, body, state, labels, assignees, external_id, external_number, external_url, sync_state, created_at, updated_at) values (?, ?, 'Gadget bug', '', 'open', '[]', '[]', '9001', 5, 'https://github.com/acme/gadgets/issues/5', 'synced', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z')")
      .bind("0193a000-0000-7000-8000-000000000005", otherProject.id)
      .run();
    const pull = openPull(fake, { title: "Fix", body: "Fixes acme/gadgets#5", head: "fix", base: "develop" });
    await deliverAndApply(project, await pullWebhook(fake, "opened", pull.number));
    const dev = await development(otherProject.id, "0193a000-0000-7000-8000-000000000005");
    expect(dev.pullRequests).toMatchObject([{ number: pull.number, relation: "closes" }]);
  });
});

describe("prAutomation: closing on merge", () => {
  it("two closing PRs: the first merge leaves the issue open, the second closes it exactly once", async () => {
    const { fake, project } = await setup("github", { prAutomation: { closeOnMerge: "any_branch" } });
    const issue = await importedIssue(fake, project);
    const a = (await openAndDeliver(fake, project, { title: "Part 1", body: `Fixes #${issue.number}`, head: "p1", base: "release/1.0" })).pull;
    const b = (await openAndDeliver(fake, project, { title: "Part 2", body: `Closes #${issue.number}`, head: "p2", base: "release/1.0" })).pull;

    const first = await mergeAndDeliver(fake, project, a.number);
    expect((await localIssue(project.id, issue.id)).state).toBe("open");
    expect(issueWrites(fake)).toEqual([]);

    const second = await mergeAndDeliver(fake, project, b.number);
    await settlePushes(project.id);
    expect((await localIssue(project.id, issue.id)).state).toBe("closed");
    expect(issueWrites(fake).map((w) => w.body)).toEqual([{ state: "closed" }]);
    expect(fake.store.issues.get(issue.number)!.state).toBe("closed");

    // Replays of both merges change nothing.
    await replay(project.id, first.deliveryId);
    await replay(project.id, second.deliveryId);
    await settlePushes(project.id);
    expect(issueWrites(fake)).toHaveLength(1);
    expect(await activityKinds(project.id, ["issue.closed_by_pr"])).toHaveLength(1);
    const dev = await development(project.id, issue.id);
    expect(dev.status).toBe("merged");
    expect(dev.closedBy).toMatchObject({ kind: "pull_request", number: b.number });
  });

  it("a PR closed unmerged never closes its issue and leaves it abandoned", async () => {
    const { fake, project } = await setup("github", { prAutomation: { closeOnMerge: "any_branch" } });
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix", body: `Fixes #${issue.number}`, head: "fix", base: "develop" });
    closePull(fake, pull.number);
    await deliverAndApply(project, await pullWebhook(fake, "closed", pull.number));
    expect((await localIssue(project.id, issue.id)).state).toBe("open");
    expect((await development(project.id, issue.id)).status).toBe("abandoned");
    expect(issueWrites(fake)).toEqual([]);
    const changed = await activityKinds(project.id, ["pr.state_changed"]);
    expect(changed.at(-1)).toMatchObject({ issueId: issue.id, detail: expect.stringContaining("open → closed") });
  });

  it("GitHub closes the issue itself on a default-branch merge: no close pushed, closedBy recorded", async () => {
    const { fake, project } = await setup("github", { prAutomation: { closeOnMerge: "default_branch" } });
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix", body: `Resolves #${issue.number}`, head: "fix" });
    const { closedIssues: closedByGitHub } = await mergeAndDeliver(fake, project, pull.number);
    expect(closedByGitHub).toEqual([issue.number]);
    // GitHub's own close arrives as an ordinary issues delivery.
    await deliverAndApply(project, await fake.webhook("closed", issue.number));
    await settlePushes(project.id);
    expect((await localIssue(project.id, issue.id)).state).toBe("closed");
    expect(issueWrites(fake)).toEqual([]);
    const dev = await development(project.id, issue.id);
    expect(dev.closedBy).toMatchObject({ kind: "pull_request", number: pull.number });
    expect(await activityKinds(project.id, ["issue.closed_by_pr"])).toHaveLength(1);
  });

  it("any_branch: a GitHub merge into release/1.0 (GitHub closes nothing there) closes the issue here and pushes the close once", async () => {
    const { fake, project } = await setup("github", { prAutomation: { closeOnMerge: "any_branch" } });
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Backport", body: `Fixes #${issue.number}`, head: "backport", base: "release/1.0" });
    const { closedIssues, deliveryId } = await mergeAndDeliver(fake, project, pull.number);
    expect(closedIssues).toEqual([]);
    await settlePushes(project.id);
    expect((await localIssue(project.id, issue.id)).state).toBe("closed");
    expect(issueWrites(fake).map((w) => w.body)).toEqual([{ state: "closed" }]);
    await replay(project.id, deliveryId);
    await settlePushes(project.id);
    expect(issueWrites(fake)).toHaveLength(1);
    expect((await development(project.id, issue.id)).closedBy).toMatchObject({ kind: "pull_request", number: pull.number });
  });

  it("default_branch does not close on a merge into another branch", async () => {
    const { fake, project } = await setup("gitea", { prAutomation: { closeOnMerge: "default_branch" } });
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix", body: `Fixes #${issue.number}`, head: "fix", base: "release/1.0" });
    await mergeAndDeliver(fake, project, pull.number);
    expect((await localIssue(project.id, issue.id)).state).toBe("open");
    expect((await development(project.id, issue.id)).status).toBe("merged");
  });

  it("Gitea: a default-branch merge closes the issue here and pushes the close once", async () => {
    const { fake, project } = await setup("gitea", { prAutomation: { closeOnMerge: "default_branch" } });
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix", body: `fixes #${issue.number}`, head: "fix" });
    await mergeAndDeliver(fake, project, pull.number);
    await settlePushes(project.id);
    expect((await localIssue(project.id, issue.id)).state).toBe("closed");
    expect(issueWrites(fake).filter((w) => (w.body as any)?.state === "closed")).toHaveLength(1);
  });

  it("an inbound project gets links and status, never a local close", async () => {
    const { fake, project } = await setup("github", { syncDirection: "inbound", prAutomation: { closeOnMerge: "any_branch" } });
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix", body: `Fixes #${issue.number}`, head: "fix", base: "release/1.0" });
    await mergeAndDeliver(fake, project, pull.number);
    expect((await localIssue(project.id, issue.id)).state).toBe("open");
    expect((await development(project.id, issue.id)).status).toBe("merged");
    expect(issueWrites(fake)).toEqual([]);
    expect(await activityKinds(project.id, ["issue.closed_by_pr"])).toEqual([]);
  });

  it("GitLab: with closes_issues empty the description's keywords still make closing links", async () => {
    const { fake, project } = await setup("gitlab", { prAutomation: { closeOnMerge: "default_branch" } });
    fake.store.autocloseReferencedIssues = false;
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix", body: `Closing #${issue.number}`, head: "fix" });
    const dev = await development(project.id, issue.id);
    expect(dev.pullRequests).toMatchObject([{ number: pull.number, relation: "closes", url: expect.stringContaining("/-/merge_requests/") }]);
    expect(dev.links.map((l: any) => l.source)).toEqual(["keyword"]);
    expect(fake.requests.some((r) => r.path.includes(`/merge_requests/${pull.number}/closes_issues`))).toBe(true);
    // GitLab does not close it (auto-close off), so the merge closes it here and pushes once.
    await mergeAndDeliver(fake, project, pull.number);
    await settlePushes(project.id);
    expect((await localIssue(project.id, issue.id)).state).toBe("closed");
    expect(issueWrites(fake)).toHaveLength(1);
  });

  it("GitLab: closes_issues links the MR by the tracker's own word", async () => {
    const { fake, project } = await setup("gitlab");
    const issue = await importedIssue(fake, project);
    await openAndDeliver(fake, project, { title: "Fix", body: `Fixes #${issue.number}`, head: "fix" });
    const dev = await development(project.id, issue.id);
    expect(new Set(dev.links.map((l: any) => l.source))).toEqual(new Set(["tracker", "keyword"]));
  });
});

describe("status labels", () => {
  it("keep the configured label for in_review while the PR is open, and drop it when it merges", async () => {
    const { fake, project } = await setup("github", { prAutomation: { closeOnMerge: "never", statusLabels: { in_progress: "wip", in_review: "in review" } } });
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix", body: `Fixes #${issue.number}`, head: "fix", draft: true });
    await settlePushes(project.id);
    expect((await localIssue(project.id, issue.id)).labels).toEqual(["wip"]);
    editPull(fake, pull.number, { draft: false });
    await deliverAndApply(project, await pullWebhook(fake, "ready_for_review", pull.number));
    await settlePushes(project.id);
    expect((await localIssue(project.id, issue.id)).labels).toEqual(["in review"]);
    expect(fake.store.issues.get(issue.number)!.labels).toEqual(["in review"]);
    await mergeAndDeliver(fake, project, pull.number);
    await settlePushes(project.id);
    expect((await localIssue(project.id, issue.id)).labels).toEqual([]);
  });
});

describe("polling", () => {
  it("GitHub: pull requests in the issue listing are kept and linked, not thrown away", async () => {
    const { fake, project } = await setup("github", { syncDirection: "inbound" });
    const issue = fake.seedIssue({ title: "Broken" });
    const pull = openPull(fake, { title: "Fix it", body: `Fixes #${issue.number}`, head: "fix", draft: true });
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("succeeded");
    const [local] = (await json(await api(`/api/v1/projects/${project.id}/issues`))).items;
    expect(local.external.number).toBe(issue.number);
    expect(local.development).toMatchObject({ status: "in_progress", pullRequests: [{ number: pull.number, state: "draft", relation: "closes" }] });

    // Merged on GitHub, seen by the next poll: status follows, the PR is not imported as an issue.
    fake.advance(60_000);
    mergePull(fake, pull.number);
    await syncAndWait(project.id, "incremental");
    const dev = await development(project.id, local.id);
    expect(dev.status).toBe("merged");
    expect((await json(await api(`/api/v1/projects/${project.id}/pull-requests`))).items).toMatchObject([{ number: pull.number, state: "merged" }]);
    expect((await json(await api(`/api/v1/projects/${project.id}/issues`))).items).toHaveLength(1);
  });
});

describe("issue lists", () => {
  it("a page of 500 issues reads their development in chunks under D1's parameter limit", async () => {
    const { fake, project } = await setup("github", { syncDirection: "inbound" });
    fake.seed(130);
    openPull(fake, { title: "Fix", body: "Fixes #7", head: "fix" });
    await syncAndWait(project.id, "full");
    const res = await api(`/api/v1/projects/${project.id}/issues?limit=500`);
    expect(res.status).toBe(200);
    const items = (await json(res)).items;
    expect(items).toHaveLength(130);
    expect(items.find((i: any) => i.external.number === 7).development.status).toBe("in_review");
  });
});

describe.each(["gitlab", "gitea"] as const)("%s polling", (provider) => {
  it("lists pull requests changed since the cursor and links them", async () => {
    const { fake, project } = await setup(provider, { syncDirection: "inbound" });
    const issue = fake.seedIssue({ title: "Broken" });
    await syncAndWait(project.id, "full");
    const [local] = (await json(await api(`/api/v1/projects/${project.id}/issues`))).items;
    fake.advance(60_000);
    const pull = openPull(fake, { title: "Fix it", body: `Fixes #${issue.number}`, head: `${issue.number}-fix` });
    const run = await syncAndWait(project.id, "incremental");
    expect(run.status).toBe("succeeded");
    const dev = await development(project.id, local.id);
    expect(dev).toMatchObject({ status: "in_review", pullRequests: [{ number: pull.number, relation: "closes" }] });
    expect(new Set(dev.links.map((l: any) => l.source))).toContain("branch");
    expect((await json(await api(`/api/v1/projects/${project.id}/issues`))).items).toHaveLength(1);
  });
});

describe("pushes", () => {
  it('a push to the default branch with "closes #N" links the commit and closes the issue', async () => {
    const { fake, project } = await setup("gitea", { prAutomation: { closeOnMerge: "default_branch" } });
    const issue = await importedIssue(fake, project);
    const sha = "a".repeat(40);
    await deliverAndApply(project, await pushWebhook(fake, "main", [{ sha, message: `Repair login\n\ncloses #${issue.number}` }]));
    await settlePushes(project.id);
    const dev = await development(project.id, issue.id);
    expect(dev.commits).toEqual([{ sha, url: expect.stringContaining(sha), title: "Repair login", relation: "closes" }]);
    expect(dev.closedBy).toMatchObject({ kind: "commit", sha });
    expect((await localIssue(project.id, issue.id)).state).toBe("closed");
    expect(issueWrites(fake).filter((w) => (w.body as any)?.state === "closed")).toHaveLength(1);
  });

  it("the same push to another branch only references, and names the branch", async () => {
    const { fake, project } = await setup("gitea", { prAutomation: { closeOnMerge: "any_branch" } });
    const issue = await importedIssue(fake, project);
    const sha = "b".repeat(40);
    await deliverAndApply(project, await pushWebhook(fake, `${issue.number}-login`, [{ sha, message: `closes #${issue.number}` }]));
    const dev = await development(project.id, issue.id);
    expect(dev.commits).toMatchObject([{ sha, relation: "references" }]);
    expect(dev.branches).toEqual([{ name: `${issue.number}-login`, relation: "references" }]);
    expect(dev.status).toBe("in_progress");
    expect((await localIssue(project.id, issue.id)).state).toBe("open");
  });

  it("GitHub closes on a default-branch commit itself: recorded, nothing pushed", async () => {
    const { fake, project } = await setup("github", { prAutomation: { closeOnMerge: "default_branch" } });
    const issue = await importedIssue(fake, project);
    const sha = "c".repeat(40);
    await deliverAndApply(project, await pushWebhook(fake, "main", [{ sha, message: `Fixes #${issue.number}` }]));
    await deliverAndApply(project, await fake.webhook("closed", issue.number));
    await settlePushes(project.id);
    expect((await localIssue(project.id, issue.id)).state).toBe("closed");
    expect(issueWrites(fake)).toEqual([]);
    expect((await development(project.id, issue.id)).closedBy).toMatchObject({ kind: "commit", sha });
  });
});

describe("manual links and settings", () => {
  it("a manual link to a project's PR counts for status and can be removed; tracker links cannot", async () => {
    const { fake, project } = await setup("github");
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Unrelated", head: "x" });
    const url = `https://github.com/${fake.store.repository}/pull/${pull.number}`;
    const res = await api(`/api/v1/projects/${project.id}/issues/${issue.id}/links`, { method: "POST", body: { url, relation: "closes" } });
    expect(res.status).toBe(201);
    const dev = await json(res);
    expect(dev.status).toBe("in_review");
    expect(dev.links).toMatchObject([{ source: "manual", relation: "closes", pullRequestNumber: pull.number }]);
    const del = await api(`/api/v1/projects/${project.id}/issues/${issue.id}/links/${dev.links[0].id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect((await development(project.id, issue.id)).status).toBe("none");

    await openAndDeliver(fake, project, { title: "Fix", body: `Fixes #${issue.number}`, head: "y", base: "develop" });
    const tracked = (await development(project.id, issue.id)).links[0];
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/links/${tracked.id}`, { method: "DELETE" }), 409);
  });

  it("bad input names the field", async () => {
    const { fake, project } = await setup("github");
    const issue = await importedIssue(fake, project);
    const bad = await expectProblem(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/links`, { method: "POST", body: { url: "not a url" } }), 400);
    expect(bad.errors?.[0]?.field).toBe("url");
    const setting = await expectProblem(await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { prAutomation: { closeOnMerge: "sometimes" } } }), 400);
    expect(setting.errors?.[0]?.field).toBe("prAutomation.closeOnMerge");
    await expectProblem(await api(`/api/v1/projects/${project.id}/pull-requests?state=weird`), 400);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).prAutomation).toEqual({ closeOnMerge: "never" });
    const patched = await json(await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { prAutomation: { closeOnMerge: "any_branch", statusLabels: { in_review: "in review" } } } }));
    expect(patched.prAutomation).toEqual({ closeOnMerge: "any_branch", statusLabels: { in_review: "in review" } });
  });

  it("a disabled project records PR deliveries without linking", async () => {
    const { fake, project } = await setup("github", { syncEnabled: false });
    const pull = openPull(fake, { title: "Fix", body: "Fixes #1", head: "fix" });
    const id = await accepted(await deliver(project, await pullWebhook(fake, "opened", pull.number)));
    expect((await waitProcessed(id)).status).toBe("ignored");
    expect((await json(await api(`/api/v1/projects/${project.id}/pull-requests`))).items).toEqual([]);
  });
});

describe("dashboard", () => {
  it("an issue row on the project page shows its pull requests: number, state chip and link", async () => {
    const { fake, project } = await setup("gitlab");
    const issue = await importedIssue(fake, project);
    const { pull } = await openAndDeliver(fake, project, { title: "Fix login", body: `Closes #${issue.number}`, head: "fix" });
    const login = await exports.default.fetch(new Request("http://sync.test/ui/login", { method: "POST", body: new URLSearchParams({ token: API_TOKEN }), redirect: "manual" }));
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const html = await (await exports.default.fetch(new Request(`http://sync.test/ui/projects/${project.id}`, { headers: { cookie } }))).text();
    // The pr.linked entry names the issue, and the issue its merge request.
    const chip = new RegExp(`<a class="chip chip-syncing" href="[^"]*/-/merge_requests/${pull.number}" title="Fix login">!${pull.number} open</a>`);
    expect(html).toMatch(chip);
  });
});
