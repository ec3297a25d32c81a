import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { pruneHistory } from "../../src/jobs/retention";
import { api, createIssue, createProject, expectProblem, json, SECRET_TOKEN, SECRET_WEBHOOK } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import { deliverAndApply } from "./webhooks.support";

/** Every entry of a project's stream, followed page by page through `nextCursor` (null at the end). */
async function follow(projectId: string, query = "", limit = 3): Promise<{ items: any[]; cursor: string | null }> {
  const items: any[] = [];
  let cursor: string | null = null;
  for (;;) {
    const res = await api(`/api/v1/projects/${projectId}/activity?limit=${limit}${cursor ? `&after=${cursor}` : ""}${query}`);
    expect(res.status).toBe(200);
    const page: any = await json(res);
    items.push(...page.items);
    if (page.nextCursor === null) return { items, cursor: page.tailCursor };
    cursor = page.nextCursor;
  }
}

async function waitForActivity(projectId: string, predicate: (e: any) => boolean): Promise<any> {
  return vi.waitFor(
    async () => {
      const { items } = await follow(projectId, "", 500);
      const found = items.find(predicate);
      if (!found) throw new Error("activity not there yet");
      return found;
    },
    { timeout: 10_000, interval: 25 },
  );
}

describe("activity stream: every change recorded once, with its source", () => {
  it("poll, full, webhook, API and push changes each carry their source, run or delivery id, and before → after", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    fake.seed(2);
    const full = await syncAndWait(project.id, "full");
    fake.edit(1, { title: "renamed in the tracker" });
    const poll = await syncAndWait(project.id, "incremental");

    const { items } = await follow(project.id);
    // The first import records one summary per listing page instead of one issue.created per issue.
    expect(items.filter((e) => e.kind === "issue.created")).toHaveLength(0);
    const imported = items.filter((e) => e.kind === "issue.imported");
    expect(imported).toHaveLength(1);
    const locals = await localByNumber(project.id);
    expect(imported[0]).toMatchObject({ source: "full", runId: full.id, actor: null, issueId: null, changes: null });
    expect(imported[0].issueIds).toEqual([locals.get(1)!.id, locals.get(2)!.id]);
    expect(JSON.parse(imported[0].detail)).toEqual({ issueIds: imported[0].issueIds });
    const local = locals.get(1)!;
    const polled = items.filter((e) => e.kind === "issue.updated" && e.source === "poll");
    expect(polled).toHaveLength(1);
    expect(polled[0]).toMatchObject({ issueId: local.id, runId: poll.id, changes: { title: { after: "renamed in the tracker" } } });
    expect(Object.keys(polled[0].changes)).toEqual(["title"]);

    // A webhook: source webhook with the tracker's delivery id.
    fake.edit(2, { labels: ["bug"] });
    const hook = await fake.webhook("labeled", 2);
    await deliverAndApply(project, hook);
    const second = (await localByNumber(project.id)).get(2)!;
    const viaHook = await waitForActivity(project.id, (e) => e.source === "webhook" && e.issueId === second.id);
    expect(viaHook).toMatchObject({ kind: "issue.updated", deliveryId: hook.headers["x-github-delivery"], changes: { labels: { before: [], after: ["bug"] } } });

    // A local edit: source api, actor = the token's name; then the push's answer: source push.
    await api(`/api/v1/projects/${project.id}/issues/${local.id}`, { method: "PATCH", body: { body: "edited locally" } });
    const edit = await waitForActivity(project.id, (e) => e.source === "api" && e.kind === "issue.updated");
    expect(edit).toMatchObject({ actor: "default", issueId: local.id, changes: { body: { after: "edited locally" }, syncState: { before: "synced", after: "pending_push" } } });
    const pushed = await waitForActivity(project.id, (e) => e.source === "push" && e.kind === "issue.pushed");
    expect(pushed).toMatchObject({ issueId: local.id, detail: "sent body to #1" });
    await waitForActivity(project.id, (e) => e.source === "push" && e.kind === "issue.updated" && e.changes?.syncState?.after === "synced");

    // Echoes change nothing, so they record nothing: a poll after our own push adds no issue.updated.
    const before = (await follow(project.id)).items.length;
    await syncAndWait(project.id, "incremental");
    expect((await follow(project.id)).items.length).toBe(before);
  });

  it("follows like a log: oldest first, no gaps or repeats across pages, resumes from the last cursor", async () => {
    const project = await createProject({ syncDirection: "outbound" });
    for (let i = 0; i < 7; i++) await createIssue(project.id, { title: `issue ${i}` });
    const first = await follow(project.id, "&kind=issue.created", 2);
    expect(first.items.map((e) => e.changes.title.after)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `issue ${i}`));
    const ids = first.items.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // Caught up: the cursor stays put; new entries come after it, and only they.
    expect(first.cursor).toBe(String(ids[ids.length - 1]));
    await createIssue(project.id, { title: "later" });
    const page = await json(await api(`/api/v1/projects/${project.id}/activity?after=${first.cursor}&kind=issue.created`));
    expect(page.items.map((e: any) => e.changes.title.after)).toEqual(["later"]);

    // The cross-project feed holds the same entries in the same order.
    const all = await json(await api(`/api/v1/activity?projectId=${project.id}&kind=issue.created&limit=500`));
    expect(all.items.map((e: any) => e.id)).toEqual([...ids.map(String), page.items[0].id]);
    const everything = await json(await api(`/api/v1/activity?limit=500`));
    const seqs = everything.items.map((e: any) => Number(e.id));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  });

  it("bad filters and cursors are 400 naming the field", async () => {
    const project = await createProject();
    expect((await expectProblem(await api(`/api/v1/projects/${project.id}/activity?after=abc`), 400)).errors![0]!.field).toBe("after");
    expect((await expectProblem(await api(`/api/v1/projects/${project.id}/activity?kind=issue.nope`), 400)).errors![0]!.field).toBe("kind");
    expect((await expectProblem(await api(`/api/v1/activity?source=moon`), 400)).errors![0]!.field).toBe("source");
    await expectProblem(await api(`/api/v1/activity`, { token: "wrong" }), 401);
  });

  it("values are bounded in bytes: a 120 KB body is stored as a marked prefix", async () => {
    const project = await createProject({ syncDirection: "outbound" });
    const body = "ü".repeat(60_000); // 60,000 characters, 120,000 UTF-8 bytes
    const issue = await createIssue(project.id, { title: "big", body });
    const { items } = await follow(project.id, `&issueId=${issue.id}`);
    const after = items[0].changes.body.after;
    expect(after.truncated).toBe(true);
    expect(after.bytes).toBe(120_002); // as JSON, with its quotes
    expect(new TextEncoder().encode(after.prefix).length).toBeLessThanOrEqual(1024);
    expect(after.prefix.startsWith("üüü")).toBe(true);
    const stored = await env.DB.prepare("select length(changes) as n from activity where issue_id = ?").bind(issue.id).first<{ n: number }>();
    expect(stored!.n).toBeLessThan(8_192);
  });

  it("orphans and pushes the tracker refuses are recorded", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seed(2);
    await syncAndWait(project.id, "full");
    fake.delete(2);
    const run = await syncAndWait(project.id, "full");
    const gone = (await localByNumber(project.id)).get(2)!;
    const orphaned = await waitForActivity(project.id, (e) => e.kind === "issue.orphaned");
    expect(orphaned).toMatchObject({ issueId: gone.id, source: "full", runId: run.id, changes: { syncState: { before: "synced", after: "orphaned" } } });
  });

  it("a run refused by the tracker's credentials is an access failure", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.token = "rotated-elsewhere";
    const run = await syncAndWait(project.id, "incremental");
    expect(run.status).toBe("failed");
    const failure = await waitForActivity(project.id, (e) => e.kind === "access.failed");
    expect(failure).toMatchObject({ source: "poll", runId: run.id });
    expect(failure.detail).toMatch(/401/);
    expect(JSON.stringify(failure)).not.toContain(SECRET_TOKEN);
  });
});

describe("administrative changes: who (the token's name) and when, never a secret", () => {
  it("project created, updated, token and secret replaced, paused, resumed, deleted", async () => {
    const project = await createProject();
    const patch = (body: Record<string, unknown>) => api(`/api/v1/projects/${project.id}`, { method: "PATCH", body });
    expect((await patch({ name: "Renamed", token: "ghp_NEWTOKEN_secret_value_1234567890", webhookSecret: "whsec_NEW_secret_value" })).status).toBe(200);
    expect((await patch({ syncEnabled: false })).status).toBe(200);
    expect((await patch({ syncEnabled: true })).status).toBe(200);
    expect((await api(`/api/v1/projects/${project.id}`, { method: "DELETE" })).status).toBe(204);

    // The stream of a deleted project stays readable through the cross-project feed.
    const { items } = await json(await api(`/api/v1/activity?projectId=${project.id}&limit=500`));
    expect(items.map((e: any) => e.kind)).toEqual([
      "project.created",
      "project.updated",
      "project.token_replaced",
      "project.webhook_secret_replaced",
      "sync.paused",
      "sync.resumed",
      "project.deleted",
    ]);
    for (const e of items) {
      expect(e).toMatchObject({ actor: "default", source: "api" });
      expect(Date.parse(e.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    }
    expect(items[1].changes).toEqual({ name: { before: "Hello World", after: "Renamed" } });
    const text = JSON.stringify(items);
    for (const secret of [SECRET_TOKEN, SECRET_WEBHOOK, "ghp_NEWTOKEN_secret_value_1234567890", "whsec_NEW_secret_value", "test-api-token"]) {
      expect(text).not.toContain(secret);
    }
    const raw = await env.DB.prepare("select group_concat(coalesce(changes, '') || coalesce(detail, ''), ' ') as t from activity where project_id = ?").bind(project.id).first<{ t: string }>();
    expect(raw!.t).not.toContain("NEWTOKEN");
  });
});

describe("repair routes", () => {
  it("resolve a conflict by keeping local: applied, pushed to the tracker, recorded with the actor; once only", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional", master: "tracker" });
    fake.seed(1);
    await syncAndWait(project.id, "full");
    const local = (await localByNumber(project.id)).get(1)!;
    // Both sides change the title while the push cannot get through; the tracker (master) wins.
    fake.fail({ kind: "server_error", match: /^(PATCH|GET \/repos\/[^/]+\/[^/]+\/issues\/1$)/, times: 1000 });
    await api(`/api/v1/projects/${project.id}/issues/${local.id}`, { method: "PATCH", body: { title: "local title" } });
    fake.edit(1, { title: "tracker title" });
    await syncAndWait(project.id, "incremental");
    const conflicts = await json(await api(`/api/v1/projects/${project.id}/conflicts`));
    expect(conflicts.items).toHaveLength(1);
    const conflict = conflicts.items[0];
    expect(conflict).toMatchObject({ field: "title", localValue: "local title", trackerValue: "tracker title", resolution: "tracker", resolvedAt: null });
    expect((await localByNumber(project.id)).get(1)!.title).toBe("tracker title");
    fake.clearFaults();

    const res = await api(`/api/v1/projects/${project.id}/conflicts/${conflict.id}/resolve`, { method: "POST", body: { keep: "local" } });
    expect(res.status).toBe(200);
    const resolved = await json(res);
    expect(resolved).toMatchObject({ pushQueued: true, conflict: { resolvedKeep: "local", resolvedBy: "default" }, issue: { title: "local title" } });
    await vi.waitFor(() => expect(fake.issue(1)!.title).toBe("local title"), { timeout: 10_000, interval: 25 });
    const entry = await waitForActivity(project.id, (e) => e.kind === "conflict.resolved");
    expect(entry).toMatchObject({ actor: "default", source: "api", issueId: local.id, changes: { title: { before: "tracker title", after: "local title" } } });

    await expectProblem(await api(`/api/v1/projects/${project.id}/conflicts/${conflict.id}/resolve`, { method: "POST", body: { keep: "tracker" } }), 409);
    await expectProblem(await api(`/api/v1/projects/${project.id}/conflicts/nope/resolve`, { method: "POST", body: { keep: "local" } }), 404);
    const bad = await expectProblem(await api(`/api/v1/projects/${project.id}/conflicts/${conflict.id}/resolve`, { method: "POST", body: { keep: "both" } }), 400);
    expect(bad.errors![0]!.field).toBe("keep");
  });

  it("retry-push requeues a failed push (202) and it goes through; 409 when nothing failed", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    fake.fail({ kind: "server_error", status: 422, match: /^POST/, times: 1 });
    const issue = await createIssue(project.id, { title: "refused once" });
    await vi.waitFor(async () => expect((await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`))).syncState).toBe("error"), {
      timeout: 10_000,
      interval: 25,
    });
    const refused = await waitForActivity(project.id, (e) => e.kind === "push.refused");
    expect(refused).toMatchObject({ issueId: issue.id, source: "push" });

    const res = await api(`/api/v1/projects/${project.id}/issues/${issue.id}/retry-push`, { method: "POST" });
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({ status: "queued", issueId: issue.id });
    await vi.waitFor(async () => expect((await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`))).syncState).toBe("synced"), {
      timeout: 10_000,
      interval: 25,
    });
    expect(fake.store.visible().map((i) => i.title)).toEqual(["refused once"]);
    expect(await waitForActivity(project.id, (e) => e.kind === "push.retried")).toMatchObject({ actor: "default", issueId: issue.id });

    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/retry-push`, { method: "POST" }), 409);
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/nope/retry-push`, { method: "POST" }), 404);
  });

  it("both repair routes are in /openapi.json", async () => {
    const doc = await json(await api("/openapi.json"));
    expect(doc.paths["/api/v1/projects/{projectId}/conflicts/{conflictId}/resolve"].post).toBeDefined();
    expect(doc.paths["/api/v1/projects/{projectId}/issues/{issueId}/retry-push"].post).toBeDefined();
    expect(doc.paths["/api/v1/projects/{projectId}/activity"].get).toBeDefined();
    expect(doc.paths["/api/v1/activity"].get).toBeDefined();
  });
});

describe("retention", () => {
  it("prunes activity older than its retention in bounded chunks, keeping newer entries and the cursor valid", async () => {
    const project = await createProject({ syncDirection: "outbound" });
    const issue = await createIssue(project.id, { title: "kept" });
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    await env.DB.prepare("insert into activity (project_id, kind, source, created_at) values (?, 'sync.failed', 'poll', ?), (?, 'sync.failed', 'poll', ?)")
      .bind(project.id, old, project.id, old)
      .run();
    const result = await pruneHistory(env);
    expect(result.activity).toBeGreaterThanOrEqual(2);
    const { items } = await follow(project.id);
    expect(items.map((e) => e.kind)).toEqual(["project.created", "issue.created"]);
    expect(items[1].issueId).toBe(issue.id);
  });

  it("prunes GitHub App installation deliveries (kept for dedupe) after the delivery retention, keeping recent ones", async () => {
    const old = new Date(Date.now() - 20 * 86_400_000).toISOString();
    const recent = new Date().toISOString();
    const [oldId, recentId] = [crypto.randomUUID(), crypto.randomUUID()];
    await env.DB.prepare("insert into github_app_deliveries (delivery_id, event, action, received_at) values (?, 'installation', 'created', ?), (?, 'installation', 'created', ?)")
      .bind(oldId, old, recentId, recent)
      .run();
    const result = await pruneHistory(env);
    expect(result.appDeliveries).toBeGreaterThanOrEqual(1);
    const left = await env.DB.prepare("select delivery_id as id from github_app_deliveries where delivery_id in (?, ?)").bind(oldId, recentId).all<{ id: string }>();
    expect(left.results.map((r) => r.id)).toEqual([recentId]);
  });
});
