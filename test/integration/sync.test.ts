import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Provider } from "../../src/providers/types";
import { api, expectProblem, json } from "../support/api";
import { listAllIssues, localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";

const PROVIDERS: Provider[] = ["github", "gitlab", "gitea"];

/** The tracker's visible issues, as the fields the local store should hold. */
function trackerIssues(fake: any): Map<number, { title: string; state: string; labels: string[] }> {
  const map = new Map();
  for (const i of fake.store.visible()) {
    if (i.kind !== "issue") continue;
    map.set(i.number, { title: i.title, state: i.state, labels: [...new Set(i.labels as string[])].sort() });
  }
  return map;
}

async function expectStoreEqualsTracker(projectId: string, fake: any): Promise<void> {
  const local = await localByNumber(projectId);
  const remote = trackerIssues(fake);
  expect([...local.keys()].sort((a, b) => a - b)).toEqual([...remote.keys()].sort((a, b) => a - b));
  for (const [number, want] of remote) {
    const got = local.get(number)!;
    expect({ title: got.title, state: got.state, labels: got.labels }).toEqual(want);
  }
  const all = await listAllIssues(projectId);
  expect(new Set(all.map((i) => i.external?.id)).size).toBe(all.length);
}

describe.each(PROVIDERS)("%s: full import", (provider) => {
  it("imports every issue across several pages, skipping pull requests, each exactly once", async () => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "inbound" }, { perPage: 4 });
    fake.seed(13, { pullRequestEvery: 4 });
    const run = await syncAndWait(project.id, "full");
    expect(run).toMatchObject({ status: "succeeded", mode: "full", trigger: "api", error: null });
    const issueCount = trackerIssues(fake).size;
    expect(run.stats.created).toBe(issueCount);
    expect(run.stats.pages).toBeGreaterThanOrEqual(Math.ceil(issueCount / 4));
    expect(run.stats.requests).toBeGreaterThanOrEqual(run.stats.pages);
    await expectStoreEqualsTracker(project.id, fake);
    const after = await json(await api(`/api/v1/projects/${project.id}`));
    expect(after.lastFullSyncAt).not.toBeNull();
  });
});

describe.each(PROVIDERS)("%s: incremental", (provider) => {
  it("picks up edits, closes and label changes made in the tracker", async () => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "inbound" }, { perPage: 5 });
    fake.seed(8);
    await syncAndWait(project.id, "full");
    fake.advance(5 * 60_000);
    fake.edit(2, { title: "Renamed in the tracker" });
    fake.edit(3, { state: "closed" });
    fake.edit(4, { labels: ["bug", "p1"] });
    fake.advance(1000);
    const run = await syncAndWait(project.id, "incremental");
    expect(run.status).toBe("succeeded");
    expect(run.stats.updated).toBe(3);
    expect(run.stats.created).toBe(0);
    await expectStoreEqualsTracker(project.id, fake);
  });
});

describe("incremental cursor", () => {
  it("a GitHub project with no changes costs one issue and one comment request, both answered 304, and writes no issue", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seed(3);
    await syncAndWait(project.id, "incremental");
    await syncAndWait(project.id, "incremental");
    const versions = await env.DB.prepare("select sum(version) as v from issues where project_id = ?").bind(project.id).first<{ v: number }>();
    fake.clearLog();
    const run = await syncAndWait(project.id, "incremental");
    // Issue 12: the comment phase adds at most one request, and GitHub's ETag makes it free.
    expect(run.stats.requests).toBe(2);
    expect(fake.requests.map((r) => r.status)).toEqual([304, 304]);
    expect(run.stats).toMatchObject({ created: 0, updated: 0 });
    const after = await env.DB.prepare("select sum(version) as v from issues where project_id = ?").bind(project.id).first<{ v: number }>();
    expect(after!.v).toBe(versions!.v);
  });

  it.each(["gitlab", "gitea"] as Provider[])("a %s project with no changes makes one issue request and one pull request listing (Gitea: plus one comment listing) and changes nothing", async (provider) => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "inbound" });
    fake.seed(3);
    await syncAndWait(project.id, "incremental");
    // GitLab: the issues were updated within a minute before their notes were read, so a note
    // written since may not have touched them (ThrottledTouch): the next run reads their notes once more.
    fake.advance(10 * 60_000);
    await syncAndWait(project.id, "incremental");
    fake.advance(10 * 60_000);
    fake.clearLog();
    const run = await syncAndWait(project.id, "incremental");
    // Issue 12: GitLab reads notes only of changed issues (none); Gitea lists comments once. Both
    // list pull requests once (their issue listings carry none; development links need them).
    const expected = provider === "gitlab" ? 2 : 3;
    expect(fake.requests).toHaveLength(expected);
    expect(run.stats).toMatchObject({ created: 0, updated: 0, requests: expected });
  });

  it.each(PROVIDERS)("%s: an issue edited while the run pages is not missed, and no neighbour is skipped", async (provider) => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "inbound" }, { perPage: 3 });
    fake.seed(10);
    // Edit an already-read issue right before the third listing request is answered.
    const original = fake.handle.bind(fake);
    let listCalls = 0;
    fake.handle = async (request: Request) => {
      if (request.method === "GET" && /\/issues(\?|$)/.test(new URL(request.url).pathname + "?") && ++listCalls === 3) {
        fake.edit(1, { title: "edited mid-run" });
      }
      return original(request);
    };
    await syncAndWait(project.id, "full");
    fake.handle = original;
    await syncAndWait(project.id, "incremental");
    await expectStoreEqualsTracker(project.id, fake);
    expect((await localByNumber(project.id)).get(1)!.title).toBe("edited mid-run");
  });
});

describe("failures and resumption", () => {
  it.each(PROVIDERS)("%s: a 5xx mid-run resumes from the checkpoint with nothing lost or duplicated", async (provider) => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "inbound" }, { perPage: 3 });
    fake.seed(14);
    // More failures than the adapter's own retries: the step fails and the run retries it later.
    let listCalls = 0;
    const original = fake.handle.bind(fake);
    fake.handle = async (request: Request) => {
      if (request.method === "GET" && new URL(request.url).pathname.endsWith("/issues") && ++listCalls >= 3 && listCalls <= 6) {
        return new Response(JSON.stringify({ message: "Bad Gateway" }), { status: 502, headers: { "content-type": "application/json" } });
      }
      return original(request);
    };
    const run = await syncAndWait(project.id, "full", 30_000);
    expect(run.status).toBe("succeeded");
    await expectStoreEqualsTracker(project.id, fake);
    expect(run.stats.created).toBe(14);
  });

  it("a rate-limited run checkpoints and resumes at the reset time", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 3, tickMs: 1 });
    fake.seed(9);
    fake.fail({ kind: "rate_limit", match: /issues/, times: 1, resetInSeconds: 1 });
    // Record when each request reaches the tracker, and the reset time the 429 announced.
    const original = fake.handle.bind(fake);
    const seen: { at: number; reset: number | null }[] = [];
    fake.handle = async (request: Request) => {
      const at = Date.now();
      const res = await original(request);
      const reset = res.headers.get("x-ratelimit-remaining") === "0" ? Number(res.headers.get("x-ratelimit-reset")) * 1000 : null;
      seen.push({ at, reset });
      return res;
    };
    const run = await syncAndWait(project.id, "full", 20_000);
    expect(run.status).toBe("succeeded");
    const limited = seen.findIndex((r) => r.reset !== null);
    expect(limited).toBeGreaterThanOrEqual(0);
    // Nothing was asked of the tracker before the reset: the run waited instead of hammering it.
    expect(seen[limited + 1]!.at).toBeGreaterThanOrEqual(seen[limited]!.reset!);
    await expectStoreEqualsTracker(project.id, fake);
  });

  it("a permission error fails the run with a clear error and sets the project's lastError", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" });
    fake.token = "another-token";
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/401|unauthori[sz]ed/i);
    const p = await json(await api(`/api/v1/projects/${project.id}`));
    expect(p.lastError).toContain(run.id);
    expect(JSON.stringify(p)).not.toContain("test-token");
  });
});

describe("runs join", () => {
  it("a second request while a run is going joins it, and a full request upgrades an incremental run", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 2 });
    fake.seed(10);
    const [a, b, c] = await Promise.all([
      api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "incremental" } }).then(json),
      api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "incremental" } }).then(json),
      api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "full" } }).then(json),
    ]);
    expect(new Set([a.runId, b.runId, c.runId]).size).toBe(1);
    const runs = await json(await api(`/api/v1/projects/${project.id}/sync-runs`));
    expect(runs.items).toHaveLength(1);
    expect(runs.items[0].mode).toBe("full");
  });

  it("sync requests answer 404 for unknown projects, 409 when sync is disabled, 400 for an unknown mode", async () => {
    const { project } = await projectWithTracker("github", { syncEnabled: false });
    await expectProblem(await api(`/api/v1/projects/missing/sync`, { method: "POST", body: {} }), 404);
    await expectProblem(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: {} }), 409);
    const problem = await expectProblem(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "everything" } }), 400);
    expect(problem.errors?.map((e) => e.field)).toEqual(["mode"]);
    await expectProblem(await api(`/api/v1/sync-runs/missing`), 404);
  });
});

describe("directions and conflicts", () => {
  it("inbound: the tracker overwrites the local copy", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seed(2);
    await syncAndWait(project.id, "full");
    fake.edit(1, { title: "tracker wins", labels: ["x"] });
    await syncAndWait(project.id, "incremental");
    expect((await localByNumber(project.id)).get(1)).toMatchObject({ title: "tracker wins", labels: ["x"], syncState: "synced" });
  });

  it("bidirectional: edits to different fields on each side both survive", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    fake.seed(1);
    await syncAndWait(project.id, "full");
    const local = (await localByNumber(project.id)).get(1)!;
    // The local edit is made while the push cannot run yet: block the tracker's PATCH.
    fake.fail({ kind: "server_error", match: /^PATCH/, times: 100 });
    await api(`/api/v1/projects/${project.id}/issues/${local.id}`, { method: "PATCH", body: { title: "local title" } });
    fake.edit(1, { labels: ["from-tracker"] });
    await syncAndWait(project.id, "incremental");
    const merged = (await localByNumber(project.id)).get(1)!;
    expect(merged).toMatchObject({ title: "local title", labels: ["from-tracker"] });
    const conflicts = await json(await api(`/api/v1/projects/${project.id}/conflicts`));
    expect(conflicts.items).toEqual([]);
  });

  it.each([
    ["tracker", "tracker title"],
    ["local", "local title"],
  ])("bidirectional: the same field changed on both sides is a conflict settled by master %s and recorded", async (master, winner) => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional", master });
    fake.seed(1);
    await syncAndWait(project.id, "full");
    const local = (await localByNumber(project.id)).get(1)!;
    fake.fail({ kind: "server_error", match: /^PATCH/, times: 100 });
    // The push reads the issue before writing; failing that read keeps the push from settling the
    // conflict itself when the queue happens to run it after the tracker edit, so the run is what sees it.
    fake.fail({ kind: "server_error", match: /^GET \/repos\/[^/]+\/[^/]+\/issues\/1$/, times: 100 });
    await api(`/api/v1/projects/${project.id}/issues/${local.id}`, { method: "PATCH", body: { title: "local title" } });
    fake.edit(1, { title: "tracker title" });
    const run = await syncAndWait(project.id, "incremental");
    expect(run.stats.conflicts).toBe(1);
    expect((await localByNumber(project.id)).get(1)!.title).toBe(winner);
    const conflicts = await json(await api(`/api/v1/projects/${project.id}/conflicts`));
    expect(conflicts.items).toHaveLength(1);
    expect(conflicts.items[0]).toMatchObject({ issueId: local.id, field: "title", localValue: "local title", trackerValue: "tracker title", resolution: master });
    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status.conflictsRecorded).toBe(1);
  });

  it("outbound: tracker drift is recorded and queued to be put back; a new tracker issue is adopted", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "outbound" });
    fake.seed(1);
    await syncAndWait(project.id, "full");
    const originalTitle = fake.issue(1)!.title;
    fake.fail({ kind: "server_error", match: /^PATCH/, times: 100 });
    fake.edit(1, { title: "edited in the tracker" });
    fake.seedIssue({ title: "opened in the tracker" });
    const run = await syncAndWait(project.id, "incremental");
    expect(run.stats).toMatchObject({ created: 1, conflicts: 1, pushed: 1 });
    const local = await localByNumber(project.id);
    expect(local.get(1)).toMatchObject({ title: originalTitle, syncState: "pending_push" });
    expect(local.get(2)).toMatchObject({ title: "opened in the tracker", syncState: "synced" });
    const conflicts = await json(await api(`/api/v1/projects/${project.id}/conflicts`));
    expect(conflicts.items[0]).toMatchObject({ field: "title", trackerValue: "edited in the tracker", resolution: "local" });
  });

  it("an inbound snapshot older than the stored one is ignored", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seed(1);
    await syncAndWait(project.id, "full");
    const row = await env.DB.prepare("select external_updated_at as t from issues where project_id = ?").bind(project.id).first<{ t: string }>();
    // Pretend a newer copy was already stored: the tracker's (older) answer must not roll it back.
    const future = new Date(Date.parse(row!.t) + 3_600_000).toISOString();
    await env.DB.prepare("update issues set external_updated_at = ?, title = 'newer' where project_id = ?").bind(future, project.id).run();
    fake.edit(1, { title: "older" });
    await syncAndWait(project.id, "full");
    expect((await localByNumber(project.id)).get(1)!.title).toBe("newer");
  });
});

describe("deleted, transferred and moved issues", () => {
  it.each([
    ["github", "delete"],
    ["github", "transfer"],
    ["gitlab", "delete"],
    ["gitlab", "transfer"],
    ["gitea", "delete"],
  ] as [Provider, "delete" | "transfer"][])("%s: an issue gone by %s is found by reconciliation and orphaned", async (provider, how) => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "inbound" });
    fake.seed(3);
    await syncAndWait(project.id, "full");
    if (how === "delete") fake.delete(2);
    else fake.transfer(2);
    const run = await syncAndWait(project.id, "full");
    expect(run.stats.orphaned).toBe(1);
    const gone = (await localByNumber(project.id)).get(2)!;
    expect(gone.syncState).toBe("orphaned");
    expect(gone.deletedAt).not.toBeNull();
    expect((await localByNumber(project.id)).get(1)!.syncState).toBe("synced");
    const orphaned = await json(await api(`/api/v1/projects/${project.id}/issues?syncState=orphaned`));
    expect(orphaned.items.map((i: any) => i.external.number)).toEqual([2]);
  });

  it("with deletionPolicy delete the local copy is removed", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound", deletionPolicy: "delete" });
    fake.seed(2);
    await syncAndWait(project.id, "full");
    fake.delete(1);
    await syncAndWait(project.id, "full");
    expect([...(await localByNumber(project.id)).keys()]).toEqual([2]);
  });

  it("a failed listing never orphans anything", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 2 });
    fake.seed(6);
    await syncAndWait(project.id, "full");
    fake.fail({ kind: "forbidden", match: /issues/, times: 100 });
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("failed");
    const states = (await listAllIssues(project.id)).map((i) => i.syncState);
    expect(states.every((s) => s === "synced")).toBe(true);
  });
});

describe("status", () => {
  it("shows cursor, lag, the last runs and counts", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "inbound" });
    fake.seed(2);
    const run = await syncAndWait(project.id, "full");
    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status).toMatchObject({
      projectId: project.id,
      syncEnabled: true,
      activeRun: null,
      lastRuns: { full: { id: run.id, status: "succeeded" } },
      issues: { total: 2, orphaned: 0 },
      pendingPushes: 0,
      failedDeliveries: 0,
    });
    expect(status.cursor).toMatch(/Z$/);
    expect(typeof status.lagSeconds).toBe("number");
  });
});
