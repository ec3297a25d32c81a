import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { database } from "../../src/db/client";
import { getIssue, insertLocalIssue, updateLocalIssue } from "../../src/db/issues";
import { newId, nowIso } from "../../src/ids";
import { QUEUES, type PushJob } from "../../src/queue/messages";
import worker from "../../src/index";
import type { FakeTracker } from "../fakes/fake-tracker";
import lifecycle from "../fixtures/push/lifecycle.json";
import { api, createIssue, expectProblem, json, SECRET_TOKEN } from "../support/api";
import { projectWithTracker } from "../support/trackers";

/**
 * Pushes driven message by message through the Worker's queue handler, so each test sees exactly
 * which messages were acked or retried and with what delay. Issues are written with their outbox
 * row but no job is sent, so the real push queue does not race the test.
 */
async function localIssue(projectId: string, fields: { title: string; body?: string; labels?: string[]; assignees?: string[] }): Promise<string> {
  const id = newId();
  const now = nowIso();
  await insertLocalIssue(
    database(env.DB),
    {
      id,
      projectId,
      title: fields.title,
      body: fields.body ?? "",
      labels: JSON.stringify([...(fields.labels ?? [])].sort()),
      assignees: JSON.stringify([...(fields.assignees ?? [])].sort()),
      createdAt: now,
      updatedAt: now,
      syncState: "pending_push",
    },
    { outboxId: newId() },
  );
  return id;
}

async function deliver(queue: string, job: PushJob, attempts = 1) {
  const id = crypto.randomUUID();
  const batch = createMessageBatch<PushJob>(queue, [{ id, timestamp: new Date(), attempts, body: job }]);
  // getQueueResult does not report retry delays: read them off the message itself.
  const retry = vi.spyOn(batch.messages[0]!, "retry");
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  const result = await getQueueResult(batch, ctx);
  const retried = result.retryMessages.some((m) => m.msgId === id);
  return { acked: result.explicitAcks.includes(id), retry: retried ? { delaySeconds: retry.mock.calls[0]?.[0]?.delaySeconds } : null };
}

async function outboxOf(issueId: string): Promise<any> {
  return env.DB.prepare("select op, status, attempts, next_attempt_at, last_error from outbox where issue_id = ?").bind(issueId).first();
}

async function getApiIssue(projectId: string, issueId: string): Promise<any> {
  return json(await api(`/api/v1/projects/${projectId}/issues/${issueId}`));
}

function creates(fake: FakeTracker) {
  return fake.requests.filter((r) => r.method === "POST" && /\/issues(\?|$)/.test(r.path));
}

describe("push: rate limits and pacing", () => {
  it("a create refused by GitHub's secondary rate limit waits for the reset without calling the tracker, then succeeds once", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    fake.fail({ kind: "secondary_rate_limit", match: /^POST .*\/issues$/, resetInSeconds: 2 });
    const issueId = await localIssue(project.id, { title: "Limited" });
    const job: PushJob = { type: "push", projectId: project.id, issueId };

    const first = await deliver(QUEUES.push, job);
    const row = await outboxOf(issueId);
    expect(row.next_attempt_at).not.toBeNull();
    const retryAt = Date.parse(row.next_attempt_at);
    expect(retryAt).toBeGreaterThan(Date.now());
    expect(first.acked).toBe(false);
    expect(first.retry!.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(first.retry!.delaySeconds).toBeLessThanOrEqual(3);
    // The project's other creates wait for the reset too.
    const project2 = await env.DB.prepare("select next_create_at from projects where id = ?").bind(project.id).first<{ next_create_at: string }>();
    expect(Date.parse(project2!.next_create_at)).toBeGreaterThanOrEqual(retryAt);

    // A duplicate job before the reset is put back without a tracker call.
    const early = await deliver(QUEUES.push, job, 2);
    expect(early.retry).not.toBeNull();
    expect(creates(fake)).toHaveLength(1);

    await new Promise((resolve) => setTimeout(resolve, retryAt - Date.now() + 50));
    const later = await deliver(QUEUES.push, job, 3);
    expect(later.acked).toBe(true);
    expect(creates(fake)).toHaveLength(2);
    expect(fake.store.visible()).toHaveLength(1);
    expect(await outboxOf(issueId)).toMatchObject({ status: "done", next_attempt_at: null });
    expect((await getApiIssue(project.id, issueId)).syncState).toBe("synced");
  });

  it("a GitLab update answered 429 is retried by the queue after the reset and then succeeds", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "outbound" });
    const created = await createIssue(project.id, { title: "Before" });
    await vi.waitFor(async () => expect((await getApiIssue(project.id, created.id)).syncState).toBe("synced"), { timeout: 10_000, interval: 25 });
    fake.fail({ kind: "rate_limit", match: /^PUT /, resetInSeconds: 1 });
    fake.clearLog();
    await api(`/api/v1/projects/${project.id}/issues/${created.id}`, { method: "PATCH", body: { title: "After" } });

    await vi.waitFor(async () => expect((await outboxOf(created.id)).next_attempt_at).not.toBeNull(), { timeout: 10_000, interval: 10 });
    const issue = await vi.waitFor(
      async () => {
        const i = await getApiIssue(project.id, created.id);
        expect(i.syncState).toBe("synced");
        return i;
      },
      { timeout: 15_000, interval: 50 },
    );
    const puts = fake.requests.filter((r) => r.method === "PUT");
    expect(puts.map((r) => r.status)).toEqual([429, 200]);
    expect(fake.issue(issue.external.number)!.title).toBe("After");
  });

  it("creates in one project are paced one per second: waiting creates each reserve their own slot and are retried once", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "outbound" });
    const titles = ["First", "Second", "Third"];
    const ids = [];
    for (const title of titles) ids.push(await localIssue(project.id, { title }));
    const push = (issueId: string) => deliver(QUEUES.push, { type: "push", projectId: project.id, issueId });

    expect((await push(ids[0]!)).acked).toBe(true);
    const second = await push(ids[1]!);
    const third = await push(ids[2]!);
    expect(creates(fake)).toHaveLength(1);
    const slots = [Date.parse((await outboxOf(ids[1]!)).next_attempt_at), Date.parse((await outboxOf(ids[2]!)).next_attempt_at)];
    expect(slots[1]! - slots[0]!).toBe(1_000);
    expect(second.retry!.delaySeconds).toBe(1);
    expect(third.retry!.delaySeconds).toBe(2);

    await new Promise((resolve) => setTimeout(resolve, slots[1]! - Date.now() + 50));
    expect((await push(ids[2]!)).acked).toBe(true);
    expect((await push(ids[1]!)).acked).toBe(true);
    expect(fake.store.visible().map((i) => i.title).sort()).toEqual(titles);
    expect(creates(fake)).toHaveLength(3);
  });
});

describe("push: failures", () => {
  it("a tracker answering 5xx is retried with backoff; when retries run out the issue shows the reason through the API", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    const created = await createIssue(project.id, { title: "Flaky" });
    await vi.waitFor(async () => expect((await getApiIssue(project.id, created.id)).syncState).toBe("synced"), { timeout: 10_000, interval: 25 });
    fake.fail({ kind: "server_error", status: 502, match: /^PATCH /, times: 1_000 });
    // Written without a job, so the real queue does not retry alongside the test.
    const db = database(env.DB);
    await updateLocalIssue(db, (await getIssue(db, project.id, created.id))!, { title: "Flaky, edited" }, { outboxId: newId() }, nowIso());
    const job: PushJob = { type: "push", projectId: project.id, issueId: created.id };

    const first = await deliver(QUEUES.push, job, 1);
    expect(first).toEqual({ acked: false, retry: { delaySeconds: 2 } });
    const second = await deliver(QUEUES.push, job, 2);
    expect(second.retry!.delaySeconds).toBe(4);
    const row = await outboxOf(created.id);
    expect(row).toMatchObject({ status: "pending", attempts: 2 });
    expect(row.last_error).toMatch(/502/);
    // The adapter retries an idempotent PATCH itself before giving up (3 attempts per push).
    expect(fake.requests.filter((r) => r.method === "PATCH")).toHaveLength(6);
    expect((await getApiIssue(project.id, created.id)).syncState).toBe("pending_push");

    const dead = await deliver(QUEUES.pushDead, job, 9);
    expect(dead.acked).toBe(true);
    const issue = await getApiIssue(project.id, created.id);
    expect(issue.syncState).toBe("error");
    expect(issue.syncError).toMatch(/retries exhausted/);
    expect(issue.syncError).toMatch(/502/);
    expect(issue.syncError).not.toContain(SECRET_TOKEN);
    expect(issue.syncError).not.toContain(fake.token);
    expect(await outboxOf(created.id)).toMatchObject({ status: "failed" });
    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status.issues.error).toBe(1);

    // A later duplicate of the job finds the row failed and leaves it alone.
    expect((await deliver(QUEUES.push, job, 3)).acked).toBe(true);
    expect(fake.requests.filter((r) => r.method === "PATCH")).toHaveLength(6);
  });

  it("a 422 validation error is not retried: the push fails at once and the issue shows why", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    const issueId = await localIssue(project.id, lifecycle.invalidAssignee);
    const result = await deliver(QUEUES.push, { type: "push", projectId: project.id, issueId });
    expect(result).toEqual({ acked: true, retry: null });
    expect(creates(fake).map((r) => r.status)).toEqual([422]);
    const issue = await getApiIssue(project.id, issueId);
    expect(issue.syncState).toBe("error");
    expect(issue.syncError).toMatch(/422/);
    expect(issue.syncError).toMatch(/Validation Failed/);
    expect(issue.syncError).not.toContain(fake.token);
    expect(await outboxOf(issueId)).toMatchObject({ status: "failed", attempts: 1 });

    // Fixing the issue locally queues a new push, which succeeds.
    await api(`/api/v1/projects/${project.id}/issues/${issueId}`, { method: "PATCH", body: { assignees: ["alice"] } });
    await vi.waitFor(async () => expect((await getApiIssue(project.id, issueId)).syncState).toBe("synced"), { timeout: 10_000, interval: 25 });
    expect(fake.store.visible().map((i) => i.assignees)).toEqual([["alice"]]);
  });

  it("a 403 permission error is not retried and is reported without the token", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    fake.fail({ kind: "forbidden", match: /^POST / });
    const issueId = await localIssue(project.id, { title: "No rights" });
    expect(await deliver(QUEUES.push, { type: "push", projectId: project.id, issueId })).toEqual({ acked: true, retry: null });
    const issue = await getApiIssue(project.id, issueId);
    expect(issue).toMatchObject({ syncState: "error", external: null });
    expect(issue.syncError).toMatch(/403/);
    expect(JSON.stringify(issue)).not.toContain(fake.token);
  });

  it("an inbound project refuses local writes with 409, so nothing is ever pushed", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body: { title: "nope" } }), 409);
    const outbox = await env.DB.prepare("select count(*) as n from outbox where project_id = ?").bind(project.id).first<{ n: number }>();
    expect(outbox!.n).toBe(0);
    expect(fake.requests).toEqual([]);
  });
});
