/**
 * Projects on two D1 databases (`DB` is shard 0, `DB_SHARD_1` shard 1): each project's rows live in
 * its own shard only, and the cross-project jobs (cron fan-out, sweeps, retention, the overview, the
 * project list, GitHub App fan-out aside) cover every shard.
 */
import examples from "@octokit/webhooks-examples";
import { createScheduledController } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { idFloor, newId } from "../../src/ids";
import { api, API_TOKEN, createIssue, expectProblem, json, projectBody, SECRET_WEBHOOK } from "../support/api";
import { APP_WEBHOOK_SECRET, appProject, installedApp, postAppWebhook } from "../support/github-app";
import { listAllIssues, projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, deliver, githubDelivery } from "./webhooks.support";

const opened = ((examples.find((d) => d.name === "issues")?.examples ?? []) as Record<string, any>[]).find((p) => p.action === "opened")!;

const ORIGIN = "http://sync.test";

/** A queue binding that records what is sent instead of delivering it. */
function recordingQueue() {
  const sent: any[] = [];
  return { sent, send: async (body: any) => void sent.push(body), sendBatch: async (messages: { body: any }[]) => void sent.push(...messages.map((m) => m.body)) };
}

async function count(d1: D1Database, table: string, projectId: string): Promise<number> {
  const column = table === "projects" ? "id" : "project_id";
  return (await d1.prepare(`select count(*) as n from ${table} where ${column} = ?`).bind(projectId).first<{ n: number }>())!.n;
}

/** Per table, the project's rows in shard 0 and in shard 1. */
async function placement(projectId: string, tables: readonly string[]): Promise<Record<string, [number, number]>> {
  const out: Record<string, [number, number]> = {};
  for (const t of tables) out[t] = [await count(env.DB, t, projectId), await count(env.DB_SHARD_1, t, projectId)];
  return out;
}

async function waitIssue(projectId: string, predicate: (issue: any) => boolean, what: string): Promise<any> {
  return vi.waitFor(
    async () => {
      const page = await json(await api(`/api/v1/projects/${projectId}/issues?limit=100`));
      const found = page.items.find(predicate);
      if (!found) throw new Error(`no issue ${what} yet`);
      return found;
    },
    { timeout: 15_000, interval: 25 },
  );
}

async function signIn(): Promise<string> {
  const res = await exports.default.fetch(new Request(`${ORIGIN}/ui/login`, { method: "POST", body: new URLSearchParams({ token: API_TOKEN }), redirect: "manual" }));
  expect(res.status).toBe(303);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

describe("projects on two shards", () => {
  it("sync side by side by poll, webhook and push, each project's rows landing in its own D1 only", async () => {
    const a = await projectWithTracker("github", { name: "Shard zero" });
    const b = await projectWithTracker("github", { name: "Shard one", shard: 1 });
    expect(a.project.shard).toBe(0);
    expect(b.project.shard).toBe(1);
    // The directory names the project outside shard 0; shard 0 needs no entry.
    expect(await env.DB.prepare("select shard from project_shards where project_id = ?").bind(b.project.id).first()).toEqual({ shard: 1 });
    expect(await env.DB.prepare("select shard from project_shards where project_id = ?").bind(a.project.id).first()).toBeNull();

    // Poll: both import their tracker's issues.
    a.fake.store.seed(3);
    b.fake.store.seed(4);
    const [runA, runB] = await Promise.all([syncAndWait(a.project.id), syncAndWait(b.project.id)]);
    expect([runA.status, runB.status]).toEqual(["succeeded", "succeeded"]);

    // Webhook: a tracker edit arrives by signed delivery at each project's own URL.
    a.fake.store.edit(1, { title: "edited on tracker A" });
    b.fake.store.edit(1, { title: "edited on tracker B" });
    await accepted(await deliver(a.project, await a.fake.webhook("edited", 1)));
    await accepted(await deliver(b.project, await b.fake.webhook("edited", 1)));
    await waitIssue(a.project.id, (i) => i.title === "edited on tracker A", "edited by webhook in A");
    await waitIssue(b.project.id, (i) => i.title === "edited on tracker B", "edited by webhook in B");

    // Push: a local issue reaches each tracker.
    const localA = await createIssue(a.project.id, { title: "made here for A" });
    const localB = await createIssue(b.project.id, { title: "made here for B" });
    await waitIssue(a.project.id, (i) => i.id === localA.id && i.syncState === "synced", "pushed in A");
    await waitIssue(b.project.id, (i) => i.id === localB.id && i.syncState === "synced", "pushed in B");
    expect(a.fake.store.visible().map((i) => i.title)).toContain("made here for A");
    expect(b.fake.store.visible().map((i) => i.title)).toContain("made here for B");
    expect(b.fake.store.visible().map((i) => i.title)).not.toContain("made here for A");

    const tables = ["projects", "issues", "sync_runs", "webhook_deliveries", "outbox", "activity"];
    const inA = await placement(a.project.id, tables);
    const inB = await placement(b.project.id, tables);
    for (const t of tables) {
      expect(inA[t]![0], `${t} of A in shard 0`).toBeGreaterThan(0);
      expect(inA[t]![1], `${t} of A in shard 1`).toBe(0);
      expect(inB[t]![0], `${t} of B in shard 0`).toBe(0);
      expect(inB[t]![1], `${t} of B in shard 1`).toBeGreaterThan(0);
    }
    expect(inA.issues![0]).toBe(4);
    expect(inB.issues![1]).toBe(5);

    // The project list covers both shards, in id order.
    const listed = (await json(await api("/api/v1/projects?limit=500"))).items.map((p: any) => p.id);
    expect(listed).toEqual(expect.arrayContaining([a.project.id, b.project.id]));
    expect(listed.indexOf(a.project.id)).toBeLessThan(listed.indexOf(b.project.id));
  });

  it("the webhook edge still makes one D1 round trip for a warm delivery to a shard-1 project", async () => {
    const { project } = await projectWithTracker("github", { shard: 1 }, { webhookSecret: SECRET_WEBHOOK });
    // A first delivery loads the project's shard and secret into this isolate's caches.
    expect((await deliver(project, await githubDelivery("ping", { zen: "warm", hook_id: 1 }))).status).toBe(200);
    // Both bindings are D1Database objects: the prototype's spies count calls to either.
    const proto = Object.getPrototypeOf(env.DB_SHARD_1) as { prepare: (...a: unknown[]) => unknown; batch: (...a: unknown[]) => unknown };
    expect(Object.getPrototypeOf(env.DB)).toBe(proto);
    const prepare = vi.spyOn(proto, "prepare");
    const batch = vi.spyOn(proto, "batch");
    let res: Response;
    let d1Calls: number;
    try {
      res = await deliver(project, await githubDelivery("issues", opened));
      d1Calls = prepare.mock.calls.length + batch.mock.calls.length;
    } finally {
      prepare.mockRestore();
      batch.mockRestore();
    }
    expect(res.status).toBe(202);
    expect(d1Calls).toBe(1);
    const id = (await json(res)).id;
    await vi.waitFor(
      async () => expect((await env.DB_SHARD_1.prepare("select status from webhook_deliveries where id = ?").bind(id).first())?.status).toBe("applied"),
      { timeout: 10_000, interval: 25 },
    );
    expect(await count(env.DB_SHARD_1, "webhook_deliveries", project.id)).toBe(2);
    expect(await count(env.DB, "webhook_deliveries", project.id)).toBe(0);
  });

  it("an identity mapping applies to a shard-1 project's issues, with one id in every shard, and its removal too", async () => {
    const { fake, project } = await projectWithTracker("github", { shard: 1 });
    fake.store.addUser("ann");
    const seeded = fake.seedIssue({ title: "People in shard 1", assignees: ["ann"] });
    await syncAndWait(project.id);
    const trackerOrigin = new URL(fake.baseUrl).origin;
    const put = await api("/api/v1/identities", { method: "PUT", body: { items: [{ userId: "user-ann", provider: "github", trackerOrigin, login: "ann" }] } });
    expect(put.status).toBe(200);
    const [stored] = (await json(put)).items;
    const issueOf = async () => (await json(await api(`/api/v1/projects/${project.id}/issues?limit=10`))).items.find((i: any) => i.external?.number === seeded.number);
    expect((await issueOf()).assigneeUsers).toEqual(["user-ann"]);
    expect(await env.DB_SHARD_1.prepare("select id from identities where login = 'ann' and tracker_origin = ?").bind(trackerOrigin).first()).toEqual({ id: stored.id });
    expect((await json(await api(`/api/v1/projects/${project.id}/activity?kind=identity.mapped`))).items).toHaveLength(1);
    expect((await api(`/api/v1/identities/${stored.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await issueOf()).assigneeUsers).toEqual([]);
    expect(await env.DB_SHARD_1.prepare("select id from identities where id = ?").bind(stored.id).first()).toBeNull();
  });

  it("refuses a shard this Worker does not bind, naming the field", async () => {
    const problem = await expectProblem(await api("/api/v1/projects", { method: "POST", body: projectBody({ shard: 7 }) }), 400);
    expect(problem.errors).toContainEqual(expect.objectContaining({ field: "shard" }));
  });

  it("deleting a project removes its rows from its shard and its directory entry", async () => {
    const b = await projectWithTracker("github", { shard: 1 });
    b.fake.store.seed(2);
    await syncAndWait(b.project.id);
    expect(await count(env.DB_SHARD_1, "issues", b.project.id)).toBe(2);
    expect((await api(`/api/v1/projects/${b.project.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await count(env.DB_SHARD_1, "projects", b.project.id)).toBe(0);
    expect(await count(env.DB_SHARD_1, "issues", b.project.id)).toBe(0);
    expect(await env.DB.prepare("select 1 from project_shards where project_id = ?").bind(b.project.id).first()).toBeNull();
    expect((await api(`/api/v1/projects/${b.project.id}`)).status).toBe(404);
  });
});

describe("cross-project jobs cover every shard", () => {
  it("the cron fans out to the enabled projects of both shards", async () => {
    const a = await projectWithTracker("github");
    const b = await projectWithTracker("github", { shard: 1 });
    const off = await projectWithTracker("github", { shard: 1, syncEnabled: false });
    const sync = recordingQueue();
    await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), { ...env, SYNC_QUEUE: sync as any, PUSH_QUEUE: recordingQueue() as any });
    const ids = sync.sent.filter((m) => m.type === "sync").map((m) => m.projectId);
    expect(ids).toEqual(expect.arrayContaining([a.project.id, b.project.id]));
    expect(ids).not.toContain(off.project.id);
  });

  it("the sweeps re-send lost pushes and deliveries of a project in shard 1", async () => {
    const b = await projectWithTracker("github", { shard: 1 });
    const issueId = newId();
    const deliveryRowId = newId(Date.now() - 60 * 60_000);
    await env.DB_SHARD_1.batch([
      env.DB_SHARD_1.prepare("insert into outbox (id, project_id, issue_id, op, status, updated_at) values (?, ?, ?, 'create', 'pending', '2020-01-01T00:00:00.000Z')").bind(newId(), b.project.id, issueId),
      env.DB_SHARD_1.prepare("insert into webhook_deliveries (id, project_id, provider, delivery_id, event, payload, status, received_at) values (?, ?, 'github', 'lost-1', 'issues', '{}', 'received', '2020-01-01T00:00:00.000Z')").bind(deliveryRowId, b.project.id),
    ]);
    const push = recordingQueue();
    const sync = recordingQueue();
    await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), { ...env, SYNC_QUEUE: sync as any, PUSH_QUEUE: push as any });
    expect(push.sent).toContainEqual({ type: "push", projectId: b.project.id, issueId });
    expect(sync.sent).toContainEqual(expect.objectContaining({ type: "webhook", projectId: b.project.id, deliveryRowId }));
  });

  it("the daily retention prunes old history in shard 1 too", async () => {
    const projectId = newId();
    const old = idFloor(Date.now() - 40 * 24 * 60 * 60_000).replace(/0{4}$/, "7777");
    const recent = newId();
    const insert = (id: string) => env.DB_SHARD_1.prepare("insert into sync_runs (id, project_id, mode, trigger, status) values (?, ?, 'incremental', 'cron', 'succeeded')").bind(id, projectId);
    await env.DB_SHARD_1.batch([insert(old), insert(recent)]);
    await worker.scheduled(createScheduledController({ cron: "0 3 * * *", scheduledTime: Date.now() }), { ...env, SYNC_QUEUE: recordingQueue() as any });
    const left = (await env.DB_SHARD_1.prepare("select id from sync_runs where project_id = ? order by id").bind(projectId).all<{ id: string }>()).results.map((r) => r.id);
    expect(left).toEqual([recent]);
  });

  it("a GitHub App delivery reaches the App projects of both shards, each storing it in its own D1", async () => {
    const zero = await installedApp();
    const one = await installedApp();
    const a = await appProject(zero.fake, zero.installationId);
    const b = await appProject(one.fake, one.installationId, { shard: 1 });
    const issueA = zero.fake.seedIssue({ title: "App issue in shard 0" });
    const issueB = one.fake.seedIssue({ title: "App issue in shard 1" });
    const resA = await postAppWebhook(await zero.fake.appWebhook("opened", issueA.number, APP_WEBHOOK_SECRET));
    const resB = await postAppWebhook(await one.fake.appWebhook("opened", issueB.number, APP_WEBHOOK_SECRET));
    expect([resA.status, resB.status]).toEqual([202, 202]);
    expect(await resB.json()).toMatchObject({ status: "accepted" });
    await vi.waitFor(async () => expect((await listAllIssues(a.id)).map((i) => i.title)).toEqual(["App issue in shard 0"]), { timeout: 10_000, interval: 25 });
    await vi.waitFor(async () => expect((await listAllIssues(b.id)).map((i) => i.title)).toEqual(["App issue in shard 1"]), { timeout: 10_000, interval: 25 });
    expect(await placement(a.id, ["webhook_deliveries", "issues"])).toEqual({ webhook_deliveries: [1, 0], issues: [1, 0] });
    expect(await placement(b.id, ["webhook_deliveries", "issues"])).toEqual({ webhook_deliveries: [0, 1], issues: [0, 1] });
  });

  it("the dashboard overview and a shard-1 project's page show it beside shard 0's", async () => {
    const a = await projectWithTracker("github", { name: "Overview shard zero" });
    const b = await projectWithTracker("github", { name: "Overview shard one", shard: 1 });
    b.fake.store.seed(1);
    await syncAndWait(b.project.id);
    const cookie = await signIn();
    const page = async (path: string) => {
      const res = await exports.default.fetch(new Request(`${ORIGIN}${path}`, { headers: { cookie } }));
      expect(res.status).toBe(200);
      return res.text();
    };
    const overview = await page("/ui/?q=Overview%20shard");
    expect(overview).toContain(a.project.name);
    expect(overview).toContain(b.project.name);
    const projectPage = await page(`/ui/projects/${b.project.id}`);
    expect(projectPage).toContain(b.project.name);
  });
});
