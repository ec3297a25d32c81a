import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, createIssue, createProject, expectProblem, json } from "../support/api";

async function count(table: string, projectId: string): Promise<number> {
  const row = await env.DB.prepare(`select count(*) as n from ${table} where project_id = ?`).bind(projectId).first<{ n: number }>();
  return row!.n;
}

describe("local issues", () => {
  it("creates an issue with its outbox row in one write, and reads it back", async () => {
    const project = await createProject({ syncDirection: "outbound" });
    const res = await api(`/api/v1/projects/${project.id}/issues`, {
      method: "POST",
      body: { title: "Found a bug", body: "It breaks", labels: ["bug", "ui", "bug"], assignees: ["octocat"], milestone: "v1.0" },
    });
    expect(res.status).toBe(201);
    const issue = await json(res);
    expect(issue).toMatchObject({
      projectId: project.id,
      title: "Found a bug",
      body: "It breaks",
      state: "open",
      labels: ["bug", "ui"],
      assignees: ["octocat"],
      milestone: "v1.0",
      external: null,
      syncState: "pending_push",
      deletedAt: null,
    });
    expect(await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`))).toEqual(issue);
    const outbox = await env.DB.prepare("select op, status from outbox where issue_id = ?").bind(issue.id).all();
    expect(outbox.results).toEqual([{ op: "create", status: "pending" }]);
  });

  it("an inbound project refuses local creates and edits with 409 and writes nothing", async () => {
    const project = await createProject({ syncDirection: "inbound" });
    const problem = await expectProblem(await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body: { title: "nope" } }), 409);
    expect(problem.detail).toMatch(/inbound/);
    expect(await count("issues", project.id)).toBe(0);
    expect(await count("outbox", project.id)).toBe(0);

    // An issue that arrived from the tracker cannot be edited locally either.
    await env.DB.prepare(
      "insert into issues (id, project_id, title, created_at, updated_at, external_id, external_number) values ('0190f0f0-0000-7000-8000-00000000aaaa', ?, 'from tracker', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '1', 1)",
    )
      .bind(project.id)
      .run();
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/0190f0f0-0000-7000-8000-00000000aaaa`, { method: "PATCH", body: { title: "x" } }), 409);
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/0190f0f0-0000-7000-8000-00000000aaaa/close`, { method: "POST" }), 409);
    expect(await count("outbox", project.id)).toBe(0);
  });

  it("PATCH edits fields, bumps nothing when nothing changed, and coalesces into one outbox row", async () => {
    const project = await createProject();
    const issue = await createIssue(project.id, { title: "first" });
    const edited = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { title: "second", labels: ["b", "a"] } }));
    expect(edited).toMatchObject({ title: "second", labels: ["a", "b"], syncState: "pending_push" });
    const same = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { labels: ["a", "b"] } }));
    expect(same.updatedAt).toBe(edited.updatedAt);
    const closed = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/close`, { method: "POST" }));
    expect(closed.state).toBe("closed");
    const rows = await env.DB.prepare("select op, status from outbox where issue_id = ?").bind(issue.id).all();
    expect(rows.results).toEqual([{ op: "create", status: "pending" }]);
  });

  const badCreates: [string, unknown, string][] = [
    ["no title", { body: "x" }, "title"],
    ["a blank title", { title: "   " }, "title"],
    ["a 257-char title", { title: "x".repeat(257) }, "title"],
    ["a number title", { title: 7 }, "title"],
    ["a body over 65,536 chars", { title: "t", body: "x".repeat(65_537) }, "body"],
    ["labels not an array", { title: "t", labels: "bug" }, "labels"],
    ["a non-string label", { title: "t", labels: ["ok", 3] }, "labels.1"],
    ["eleven assignees", { title: "t", assignees: Array.from({ length: 11 }, (_, i) => `u${i}`) }, "assignees"],
    ["a state on create", { title: "t", state: "closed" }, ""],
    ["a milestone object", { title: "t", milestone: { title: "v1" } }, "milestone"],
  ];

  it.each(badCreates)("POST issue with %s answers 400 naming the field and writes nothing", async (_name, body, field) => {
    const project = await createProject();
    const problem = await expectProblem(await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body }), 400);
    if (field) expect(problem.errors?.map((e) => e.field)).toContain(field);
    else expect(problem.errors?.length).toBeGreaterThan(0);
    expect(await count("issues", project.id)).toBe(0);
    expect(await count("outbox", project.id)).toBe(0);
  });

  it.each([
    ["an unknown state", { state: "archived" }, "state"],
    ["a null title", { title: null }, "title"],
    ["assignees of numbers", { assignees: [1] }, "assignees.0"],
  ])("PATCH with %s answers 400 naming the field and changes nothing", async (_name, body, field) => {
    const project = await createProject();
    const issue = await createIssue(project.id, { title: "keep me" });
    const problem = await expectProblem(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body }), 400);
    expect(problem.errors?.map((e) => e.field)).toContain(field);
    expect(await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`))).toEqual(issue);
  });

  it("malformed JSON on issue create answers 400", async () => {
    const project = await createProject();
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", rawBody: "{title" }), 400);
    expect(await count("issues", project.id)).toBe(0);
  });

  it("unknown project and issue ids answer 404", async () => {
    const project = await createProject();
    await expectProblem(await api(`/api/v1/projects/missing/issues`), 404);
    await expectProblem(await api(`/api/v1/projects/missing/issues`, { method: "POST", body: { title: "x" } }), 404);
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/missing`), 404);
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/missing`, { method: "PATCH", body: { title: "x" } }), 404);
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/missing/close`, { method: "POST" }), 404);
  });

  it("an issue of another project is not reachable through this project", async () => {
    const a = await createProject();
    const b = await createProject();
    const issue = await createIssue(a.id, { title: "mine" });
    await expectProblem(await api(`/api/v1/projects/${b.id}/issues/${issue.id}`), 404);
    await expectProblem(await api(`/api/v1/projects/${b.id}/issues/${issue.id}`, { method: "PATCH", body: { title: "theirs" } }), 404);
  });

  it("cursor pagination returns every issue exactly once, also while issues are edited between pages", async () => {
    const project = await createProject();
    const created: string[] = [];
    for (let i = 0; i < 23; i++) created.push((await createIssue(project.id, { title: `issue ${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await json(await api(`/api/v1/projects/${project.id}/issues?limit=5${cursor ? `&cursor=${cursor}` : ""}`));
      seen.push(...page.items.map((i: any) => i.id));
      cursor = page.nextCursor;
      // Editing an already-listed issue must not make it reappear or push another one off the list.
      if (pages++ === 1) await api(`/api/v1/projects/${project.id}/issues/${created[0]}`, { method: "PATCH", body: { title: "edited" } });
    } while (cursor);
    expect(pages).toBe(5);
    expect(seen).toEqual(created);
  });

  it("filters by state, syncState, externalNumber and updatedSince", async () => {
    const project = await createProject();
    const a = await createIssue(project.id, { title: "a" });
    const b = await createIssue(project.id, { title: "b" });
    await api(`/api/v1/projects/${project.id}/issues/${b.id}/close`, { method: "POST" });
    await env.DB.prepare("update issues set external_id = '99', external_number = 7, sync_state = 'synced' where id = ?").bind(a.id).run();
    const ids = async (q: string) => (await json(await api(`/api/v1/projects/${project.id}/issues?${q}`))).items.map((i: any) => i.id);
    expect(await ids("state=open")).toEqual([a.id]);
    expect(await ids("state=closed")).toEqual([b.id]);
    expect(await ids("state=all")).toEqual([a.id, b.id]);
    expect(await ids("syncState=synced")).toEqual([a.id]);
    expect(await ids("externalNumber=7")).toEqual([a.id]);
    expect(await ids("updatedSince=2999-01-01T00:00:00Z")).toEqual([]);
    expect(await ids("updatedSince=2000-01-01T00:00:00%2B02:00")).toEqual([a.id, b.id]);
  });

  it.each([
    ["state=opened", "state"],
    ["syncState=lost", "syncState"],
    ["externalNumber=-1", "externalNumber"],
    ["updatedSince=yesterday", "updatedSince"],
    ["limit=1000", "limit"],
  ])("list with %s answers 400 naming %s", async (query, field) => {
    const project = await createProject();
    const problem = await expectProblem(await api(`/api/v1/projects/${project.id}/issues?${query}`), 400);
    expect(problem.errors?.map((e) => e.field)).toContain(field);
  });
});

describe("migrations", () => {
  it("apply from an empty database and create every table", async () => {
    const { applyD1Migrations, reset } = await import("cloudflare:test");
    await reset();
    const none = await env.DB.prepare("select name from sqlite_master where type = 'table' and name = 'issues'").all();
    expect(none.results).toEqual([]);
    await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
    const tables = await env.DB.prepare("select name from sqlite_master where type = 'table' and name not like '\\_%' escape '\\' and name not like 'sqlite%' order by name").all<{ name: string }>();
    expect(tables.results.map((t) => t.name)).toEqual(
      expect.arrayContaining(["conflicts", "events", "issues", "outbox", "projects", "sync_runs", "webhook_deliveries"]),
    );
  });
});
