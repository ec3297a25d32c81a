/**
 * The API's conventions for internal services: unknown query parameters are refused, every
 * operation has an operationId, lists end with a null nextCursor (activity too, with a tail cursor
 * to follow the live stream), edits honour If-Match, and `GET /` leads to the dashboard.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, createIssue, createProject, expectProblem, json } from "../support/api";

describe("unknown query parameters", () => {
  it("sync-runs?status=failed is a 400 naming `status`, not the unfiltered list", async () => {
    const project = await createProject();
    const problem = await expectProblem(await api(`/api/v1/projects/${project.id}/sync-runs?status=failed`), 400);
    expect(problem.errors).toEqual([{ field: "status", message: expect.stringMatching(/is not a query parameter .*; this route takes limit, cursor/) }]);
    expect(problem.detail).toBe("Unknown query parameter: status.");
  });

  it("every unknown one is named; declared ones and routes without parameters still work", async () => {
    const project = await createProject();
    const problem = await expectProblem(await api(`/api/v1/projects/${project.id}/issues?state=open&colour=red&size=2`), 400);
    expect(problem.errors!.map((e) => e.field)).toEqual(["colour", "size"]);
    expect((await api(`/api/v1/projects/${project.id}/issues?state=open&limit=2`)).status).toBe(200);
    expect((await api(`/api/v1/projects/${project.id}`)).status).toBe(200);
    const none = await expectProblem(await api(`/api/v1/projects/${project.id}?verbose=1`), 400);
    expect(none.errors).toEqual([{ field: "verbose", message: expect.stringMatching(/this route takes no query parameters/) }]);
  });
});

describe("the OpenAPI document", () => {
  it("every operation has a unique operationId", async () => {
    const doc = await json(await exports.default.fetch(new Request("http://sync.test/openapi.json")));
    const ids: string[] = [];
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        expect(op.operationId, `${method.toUpperCase()} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        ids.push(op.operationId);
      }
    }
    expect(ids.length).toBeGreaterThan(20);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("activity list cursor", () => {
  it("nextCursor is null at the end; tailCursor follows the live tail without repeats", async () => {
    const project = await createProject({ syncDirection: "outbound" });
    for (let i = 0; i < 3; i++) await createIssue(project.id, { title: `issue ${i}` });
    const q = `/api/v1/projects/${project.id}/activity?kind=issue.created`;
    const first = await json(await api(`${q}&limit=2`));
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toBe(first.items[1].id);
    const second = await json(await api(`${q}&limit=2&after=${first.nextCursor}`));
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    expect(second.tailCursor).toBe(second.items[0].id);
    // Caught up: an empty page keeps the tail where it was.
    const empty = await json(await api(`${q}&after=${second.tailCursor}`));
    expect(empty).toEqual({ items: [], nextCursor: null, tailCursor: second.tailCursor });
    await createIssue(project.id, { title: "later" });
    const later = await json(await api(`${q}&after=${second.tailCursor}`));
    expect(later.items.map((e: any) => e.changes.title.after)).toEqual(["later"]);
  });
});

describe("If-Match on issue edits", () => {
  it("an edit with the current ETag applies; a stale one is 412 and changes nothing", async () => {
    const project = await createProject({ syncDirection: "outbound" });
    const created = await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body: { title: "first" } });
    expect(created.status).toBe(201);
    const issue = await json(created);
    const etag = created.headers.get("etag")!;
    expect(etag).toBe(`"${issue.version}"`);

    const edited = await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { title: "second" }, headers: { "if-match": etag } });
    expect(edited.status).toBe(200);
    expect(edited.headers.get("etag")).toBe(`"${issue.version + 1}"`);

    const stale = await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { title: "third" }, headers: { "if-match": etag } });
    const problem = await expectProblem(stale, 412);
    expect(problem.detail).toMatch(/read it again/);
    const now = await api(`/api/v1/projects/${project.id}/issues/${issue.id}`);
    expect((await json(now)).title).toBe("second");
    expect(now.headers.get("etag")).toBe(`"${issue.version + 1}"`);

    const bad = await expectProblem(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { title: "x" }, headers: { "if-match": "yesterday" } }), 400);
    expect(bad.errors![0]!.field).toBe("if-match");
  });
});

describe("Idempotency-Key on creates", () => {
  it("a retried create with the same key answers the first result and creates nothing more", async () => {
    const project = await createProject({ syncDirection: "outbound" });
    const send = (body: unknown, key: string) => api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body, headers: { "idempotency-key": key } });
    const first = await send({ title: "only once" }, "key-0001");
    expect(first.status).toBe(201);
    const created = await json(first);
    const again = await send({ title: "only once" }, "key-0001");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await json(again)).id).toBe(created.id);
    const list = await json(await api(`/api/v1/projects/${project.id}/issues`));
    expect(list.items.filter((i: any) => i.title === "only once")).toHaveLength(1);

    // The same key with another body is refused; another key is another create.
    const reused = await expectProblem(await send({ title: "something else" }, "key-0001"), 422);
    expect(reused.errors![0]!.field).toBe("Idempotency-Key");
    expect((await send({ title: "only once" }, "key-0002")).status).toBe(201);
    expect((await expectProblem(await send({ title: "x" }, "a key with spaces"), 400)).errors![0]!.field).toBe("Idempotency-Key");
  });

  it("projects too: a replayed project create answers the same project; a refused one is replayed as refused", async () => {
    const key = { "idempotency-key": "project-create-0001" };
    const body = { name: "Idem", provider: "github", repository: "acme/idem", token: "t-0123456789", webhookSecret: "webhook-secret-for-tests-0001", syncDirection: "inbound" };
    const first = await json(await api("/api/v1/projects", { method: "POST", body, headers: key }));
    const second = await json(await api("/api/v1/projects", { method: "POST", body, headers: key }));
    expect(second.id).toBe(first.id);
    const badKey = { "idempotency-key": "project-create-0002" };
    const bad = { ...body, repository: "not a repository" };
    expect((await api("/api/v1/projects", { method: "POST", body: bad, headers: badKey })).status).toBe(400);
    const replay = await api("/api/v1/projects", { method: "POST", body: bad, headers: badKey });
    expect(replay.status).toBe(400);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
  });
});

describe("newcomer", () => {
  it("GET / leads to the dashboard", async () => {
    const res = await exports.default.fetch(new Request("http://sync.test/", { redirect: "manual" }));
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/ui/");
  });
});
