/**
 * The dashboard's health, through the Worker: the overview and the project page read the same
 * aggregate statements (so they show the same numbers), the chip rules cover conflicts, retrying and
 * failed pushes of issues and comments and the recovery after a token replacement, lag is how far
 * the store is behind, and the overview of hundreds of projects is paged at a fixed statement cost.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api, API_TOKEN, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";

const ORIGIN = "http://sync.test";

function ui(path: string, init: { method?: string; cookie?: string; form?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  const body = init.form ? new URLSearchParams(init.form) : undefined;
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: init.method ?? "GET", headers, body, redirect: "manual" }));
}

async function signIn(): Promise<string> {
  const res = await ui("/ui/login", { method: "POST", form: { token: API_TOKEN } });
  expect(res.status).toBe(303);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

async function page(path: string, cookie: string): Promise<string> {
  const res = await ui(path, { cookie });
  expect(res.status).toBe(200);
  return res.text();
}

/** The overview row (one <tr>) of a project, from the page that lists it. */
async function overviewRow(cookie: string, projectId: string, query = ""): Promise<string> {
  const html = await page(`/ui/${query}`, cookie);
  const row = html.split("<tr>").find((r) => r.includes(`/ui/projects/${projectId}"`));
  if (!row) throw new Error(`no overview row for ${projectId}`);
  return row;
}

function chipOf(html: string): string {
  return /class="chip chip-([a-z-]+)"/.exec(html)![1]!;
}

function cells(row: string): string[] {
  return [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, "").trim());
}

async function activityOf(projectId: string, kind: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/activity?kind=${kind}&limit=100`))).items;
}

function watchStatements(): { queries: string[]; stop: () => void } {
  const proto = Object.getPrototypeOf(env.DB) as { prepare: (q: string) => D1PreparedStatement };
  const prepare = proto.prepare;
  const queries: string[] = [];
  const spy = vi.spyOn(proto, "prepare").mockImplementation(function (this: unknown, query: string) {
    queries.push(query);
    return prepare.call(this, query);
  });
  return { queries, stop: () => spy.mockRestore() };
}

describe("health chips through the Worker", () => {
  it("open conflicts: the overview, the project page and the status API give the same number, and the chip says `conflicts`", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    const tracked = fake.seedIssue({ title: "Widget breaks" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const issue = (await localByNumber(project.id)).get(tracked.number)!;
    // Three recorded conflicts, one of them settled by hand: two are open.
    for (const [i, resolved] of [
      [1, null],
      [2, null],
      [3, "2026-01-01T00:00:00.000Z"],
    ] as const) {
      await env.DB.prepare("INSERT INTO conflicts (id, project_id, issue_id, field, base_value, local_value, tracker_value, resolution, resolved_at) VALUES (?, ?, ?, 'title', '\"a\"', '\"b\"', '\"c\"', 'tracker', ?)")
        .bind(`c-${project.id}-${i}`, project.id, issue.id, resolved)
        .run();
    }
    const cookie = await signIn();
    const row = await overviewRow(cookie, project.id);
    expect(chipOf(row)).toBe("conflicts");
    expect(row).toMatch(/2 open conflicts: settle them on the project page/);
    expect(cells(row)[8]).toBe("2");
    const html = await page(`/ui/projects/${project.id}`, cookie);
    expect(html).toContain("Conflicts (2 open)");
    // Issues are named as the tracker shows them, with its link.
    expect(html).toMatch(new RegExp(`<a href="[^"]+/issues/${tracked.number}">#${tracked.number} Widget breaks</a>`));
    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status).toMatchObject({ openConflicts: 2, chip: "conflicts" });
  });

  it("a push that keeps failing shows `retrying` with its attempts and last error, not `healthy`", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    const tracked = fake.seedIssue({ title: "Retry me" });
    await syncAndWait(project.id, "full");
    const issue = (await localByNumber(project.id)).get(tracked.number)!;
    fake.fail({ kind: "server_error", status: 502, match: /^PATCH .*\/issues\/\d+/, times: 1000 });
    const res = await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { title: "Edited" } });
    expect(res.status).toBe(200);
    const cookie = await signIn();
    const row = await vi.waitFor(
      async () => {
        const r = await overviewRow(cookie, project.id);
        expect(chipOf(r)).toBe("retrying");
        return r;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(row).toMatch(/1 push retrying after \d+ failed attempts?; last error: [^<]*502/);
    const html = await page(`/ui/projects/${project.id}`, cookie);
    const table = /<table id="failed-pushes">[\s\S]*?<\/table>/.exec(html)![0];
    expect(table).toContain(`#${tracked.number} Edited`);
    expect(table).toMatch(/retrying \(last attempt/);
    expect((await json(await api(`/api/v1/projects/${project.id}/status`))).retryingPushes).toBe(1);
  });

  it("a refused comment push makes the project `failing`, is listed with a retry, and a retry that fails again says so", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "bidirectional" });
    const tracked = fake.seedIssue({ title: "Has comments" });
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(tracked.number)!;
    fake.fail({ kind: "server_error", status: 422, match: /^POST .*\/comments/, times: 2 });
    const comment = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments`, { method: "POST", body: { body: "refused" } }));
    await vi.waitFor(async () => expect(await activityOf(project.id, "comment.push_refused")).toHaveLength(1), { timeout: 10_000, interval: 50 });

    const cookie = await signIn();
    const row = await overviewRow(cookie, project.id);
    expect(chipOf(row)).toBe("failing");
    expect(row).toMatch(/1 comment push failed \(retry them\)/);
    const html = await page(`/ui/projects/${project.id}`, cookie);
    const table = /<table id="failed-pushes">[\s\S]*?<\/table>/.exec(html)![0];
    expect(table).toContain(`#${tracked.number} Has comments`);
    expect(table).toMatch(/422/);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    expect(table).toContain(`/ui/projects/${project.id}/comments/${comment.id}/retry-push`);

    const retried = await ui(`/ui/projects/${project.id}/comments/${comment.id}/retry-push`, { method: "POST", cookie, form: { _csrf: csrf } });
    expect(retried.status).toBe(303);
    expect(decodeURIComponent(retried.headers.get("location")!)).toMatch(/Comment push queued again; if it fails again it shows here/);
    expect(await activityOf(project.id, "push.retried")).toHaveLength(1);
    // The tracker refuses it a second time: recorded, and the project is failing again with the new refusal.
    await vi.waitFor(async () => expect(await activityOf(project.id, "comment.push_refused")).toHaveLength(2), { timeout: 10_000, interval: 50 });
    expect(chipOf(await overviewRow(cookie, project.id))).toBe("failing");
    // Through the API too, and now the tracker accepts it.
    const again = await api(`/api/v1/projects/${project.id}/comments/${comment.id}/retry-push`, { method: "POST" });
    expect(again.status).toBe(202);
    await vi.waitFor(async () => expect(fake.store.visibleComments().map((c) => c.body)).toContain("refused"), { timeout: 10_000, interval: 50 });
    await vi.waitFor(async () => expect(chipOf(await overviewRow(cookie, project.id))).not.toBe("failing"), { timeout: 10_000, interval: 50 });
  });

  it("after a rejected token is replaced the chip leaves `paused` without passing through `access lost`, and is healthy once a sync succeeds", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "inbound" });
    fake.seed(1);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const good = fake.token;
    fake.token = "rotated-token";
    expect((await syncAndWait(project.id, "incremental")).status).toBe("failed");
    const cookie = await signIn();
    expect(chipOf(await overviewRow(cookie, project.id))).toBe("paused");
    fake.token = "the-new-token-0001";
    const patched = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { token: "the-new-token-0001" } });
    expect(patched.status).toBe(200);
    const after = chipOf(await overviewRow(cookie, project.id));
    expect(["healthy", "syncing"]).toContain(after);
    expect(good).not.toBe(fake.token);
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
    expect(chipOf(await overviewRow(cookie, project.id))).toBe("healthy");
  });

  it("a failed delivery no replay can apply is acknowledged: the project stops failing, the error stays readable", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seed(1);
    await syncAndWait(project.id, "full");
    await env.DB.prepare("INSERT INTO webhook_deliveries (id, project_id, provider, delivery_id, event, action, payload, status, error) VALUES (?, ?, 'github', ?, 'issues', 'edited', '{}', 'failed', 'issue.title: Required')")
      .bind(`wd-${project.id}`, project.id, `gh-${project.id}`)
      .run();
    const cookie = await signIn();
    expect(chipOf(await overviewRow(cookie, project.id))).toBe("failing");
    const html = await page(`/ui/projects/${project.id}`, cookie);
    expect(html).toContain(`/ui/projects/${project.id}/deliveries/wd-${project.id}/acknowledge`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

    const res = await ui(`/ui/projects/${project.id}/deliveries/wd-${project.id}/acknowledge`, { method: "POST", cookie, form: { _csrf: csrf } });
    expect(res.status).toBe(303);
    expect(decodeURIComponent(res.headers.get("location")!)).toMatch(/acknowledged: it no longer counts as failed/);
    const delivery = await json(await api(`/api/v1/projects/${project.id}/deliveries/wd-${project.id}`));
    expect(delivery).toMatchObject({ status: "ignored", error: expect.stringMatching(/^acknowledged by default at .*: issue\.title: Required$/) });
    expect(chipOf(await overviewRow(cookie, project.id))).toBe("healthy");
    const [entry] = await activityOf(project.id, "delivery.acknowledged");
    expect(entry).toMatchObject({ actor: "default", deliveryId: `gh-${project.id}` });
    // Only a failed delivery can be acknowledged, once.
    expect((await api(`/api/v1/projects/${project.id}/deliveries/wd-${project.id}/acknowledge`, { method: "POST" })).status).toBe(409);
  });

  it("lag is how far the store is behind, not how quiet the repository is", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    // The fake's repository last changed in 2024: a quiet repository.
    fake.seed(2);
    await syncAndWait(project.id, "full");
    await syncAndWait(project.id, "incremental");
    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status.lagSeconds).toBeLessThan(60);
    expect(status.lagSince).toBe(status.lastIncrementalSyncAt);
    const cookie = await signIn();
    expect(cells(await overviewRow(cookie, project.id))[5]).toMatch(/^\d+s$/);
  });
});

describe("the overview with hundreds of projects", () => {
  it("300 projects: paged by 50, sorted worst first, filtered and searched, at the same few D1 statements on every page", async () => {
    const insert = env.DB.prepare(
      "INSERT INTO projects (id, name, provider, api_base_url, repository, sync_direction, token_enc, webhook_secret_enc, installation_id, created_at, last_incremental_sync_at) VALUES (?, ?, 'github', 'https://api.github.com', ?, 'inbound', '', 'v1.x.y', 7, ?, ?)",
    );
    const now = new Date().toISOString();
    const statements: D1PreparedStatement[] = [];
    for (let i = 0; i < 300; i++) {
      const n = String(i).padStart(3, "0");
      statements.push(insert.bind(`scale-${n}`, `scale project ${n}`, `acme/repo-${n}`, now, now));
    }
    await env.DB.batch(statements);
    // One project with a failed push, one with a failed delivery: both `failing`.
    await env.DB.prepare("INSERT INTO outbox (id, project_id, issue_id, op, status, attempts, last_error) VALUES ('ob-scale', 'scale-250', 'i-scale', 'update', 'failed', 5, 'HTTP 502')").run();
    await env.DB.prepare("INSERT INTO webhook_deliveries (id, project_id, provider, delivery_id, event, payload, status, error) VALUES ('wd-scale', 'scale-299', 'github', 'd1', 'issues', '{}', 'failed', 'not JSON')").run();

    const cookie = await signIn();
    const counts: number[] = [];
    for (const query of ["", "?page=2", "?page=6", "?sort=name&page=4", "?status=healthy&page=3", "?q=repo-12"]) {
      const watch = watchStatements();
      const html = await page(`/ui/${query}`, cookie);
      watch.stop();
      counts.push(watch.queries.length);
      expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
      if (query === "") {
        const rows = html.split("<tbody>")[1]!.split("</tbody>")[0]!.split("<tr>").slice(1);
        expect(rows).toHaveLength(50);
        // Worst first: the two failing projects lead.
        expect(chipOf(rows[0]!)).toBe("failing");
        expect(chipOf(rows[1]!)).toBe("failing");
        expect(html).toMatch(/page 1 of \d+/);
        expect(html).toMatch(/rel="next"/);
      }
      if (query === "?page=6") expect(html).toMatch(/page 6 of \d+/);
      if (query === "?q=repo-12") {
        // acme/repo-120 … acme/repo-129.
        expect(html).toMatch(/10 of \d+ projects match/);
      }
    }
    // A fixed number of statements whatever the page, the filter or the number of projects.
    expect(new Set(counts).size).toBe(1);
    // Every further shard (none of its projects here) adds its one listing statement.
    const furtherShards = Object.keys(env).filter((k) => /^DB_SHARD_\d+$/.test(k)).length;
    expect(counts[0]).toBeLessThanOrEqual(12 + furtherShards);
  });
});
