import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api, createIssue, json } from "../support/api";
import { fakeTracker, localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import { deliver, deliverAndApply, deliveryRow, storedIssues } from "./webhooks.support";

/**
 * Issue 11 (engineer A): the tracker's real behaviour around identity — renamed repositories, lost
 * access, organisation hooks, lost creates — driven through the Worker against the fakes.
 */

async function editIssue(projectId: string, issueId: string, body: Record<string, unknown>): Promise<void> {
  const res = await api(`/api/v1/projects/${projectId}/issues/${issueId}`, { method: "PATCH", body });
  if (res.status !== 200) throw new Error(`edit failed: ${res.status} ${await res.text()}`);
}

async function status(projectId: string): Promise<any> {
  return json(await api(`/api/v1/projects/${projectId}/status`));
}

async function issueRow(issueId: string): Promise<any> {
  return env.DB.prepare("select * from issues where id = ?").bind(issueId).first();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("renamed repository (item 2)", () => {
  it("a push after a GitHub rename reaches the same issue (301/307 are not 'moved') and status shows the new name", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional", deletionPolicy: "delete" });
    fake.seedIssue({ title: "Before rename" });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(1)!;

    fake.renameRepository("acme/gadgets");
    await editIssue(project.id, local.id, { title: "Edited after rename" });

    await vi.waitFor(() => expect(fake.issue(1)!.title).toBe("Edited after rename"), { timeout: 10_000, interval: 25 });
    await vi.waitFor(async () => expect((await issueRow(local.id)).sync_state).toBe("synced"), { timeout: 5_000, interval: 25 });
    const row = await issueRow(local.id);
    expect(row.deleted_at).toBeNull();
    expect(fake.store.issues.size).toBe(1);
    const s = await status(project.id);
    expect(s.trackerRepository).toEqual({ id: "4242", name: "acme/gadgets", renamed: true });
    expect(s.accessLost).toBeNull();
  });

  it("a push after a Gitea rename (307 to the new name) reaches the same issue and later requests use the new name", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "bidirectional", deletionPolicy: "delete" });
    fake.seedIssue({ title: "Before rename" });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(1)!;

    fake.renameRepository("acme/gadgets");
    await editIssue(project.id, local.id, { title: "Edited after rename" });

    await vi.waitFor(() => expect(fake.issue(1)!.title).toBe("Edited after rename"), { timeout: 10_000, interval: 25 });
    await vi.waitFor(async () => expect((await issueRow(local.id)).sync_state).toBe("synced"), { timeout: 5_000, interval: 25 });
    expect((await issueRow(local.id)).deleted_at).toBeNull();
    expect((await status(project.id)).trackerRepository).toEqual({ id: "4242", name: "acme/gadgets", renamed: true });
    // The write went to the new name: only reads met the old one.
    const writes = fake.requests.filter((r) => r.method !== "GET");
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((r) => r.path.startsWith("/repos/acme/gadgets/"))).toBe(true);
    fake.requests.length = 0;
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect(fake.requests.filter((r) => r.path.startsWith("/repos/acme/widgets"))).toEqual([]);
  });
});

describe("404 is not 'deleted' (item 5)", () => {
  it("a push whose repository answers 404 (access lost) deletes nothing, keeps the edit pending and shows it in status", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional", deletionPolicy: "delete" });
    fake.seedIssue({ title: "Private" });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(1)!;

    fake.loseAccess();
    await editIssue(project.id, local.id, { title: "Edited without access" });

    await vi.waitFor(async () => expect((await status(project.id)).accessLost).not.toBeNull(), { timeout: 10_000, interval: 25 });
    const row = await issueRow(local.id);
    expect(row).not.toBeNull();
    expect(row.title).toBe("Edited without access");
    expect(row.sync_state).toBe("pending_push");
    expect(row.deleted_at).toBeNull();
    const outbox = await env.DB.prepare("select status, next_attempt_at from outbox where issue_id = ?").bind(local.id).first<any>();
    expect(outbox.status).toBe("pending");
    expect(Date.parse(outbox.next_attempt_at)).toBeGreaterThan(Date.now() + 60_000);
    expect((await status(project.id)).accessLost.reason).toMatch(/lost access/);
  });

  it("a GitLab issue answering 404 while its project is readable is deleted: the policy applies", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "bidirectional", deletionPolicy: "orphan" });
    fake.seedIssue({ title: "Doomed" });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(1)!;
    fake.delete(1);
    await editIssue(project.id, local.id, { title: "Edited, but gone" });
    await vi.waitFor(async () => expect((await issueRow(local.id)).sync_state).toBe("orphaned"), { timeout: 10_000, interval: 25 });
    expect((await status(project.id)).accessLost).toBeNull();
  });
});

describe("identity checks (item 3)", () => {
  it("an organisation hook's delivery for another repository answers 200 ignored, records why, and changes nothing", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seedIssue({ title: "Elsewhere" });
    const hook = await fake.webhook("opened", 1);
    // A GitHub org hook sends every repository's events: this one is about acme/other (id 777).
    const payload = { ...hook.payload, repository: { ...(hook.payload.repository as object), id: 777, full_name: "acme/other" } };
    const res = await deliver(project, await fake.signedWebhook("issues", payload));
    expect(res.status).toBe(200);
    const answer = await json(res);
    expect(answer.status).toBe("ignored");
    expect((await deliveryRow(answer.id))!.error).toMatch(/another repository \(acme\/other, id 777\)/);
    await sleep(200);
    expect(await storedIssues(project.id)).toHaveLength(0);
  });

  it("a GitLab group hook for another project is ignored; one for the project's own is applied and teaches its id", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    fake.seedIssue({ title: "Group hook" });
    const hook = await fake.webhook("open", 1);
    const other = { ...hook.payload, project: { ...(hook.payload.project as object), id: 9999, path_with_namespace: "acme/other" } };
    const res = await deliver(project, await fake.signedWebhook("Issue Hook", other));
    expect(res.status).toBe(200);
    expect((await json(res)).status).toBe("ignored");
    expect(await storedIssues(project.id)).toHaveLength(0);

    await deliverAndApply(project, hook);
    expect(await storedIssues(project.id)).toHaveLength(1);
    expect((await status(project.id)).trackerRepository.id).toBe("4242");
  });

  it("a push whose number now holds another issue (another id) treats ours as gone and never writes onto it", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    fake.seedIssue({ title: "Ours" });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(1)!;
    // The number now answers another issue (e.g. the repository behind the name is another one).
    fake.issue(1)!.id = 5_555_555;
    fake.edit(1, { title: "Someone else's issue" });
    fake.clearLog();

    await editIssue(project.id, local.id, { title: "Our edit" });
    await vi.waitFor(async () => expect((await issueRow(local.id)).sync_state).toBe("orphaned"), { timeout: 10_000, interval: 25 });
    await sleep(300);
    expect(fake.issue(1)!.title).toBe("Someone else's issue");
    expect(fake.requests.filter((r) => r.method === "PATCH")).toHaveLength(0);
    // No re-enqueue loop: a handful of reads, not dozens.
    expect(fake.requests.length).toBeLessThan(10);
    expect((await issueRow(local.id)).title).toBe("Our edit");
  });
});

describe("changing the repository of a project with linked issues (item 3)", () => {
  it("another repository (another id) is refused 409; the same repository under its new name is allowed", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seedIssue({ title: "Linked" });
    await syncAndWait(project.id);

    const other = fakeTracker("github", { token: fake.token });
    other.store.repositoryId = 9191;
    const refused = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { apiBaseUrl: other.baseUrl, repository: other.store.repository, token: other.token } });
    expect(refused.status).toBe(409);
    expect((await json(refused)).detail).toMatch(/another repository \(id 9191\)/);
    const unknown = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { repository: "acme/nowhere" } });
    expect(unknown.status).toBe(409);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).repository).toBe("acme/widgets");

    fake.renameRepository("acme/gadgets");
    const renamed = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { repository: "acme/gadgets" } });
    expect(renamed.status).toBe(200);
  });
});

describe("adoption of lost creates (items 1 and 10)", () => {
  it("a failed create does not adopt a person's same-titled issue days later: theirs is imported as its own, untouched", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional", master: "local" });
    fake.fail({ kind: "forbidden", match: /^POST .*\/issues$/ });
    const mine = await createIssue(project.id, { title: "Crash on start", body: "my notes", labels: ["mine"] });
    await vi.waitFor(async () => expect((await issueRow(mine.id)).sync_state).toBe("error"), { timeout: 10_000, interval: 25 });

    fake.advance(3 * 24 * 3600_000);
    fake.seedIssue({ title: "Crash on start", body: "my notes", author: "alice", labels: ["theirs"] });
    await syncAndWait(project.id);
    await sleep(300);

    const rows = await storedIssues(project.id);
    expect(rows).toHaveLength(2);
    expect((await issueRow(mine.id)).external_id).toBeNull();
    const theirs = rows.find((r) => r.id !== mine.id)!;
    expect(theirs.labels).toEqual(["theirs"]);
    expect(fake.issue(1)!.labels).toEqual(["theirs"]);
    expect(fake.requests.filter((r) => r.method === "PATCH")).toHaveLength(0);
  });

  it("two same-titled creates, one answer lost: the retry adopts its own issue, not the other's", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    const first = await createIssue(project.id, { title: "Same title", body: "same body" });
    await vi.waitFor(async () => expect((await issueRow(first.id)).external_number).toBe(1), { timeout: 10_000, interval: 25 });

    fake.dropCreateResponse();
    const second = await createIssue(project.id, { title: "Same title", body: "same body" });
    await vi.waitFor(async () => expect((await issueRow(second.id)).external_number).toBe(2), { timeout: 15_000, interval: 50 });
    expect(fake.store.issues.size).toBe(2);
    expect((await issueRow(first.id)).external_number).toBe(1);
  });
});

describe("smaller ones (item 10)", () => {
  it("a GitLab issue hook that fails the schema answers 2xx (GitLab disables hooks on 4xx), is recorded failed and asks for a poll", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    fake.seedIssue({ title: "Bad hook" });
    const hook = await fake.webhook("update", 1);
    const attributes = { ...(hook.payload.object_attributes as Record<string, unknown>) };
    delete attributes.title;
    const res = await deliver(project, await fake.signedWebhook("Issue Hook", { ...hook.payload, object_attributes: attributes }));
    expect(res.status).toBe(200);
    const answer = await json(res);
    expect(answer.status).toBe("failed");
    const row = await deliveryRow(answer.id);
    expect(row!.status).toBe("failed");
    expect(row!.error).toMatch(/object_attributes\.title/);
    // The poll it asked for imports the issue.
    await vi.waitFor(async () => expect(await storedIssues(project.id)).toHaveLength(1), { timeout: 45_000, interval: 100 });
  }, 60_000);

  it("Gitea Link URLs on ROOT_URL's other host are re-based onto the API base; the token never leaves it", async () => {
    const { fake, project } = await projectWithTracker("gitea", {}, { perPage: 2 });
    fake.store.rootUrl = "https://git.public.example/";
    fake.seed(5);
    const run = await syncAndWait(project.id);
    expect(run.status).toBe("succeeded");
    expect(await storedIssues(project.id)).toHaveLength(5);
    expect(fake.requests.every((r) => r.url.startsWith(fake.baseUrl))).toBe(true);
  });

  it("a rate-limit reset already in the past still waits a minimum", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seedIssue();
    fake.fail({ kind: "rate_limit", match: /issues/, resetInSeconds: -30 });
    const started = Date.now();
    const res = await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "incremental" } });
    const { runId } = await json(res);
    const resumeAt = await vi.waitFor(
      async () => {
        const row = await env.DB.prepare("select resume_at from sync_runs where id = ?").bind(runId).first<{ resume_at: string | null }>();
        if (!row?.resume_at) throw new Error("not rate limited yet");
        return row.resume_at;
      },
      { timeout: 5_000, interval: 10 },
    );
    expect(Date.parse(resumeAt)).toBeGreaterThanOrEqual(started + 3_000);
  });

  it("a project deleted while its step is at the tracker leaves no issue rows behind", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seed(3);
    let deleted = false;
    fake.beforeAnswer = async (record) => {
      if (deleted || record.method !== "GET" || !record.path.includes("/issues")) return;
      deleted = true;
      const res = await api(`/api/v1/projects/${project.id}`, { method: "DELETE" });
      expect(res.status).toBe(204);
    };
    await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "incremental" } });
    await vi.waitFor(() => expect(deleted).toBe(true), { timeout: 5_000, interval: 10 });
    await sleep(1_000);
    const row = await env.DB.prepare("select count(*) as n from issues where project_id = ?").bind(project.id).first<{ n: number }>();
    expect(row!.n).toBe(0);
  });
});

describe("parse only what you need (item 11)", () => {
  it("a Gitea 1.10 issue payload without issue.html_url is applied, its URL derived from repository.html_url", async () => {
    const { fake, project } = await projectWithTracker("gitea");
    fake.seedIssue({ title: "Old Gitea" });
    const hook = await fake.webhook("opened", 1);
    const issue = { ...(hook.payload.issue as Record<string, unknown>) };
    delete issue.html_url;
    await deliverAndApply(project, await fake.signedWebhook("issues", { ...hook.payload, issue }));
    const [row] = await env.DB.prepare("select external_url from issues where project_id = ?").bind(project.id).all<{ external_url: string }>().then((r) => r.results);
    const repositoryUrl = (hook.payload.repository as { html_url: string }).html_url;
    expect(row!.external_url).toBe(`${repositoryUrl}/issues/1`);
  });
});
