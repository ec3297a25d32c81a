import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { database } from "../../src/db/client";
import { getIssue } from "../../src/db/issues";
import type { ProjectSync } from "../../src/durable/project-sync";
import type { Provider } from "../../src/providers/types";
import { applyGone } from "../../src/sync/deletion";
import { loadSyncContext } from "../../src/sync/context";
import type { FakeTracker } from "../fakes/fake-tracker";
import lifecycle from "../fixtures/push/lifecycle.json";
import { validateIssuesCreateRequest, validateIssuesUpdateRequest } from "../fixtures/github/openapi-issue-validators.js";
import { api, createIssue, json } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";

const PROVIDERS: Provider[] = ["github", "gitlab", "gitea"];

/**
 * Watches a fake's traffic: validates every GitHub issue write against the OpenAPI request schemas,
 * and can hold one matching request until released (to keep the project's Durable Object busy).
 */
function observe(fake: FakeTracker) {
  const schemaErrors: string[] = [];
  let hold: { match: RegExp; arrived: () => void; release: Promise<void> } | null = null;
  const handle = fake.handle.bind(fake);
  fake.handle = async (request: Request) => {
    const path = new URL(request.url).pathname;
    if (fake.provider === "github" && (request.method === "POST" || request.method === "PATCH") && /\/issues(\/\d+)?$/.test(path)) {
      const body: unknown = await request.clone().json();
      const validate = request.method === "POST" ? validateIssuesCreateRequest : validateIssuesUpdateRequest;
      if (!validate(body)) schemaErrors.push(`${request.method} ${path}: ${JSON.stringify(validate.errors)}`);
    }
    const held = hold;
    if (held && held.match.test(`${request.method} ${path}`)) {
      hold = null;
      held.arrived();
      await held.release;
    }
    return handle(request);
  };
  return {
    schemaErrors,
    /** Holds the next request matching `match` ("METHOD /path") until `release()` is called. */
    holdNext(match: RegExp) {
      let arrived!: () => void;
      let release!: () => void;
      const arrivedPromise = new Promise<void>((resolve) => (arrived = resolve));
      hold = { match, arrived, release: new Promise<void>((resolve) => (release = resolve)) };
      return { arrived: arrivedPromise, release };
    },
  };
}

/** Requests that write to tracker issue `number` (Gitea replaces labels through a second endpoint). */
function writesTo(fake: FakeTracker, number: number): string[] {
  return fake.requests
    .filter((r) => r.method !== "GET" && new RegExp(`/issues/${number}(/labels)?(\\?|$)`).test(r.path))
    .map((r) => `${r.method} ${r.path}`);
}

function creates(fake: FakeTracker): number {
  return fake.requests.filter((r) => r.method === "POST" && /\/issues(\?|$)/.test(r.path)).length;
}

function trackerFields(fake: FakeTracker, number: number) {
  const i = fake.issue(number)!;
  return { title: i.title, body: i.body ?? "", state: i.state, labels: [...i.labels].sort(), assignees: [...i.assignees].sort() };
}

async function getApiIssue(projectId: string, issueId: string): Promise<any> {
  return json(await api(`/api/v1/projects/${projectId}/issues/${issueId}`));
}

async function waitSynced(projectId: string, issueId: string): Promise<any> {
  return vi.waitFor(
    async () => {
      const issue = await getApiIssue(projectId, issueId);
      if (issue.syncState !== "synced") throw new Error(`issue still ${issue.syncState}: ${issue.syncError}`);
      return issue;
    },
    { timeout: 15_000, interval: 25 },
  );
}

async function patch(projectId: string, issueId: string, body: unknown): Promise<any> {
  const res = await api(`/api/v1/projects/${projectId}/issues/${issueId}`, { method: "PATCH", body });
  expect(res.status).toBe(200);
  return json(res);
}

async function storedRow(issueId: string) {
  return (await getIssue(database(env.DB), (await env.DB.prepare("select project_id from issues where id = ?").bind(issueId).first<{ project_id: string }>())!.project_id, issueId))!;
}

function projectStub(projectId: string) {
  return env.PROJECT_SYNC.get(env.PROJECT_SYNC.idFromName(projectId));
}

/** The local fields the tracker should hold. */
function localFields(issue: any) {
  return { title: issue.title, body: issue.body, state: issue.state, labels: issue.labels, assignees: issue.assignees };
}

describe.each(PROVIDERS)("%s: outbound push", (provider) => {
  it("create, text edit, label and assignee changes, close and reopen reach the tracker, and the mapping and base follow", async () => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "outbound" });
    const watch = observe(fake);

    const created = await createIssue(project.id, lifecycle.create);
    let issue = await waitSynced(project.id, created.id);
    const number = issue.external.number;
    const tracked = fake.issue(number)!;
    expect(issue.external).toMatchObject({ id: String(tracked.id), number: tracked.number });
    expect(issue.external.url).toContain(String(number));
    expect(Math.abs(Date.parse(issue.external.updatedAt) - tracked.updatedAt)).toBeLessThan(1000);
    expect(trackerFields(fake, number)).toEqual({ ...localFields(issue), state: "open" });
    expect(creates(fake)).toBe(1);
    expect(issue.syncError).toBeNull();

    const steps: [string, () => Promise<unknown>][] = [
      ["text", () => patch(project.id, created.id, lifecycle.editText)],
      ["labels and assignees", () => patch(project.id, created.id, lifecycle.editLabelsAndAssignees)],
      ["close", () => api(`/api/v1/projects/${project.id}/issues/${created.id}/close`, { method: "POST" })],
      ["reopen", () => patch(project.id, created.id, { state: "open" })],
    ];
    for (const [name, step] of steps) {
      const before = fake.requests.length;
      await step();
      issue = await waitSynced(project.id, created.id);
      expect(trackerFields(fake, number), name).toEqual(localFields(issue));
      const written = fake.requests.slice(before).filter((r) => r.method !== "GET");
      expect(written.every((r) => new RegExp(`/issues/${number}(/labels)?$`).test(r.path) || r.path.endsWith("/labels")), name).toBe(true);
      expect(written.length, name).toBeGreaterThan(0);
    }
    expect(issue.state).toBe("open");
    expect(fake.issue(number)!.state).toBe("open");
    expect(creates(fake)).toBe(1);

    // The base is what the tracker holds, so the next poll sees nothing new.
    const row = await storedRow(created.id);
    expect(JSON.parse(row.base!)).toMatchObject({ ...localFields(issue), milestone: null });
    const outbox = await env.DB.prepare("select op, status, attempts from outbox where issue_id = ?").bind(created.id).first();
    expect(outbox).toEqual({ op: "update", status: "done", attempts: 0 });
    expect(watch.schemaErrors).toEqual([]);
  });

  it("three edits made while the project is busy reach the tracker as one update", async () => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "outbound" });
    const watch = observe(fake);
    const blocker = await createIssue(project.id, { title: "Keeps the project busy" });
    const target = await createIssue(project.id, { title: "Coalesced", labels: ["bug"] });
    const blockerNumber = (await waitSynced(project.id, blocker.id)).external.number;
    const targetNumber = (await waitSynced(project.id, target.id)).external.number;

    // The blocker's push holds the project's Durable Object while the three edits are written.
    const held = watch.holdNext(new RegExp(`^(PATCH|PUT) .*/issues/${blockerNumber}$`));
    await patch(project.id, blocker.id, { title: "Busy for a while" });
    await held.arrived;
    for (const edit of lifecycle.coalescedEdits) await patch(project.id, target.id, edit);
    await new Promise((resolve) => setTimeout(resolve, 300));
    held.release();

    const issue = await waitSynced(project.id, target.id);
    await waitSynced(project.id, blocker.id);
    expect(localFields(issue)).toEqual({ ...lifecycle.coalescedResult, state: "open" });
    expect(trackerFields(fake, targetNumber)).toEqual({ ...lifecycle.coalescedResult, state: "open" });
    // One update: Gitea's edit endpoint has no labels field, so its update is a labels PUT plus a PATCH.
    const expected = { github: ["PATCH"], gitlab: ["PUT"], gitea: ["PUT", "PATCH"] }[provider];
    expect(writesTo(fake, targetNumber).map((w) => w.split(" ")[0])).toEqual(expected);
    expect(watch.schemaErrors).toEqual([]);
  });

  it("a create whose answer was lost is adopted on retry: the tracker ends with exactly one issue", async () => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "outbound" });
    fake.dropCreateResponse(1, "network");
    const created = await createIssue(project.id, lifecycle.create);
    const issue = await waitSynced(project.id, created.id);

    expect(fake.store.visible()).toHaveLength(1);
    expect(creates(fake)).toBe(1);
    expect(issue.external.number).toBe(fake.store.visible()[0]!.number);
    expect(trackerFields(fake, issue.external.number)).toEqual({ ...localFields(issue), state: "open" });
    const outbox = await env.DB.prepare("select status, create_attempted_at from outbox where issue_id = ?").bind(created.id).first();
    expect(outbox).toEqual({ status: "done", create_attempted_at: null });
  });

  it("our own change coming back by signed webhook and by poll changes nothing and pushes nothing", async () => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "bidirectional" });
    const created = await createIssue(project.id, lifecycle.create);
    const number = (await waitSynced(project.id, created.id)).external.number;
    await patch(project.id, created.id, lifecycle.editText);
    await waitSynced(project.id, created.id);
    const versionAfterPush = (await storedRow(created.id)).version;
    fake.clearLog();

    const action = { github: "edited", gitlab: "update", gitea: "edited" }[provider];
    const hook = await fake.webhook(action, number, { changes: { title: { from: lifecycle.create.title } } });
    const res = await api(`/webhooks/${provider}/${project.id}`, { method: "POST", rawBody: hook.rawBody, headers: hook.headers, token: null });
    expect(res.status).toBe(202);
    await vi.waitFor(
      async () => {
        const row = await env.DB.prepare("select status from webhook_deliveries where project_id = ?").bind(project.id).first<{ status: string }>();
        if (row?.status !== "applied") throw new Error(`delivery ${row?.status}`);
      },
      { timeout: 10_000, interval: 25 },
    );
    const run = await syncAndWait(project.id, "incremental");
    expect(run.status).toBe("succeeded");
    expect(run.stats).toMatchObject({ created: 0, updated: 0, conflicts: 0 });
    expect(await projectStub(project.id).pushIssue(project.id, created.id)).toEqual({ ok: true, value: { retryAt: null } });

    expect(fake.requests.filter((r) => r.method !== "GET")).toEqual([]);
    const row = await storedRow(created.id);
    expect(row.version).toBe(versionAfterPush);
    expect(row.syncState).toBe("synced");
    const conflicts = await env.DB.prepare("select count(*) as n from conflicts where issue_id = ?").bind(created.id).first<{ n: number }>();
    expect(conflicts!.n).toBe(0);
    const outbox = await env.DB.prepare("select status from outbox where issue_id = ?").bind(created.id).first();
    expect(outbox).toEqual({ status: "done" });
  });
});

describe("outbound push: details", () => {
  it("a duplicate push job after the push finds nothing to do and calls no tracker", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    const created = await createIssue(project.id, { title: "Once" });
    await waitSynced(project.id, created.id);
    fake.clearLog();
    expect(await projectStub(project.id).pushIssue(project.id, created.id)).toEqual({ ok: true, value: { retryAt: null } });
    expect(await projectStub(project.id).pushIssue(project.id, "0190f0f0-0000-7000-8000-000000000000")).toEqual({ ok: true, value: { retryAt: null } });
    expect(fake.requests).toEqual([]);
  });

  it("an edit undone before the push runs sends nothing and leaves the issue synced", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    const watch = observe(fake);
    const blocker = await createIssue(project.id, { title: "Busy" });
    const target = await createIssue(project.id, { title: "Stable title" });
    const blockerNumber = (await waitSynced(project.id, blocker.id)).external.number;
    const targetNumber = (await waitSynced(project.id, target.id)).external.number;
    const held = watch.holdNext(new RegExp(`^PATCH .*/issues/${blockerNumber}$`));
    await patch(project.id, blocker.id, { title: "Busy still" });
    await held.arrived;
    await patch(project.id, target.id, { title: "Changed my mind" });
    await patch(project.id, target.id, { title: "Stable title" });
    held.release();
    await waitSynced(project.id, blocker.id);
    const issue = await waitSynced(project.id, target.id);
    expect(issue.title).toBe("Stable title");
    expect(writesTo(fake, targetNumber)).toEqual([]);
  });

  it("a milestone is sent as GitHub's milestone number and the request bodies match GitHub's OpenAPI schemas", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    const watch = observe(fake);
    fake.store.addMilestone("v1.0");
    fake.store.addMilestone("v2.0");
    const created = await createIssue(project.id, { title: "With a milestone", milestone: "v1.0", labels: ["a"], assignees: ["alice"] });
    const number = (await waitSynced(project.id, created.id)).external.number;
    expect(fake.issue(number)!.milestone).toBe("v1.0");
    await patch(project.id, created.id, { milestone: "v2.0", body: "" });
    await waitSynced(project.id, created.id);
    await patch(project.id, created.id, { milestone: null });
    const issue = await waitSynced(project.id, created.id);
    expect(issue.milestone).toBeNull();
    expect(fake.issue(number)!.milestone).toBeNull();
    const bodies = fake.requests.filter((r) => r.method !== "GET").map((r) => r.body);
    expect(bodies).toEqual([
      { title: "With a milestone", body: "", labels: ["a"], assignees: ["alice"], milestone: 1 },
      { milestone: 2 },
      { milestone: null },
    ]);
    expect(watch.schemaErrors).toEqual([]);
  });

  it("recreate policy: an update finding the tracker issue deleted creates it again, once, with the local fields", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound", deletionPolicy: "recreate" });
    const created = await createIssue(project.id, lifecycle.create);
    const first = (await waitSynced(project.id, created.id)).external.number;
    fake.delete(first);
    await patch(project.id, created.id, lifecycle.editText);
    const issue = await waitSynced(project.id, created.id);

    expect(issue.external.number).not.toBe(first);
    expect(fake.store.visible().map((i) => i.number)).toEqual([issue.external.number]);
    expect(trackerFields(fake, issue.external.number)).toEqual(localFields(issue));
    expect(creates(fake)).toBe(2);
    expect(issue.syncError).toBeNull();
  });

  it("recreate policy: applyGone from reconciliation queues one recreate, and a duplicate job creates nothing more", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound", deletionPolicy: "recreate" });
    const created = await createIssue(project.id, lifecycle.create);
    const first = (await waitSynced(project.id, created.id)).external.number;
    fake.delete(first);
    const stub = projectStub(project.id);
    const outcome = await runInDurableObject(stub, async (_instance: ProjectSync) => {
      const ctx = await loadSyncContext(env, project.id);
      return applyGone(ctx, (await getIssue(ctx.db, project.id, created.id))!, { status: "deleted" });
    });
    expect(outcome).toBe("recreated");
    const issue = await waitSynced(project.id, created.id);
    expect(await stub.pushIssue(project.id, created.id)).toEqual({ ok: true, value: { retryAt: null } });

    expect(issue.external.number).not.toBe(first);
    expect(fake.store.visible()).toHaveLength(1);
    expect(creates(fake)).toBe(2);
    expect(trackerFields(fake, issue.external.number)).toEqual(localFields(issue));
  });

  it("orphan policy: an update finding the tracker issue deleted orphans the issue and fails the push, without retrying", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    const created = await createIssue(project.id, { title: "Will be deleted" });
    const number = (await waitSynced(project.id, created.id)).external.number;
    fake.delete(number);
    await patch(project.id, created.id, { title: "Edited after the delete" });
    const issue = await vi.waitFor(
      async () => {
        const i = await getApiIssue(project.id, created.id);
        if (i.syncState !== "orphaned") throw new Error(i.syncState);
        return i;
      },
      { timeout: 10_000, interval: 25 },
    );
    expect(issue.syncError).toMatch(/deleted/);
    const outbox = await env.DB.prepare("select status, last_error from outbox where issue_id = ?").bind(created.id).first<any>();
    expect(outbox.status).toBe("failed");
    expect(creates(fake)).toBe(1);
  });
});
