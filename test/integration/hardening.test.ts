/**
 * Issues 16 and 17 through the Worker: a tracker token goes only to the origin it was given for and
 * only to the project's own repository paths; redirects are followed by hand within the origin;
 * API tokens rotate and have scopes; webhook bodies cannot be relabelled or replayed; weak secrets
 * and malformed input are refused before anything is stored. Every fake tracker records each
 * request and header it receives, so "nothing went elsewhere" is asserted, not assumed.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Provider } from "../../src/providers/types";
import { api, createProject, expectProblem, json, projectBody } from "../support/api";
import { fakeTracker, projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, countRows, deliver, postWebhook, storedIssues, waitProcessed } from "./webhooks.support";

const ROTATED_ADMIN = "test-admin-token-rotated-0002";
const READ_TOKEN = "test-read-token-dashboard-0003";

async function projectRow(id: string): Promise<Record<string, unknown>> {
  return (await env.DB.prepare("select * from projects where id = ?").bind(id).first<Record<string, unknown>>())!;
}

/** Every credential-bearing header value a fake received. */
function credentialsSeen(fake: { requests: { headers: Record<string, string> }[] }): string[] {
  return fake.requests.map((r) => r.headers["authorization"] ?? r.headers["private-token"] ?? "").filter(Boolean);
}

describe("issue 16: a tracker token goes only to the origin it was given for", () => {
  it("PATCH of apiBaseUrl to another origin without a token is 422 naming token; the new host receives nothing", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seedIssue({ title: "One" });
    const attacker = fakeTracker("github");
    const before = await projectRow(project.id);
    const res = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { apiBaseUrl: attacker.baseUrl } });
    const problem = await expectProblem(res, 422);
    expect(problem.errors?.map((e) => e.field)).toEqual(["token"]);
    expect(await projectRow(project.id)).toEqual(before);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    expect(attacker.requests).toEqual([]);
    expect(credentialsSeen(fake).every((c) => c === `Bearer ${fake.token}`)).toBe(true);
  });

  it("PATCH with a new origin and a new token works; the old token is never sent to the new origin and webhooks still verify", async () => {
    const { fake, project } = await projectWithTracker("github");
    const moved = fakeTracker("github", { token: "ghp_TokenForTheNewOrigin_000000000000000", webhookSecret: fake.webhookSecret });
    moved.seedIssue({ title: "On the new host" });
    const res = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { apiBaseUrl: moved.baseUrl, token: moved.token } });
    expect(res.status).toBe(200);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    expect(moved.requests.length).toBeGreaterThan(0);
    expect(credentialsSeen(moved).every((c) => c === `Bearer ${moved.token}`)).toBe(true);
    expect(JSON.stringify(moved.requests)).not.toContain(fake.token);
    // The webhook secret was re-bound to the new origin, not lost.
    const hook = await moved.webhook("edited", 1);
    expect((await deliver(project, hook)).status).toBe(202);
  });

  it("a row pointed at another origin behind the API's back cannot send the token there (enforced where it is used)", async () => {
    const { project } = await projectWithTracker("github");
    const attacker = fakeTracker("github");
    await env.DB.prepare("update projects set api_base_url = ? where id = ?").bind(attacker.baseUrl, project.id).run();
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("failed");
    expect(attacker.requests).toEqual([]);
  });

  it("http:// to a non-loopback host is refused naming apiBaseUrl; loopback and the opted-in host are allowed", async () => {
    const refused = await api("/api/v1/projects", { method: "POST", body: projectBody({ apiBaseUrl: "http://any-host.example/api/v3" }) });
    const problem = await expectProblem(refused, 400);
    expect(problem.errors?.map((e) => e.field)).toEqual(["apiBaseUrl"]);
    expect(problem.errors?.[0]?.message).toMatch(/https/);
    const existing = await createProject();
    const patched = await api(`/api/v1/projects/${existing.id}`, { method: "PATCH", body: { apiBaseUrl: "http://any-host.example/api/v3", token: "ghp_x_0000000000000000000000000000000000" } });
    expect((await expectProblem(patched, 400)).errors?.map((e) => e.field)).toEqual(["apiBaseUrl"]);
    expect((await createProject({ apiBaseUrl: "http://127.0.0.1:8788/api/v3" })).apiBaseUrl).toBe("http://127.0.0.1:8788/api/v3");
    expect((await createProject({ apiBaseUrl: "http://localhost:3000/api/v1", provider: "gitea" })).apiBaseUrl).toBe("http://localhost:3000/api/v1");
    expect((await createProject({ apiBaseUrl: "http://plain-http-tracker.test/api/v3" })).apiBaseUrl).toBe("http://plain-http-tracker.test/api/v3");
  });
});

describe("issue 16: API tokens with names and scopes", () => {
  it("API_TOKEN and a token from API_TOKENS are valid at the same time", async () => {
    expect((await api("/api/v1/projects", { method: "POST", body: projectBody() })).status).toBe(201);
    expect((await api("/api/v1/projects", { method: "POST", body: projectBody(), token: ROTATED_ADMIN })).status).toBe(201);
    expect((await api("/api/v1/projects", { token: ROTATED_ADMIN })).status).toBe(200);
    await expectProblem(await api("/api/v1/projects", { token: `${ROTATED_ADMIN}x` }), 401);
  });

  it("a read token lists and reads, and gets 403 on every write route of the OpenAPI document; nothing changes", async () => {
    const { project } = await projectWithTracker("github");
    const issue = await json(await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body: { title: "Kept" } }));
    expect((await api("/api/v1/projects", { token: READ_TOKEN })).status).toBe(200);
    expect((await api(`/api/v1/projects/${project.id}`, { token: READ_TOKEN })).status).toBe(200);
    expect((await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { token: READ_TOKEN })).status).toBe(200);

    const doc = await json(await api("/openapi.json", { token: null }));
    const ids: Record<string, string> = { projectId: project.id, issueId: issue.id };
    const writes: string[] = [];
    for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
      if (!path.startsWith("/api/")) continue;
      for (const method of Object.keys(item)) {
        if (!["post", "put", "patch", "delete"].includes(method)) continue;
        const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => ids[name] ?? crypto.randomUUID());
        writes.push(`${method.toUpperCase()} ${path}`);
        const before = await projectRow(project.id);
        const res = await api(url, { method: method.toUpperCase(), body: {}, token: READ_TOKEN });
        const problem = await expectProblem(res, 403);
        expect(problem.detail).toContain("dashboard");
        expect(await projectRow(project.id)).toEqual(before);
      }
    }
    // The document lists every write route; at least projects, issues, sync, conflicts and deliveries.
    expect(writes.length).toBeGreaterThanOrEqual(6);
    expect(writes).toEqual(expect.arrayContaining(["POST /api/v1/projects", "PATCH /api/v1/projects/{projectId}", "DELETE /api/v1/projects/{projectId}"]));
    expect((await storedIssues(project.id)).map((i) => i.title)).toEqual(["Kept"]);
  });
});

describe("issue 17.1: repository and apiBaseUrl cannot steer the token", () => {
  it.each([
    ["github", "../user"],
    ["github", "acme/.."],
    ["github", "./widgets"],
    ["gitea", "../admin"],
    ["gitlab", "group/../.."],
    ["gitlab", ".."],
  ] as [Provider, string][])("%s repository %j is refused with 400 naming repository", async (provider, repository) => {
    const res = await api("/api/v1/projects", { method: "POST", body: projectBody({ provider, repository, apiBaseUrl: `https://${provider}.example.test/api` }) });
    expect((await expectProblem(res, 400)).errors?.map((e) => e.field)).toEqual(["repository"]);
  });

  it.each([
    "https://api.github.com/user/keys#",
    "https://api.github.com/user/keys?x=1",
    "https://u:p@api.github.com",
    "https://api.github.com/repos/../user",
    "https://api.github.com/%2e%2e/user",
    "https://api.github.com\\@evil.example",
  ])("apiBaseUrl %j is refused with 400 naming apiBaseUrl, on create and on PATCH", async (apiBaseUrl) => {
    const res = await api("/api/v1/projects", { method: "POST", body: projectBody({ apiBaseUrl }) });
    expect((await expectProblem(res, 400)).errors?.map((e) => e.field)).toContain("apiBaseUrl");
    const project = await createProject();
    const before = await projectRow(project.id);
    const patched = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { apiBaseUrl, token: "ghp_new_000000000000000000000000000000000" } });
    expect((await expectProblem(patched, 400)).errors?.map((e) => e.field)).toContain("apiBaseUrl");
    expect(await projectRow(project.id)).toEqual(before);
  });

  it("apiBaseUrl is stored normalised", async () => {
    const project = await createProject({ apiBaseUrl: "https://API.Example.TEST:443/api/v3/" });
    expect(project.apiBaseUrl).toBe("https://api.example.test/api/v3");
  });

  it.each(["github", "gitea", "gitlab"] as Provider[])("%s: a repository of dot segments written behind the API's back sends nothing outside the repository", async (provider) => {
    const { fake, project } = await projectWithTracker(provider);
    fake.seedIssue({ title: "Mine" });
    await env.DB.prepare("update projects set repository = ? where id = ?").bind(provider === "gitlab" ? ".." : "../user", project.id).run();
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("failed");
    // The only requests allowed are the token's own metadata (GitLab credential health reads the token's
    // expiry at /personal_access_tokens/self; lost-create adoption asks who the token is, /user);
    // nothing the repository names is ever requested.
    expect(fake.requests.filter((r) => r.path !== "/personal_access_tokens/self" && r.path !== "/user")).toEqual([]);
    expect(await countRows("issues", project.id)).toBe(0);
  });
});

describe("issue 17.3 and issue 11.2/11.10: redirects are followed by hand, within the origin only", () => {
  it("GitLab answering 302 to another origin: PRIVATE-TOKEN never reaches it, the run fails, nothing is stored", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    fake.seedIssue({ title: "One" });
    const elsewhere = fakeTracker("gitlab");
    fake.redirect({ match: /^GET \/projects\/[^/]+\/issues/, status: 302, location: (path) => `${elsewhere.baseUrl}${path}` });
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("failed");
    expect(elsewhere.requests).toEqual([]);
    expect(await countRows("issues", project.id)).toBe(0);
  });

  it("GitHub after a rename: 301 on reads and 307 on writes (same host) are followed, the PATCH body is replayed", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    fake.seedIssue({ title: "Before" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const [local] = await storedIssues(project.id);
    const toRepositoryId = (path: string) => `${fake.baseUrl}${path.replace(`/repos/${fake.store.repository}`, `/repositories/${fake.store.repositoryId}`)}`;
    fake.redirect({ match: /^GET \/repos\//, status: 301, location: toRepositoryId });
    fake.redirect({ match: /^(PATCH|POST) \/repos\//, status: 307, location: toRepositoryId });
    fake.clearLog();
    const res = await api(`/api/v1/projects/${project.id}/issues/${local!.id}`, { method: "PATCH", body: { title: "After the rename" } });
    expect(res.status).toBe(200);
    await expect.poll(() => fake.issue(1)?.title, { timeout: 10_000 }).toBe("After the rename");
    const replayed = fake.requests.find((r) => r.method === "PATCH" && r.path.startsWith("/repositories/"));
    expect(replayed?.body).toMatchObject({ title: "After the rename" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
  });
});

describe("issue 17.2: a signed body cannot be relabelled or replayed", () => {
  async function linkedGitHub(deletionPolicy: string, syncDirection = "bidirectional") {
    const { fake, project } = await projectWithTracker("github", { deletionPolicy, syncDirection });
    fake.seedIssue({ title: "Keep me" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    return { fake, project };
  }

  async function commentDeleted(fake: Awaited<ReturnType<typeof linkedGitHub>>["fake"]) {
    // A genuine issue_comment "deleted" delivery, as GitHub sends it (comment sync acts on it).
    const comment = fake.addComment(1, { body: "a comment", author: "someone" });
    return fake.commentWebhook("deleted", comment.id);
  }

  it.each(["orphan", "delete"])("an issue_comment body re-sent as issues (fresh delivery id) is a duplicate; the issue stays (policy %s)", async (policy) => {
    const { fake, project } = await linkedGitHub(policy);
    const original = await commentDeleted(fake);
    expect([200, 202]).toContain((await deliver(project, original)).status);
    const relabelled = { ...original, headers: { ...original.headers, "x-github-event": "issues", "x-github-delivery": crypto.randomUUID() } };
    const res = await deliver(project, relabelled);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "duplicate" });
    const [issue] = await storedIssues(project.id);
    expect(issue).toMatchObject({ title: "Keep me", sync_state: "synced" });
  });

  it("a comment body never seen before, sent as issues, is refused (400) and changes nothing", async () => {
    const { fake, project } = await linkedGitHub("delete");
    const original = await commentDeleted(fake);
    const relabelled = { ...original, headers: { ...original.headers, "x-github-event": "issues" } };
    const problem = await expectProblem(await deliver(project, relabelled), 400);
    expect(problem.detail).toMatch(/comment/);
    const [issue] = await storedIssues(project.id);
    expect(issue).toMatchObject({ title: "Keep me", sync_state: "synced" });
  });

  it("a genuine-looking issues/deleted the tracker does not confirm changes nothing (outbound + recreate creates no duplicate)", async () => {
    const { fake, project } = await linkedGitHub("recreate", "outbound");
    const hook = await fake.webhook("deleted", 1);
    const id = await accepted(await deliver(project, hook));
    expect((await waitProcessed(id)).status).toBe("ignored");
    const [issue] = await storedIssues(project.id);
    expect(issue).toMatchObject({ title: "Keep me", sync_state: "synced" });
    expect(fake.requests.filter((r) => r.method === "POST")).toEqual([]);
    expect(fake.store.visible()).toHaveLength(1);
  });

  it("a deleted delivery older than the stored copy is ignored without asking the tracker", async () => {
    const { fake, project } = await linkedGitHub("delete");
    const old = await fake.webhook("deleted", 1);
    fake.edit(1, { title: "Newer" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    fake.delete(1);
    fake.clearLog();
    const id = await accepted(await deliver(project, old));
    expect((await waitProcessed(id)).status).toBe("ignored");
    expect((await storedIssues(project.id)).map((i) => i.title)).toEqual(["Newer"]);
    expect(fake.requests).toEqual([]);
  });

  it("a confirmed hard delete leaves a tombstone: a replayed old edit does not bring the issue back", async () => {
    const { fake, project } = await linkedGitHub("delete");
    const oldEdit = await fake.webhook("edited", 1);
    fake.delete(1);
    const id = await accepted(await deliver(project, await fake.webhook("deleted", 1)));
    expect((await waitProcessed(id)).status).toBe("applied");
    expect(await countRows("issues", project.id)).toBe(0);
    const replay = await accepted(await deliver(project, oldEdit));
    expect((await waitProcessed(replay)).status).toBe("ignored");
    expect(await countRows("issues", project.id)).toBe(0);
  });
});

describe("issue 17.4: cheap refusals", () => {
  it.each([
    ["github", {}],
    ["github", { "x-hub-signature-256": "sha256=nothex" }],
    ["github", { "x-hub-signature-256": "sha1=0123456789012345678901234567890123456789" }],
    ["gitea", { "x-gitea-signature": "short" }],
    ["gitlab", {}],
    ["gitlab", { "x-gitlab-token": "tooshort" }],
  ] as [Provider, Record<string, string>][])("%s %j: 401 before any storage read (an unknown project is not even looked up)", async (provider, headers) => {
    const res = await postWebhook(`/webhooks/${provider}/${crypto.randomUUID()}`, { headers: { "content-type": "application/json", ...headers }, body: "{}" });
    await expectProblem(res, 401);
  });
});

describe("issue 17.5: weak or malformed secrets are refused at the API", () => {
  it("a webhook secret under 20 characters is refused, saying so; the stored one is kept", async () => {
    const res = await api("/api/v1/projects", { method: "POST", body: projectBody({ webhookSecret: "x".repeat(19) }) });
    const problem = await expectProblem(res, 400);
    expect(problem.errors).toEqual([{ field: "webhookSecret", message: expect.stringContaining("20") }]);
    const project = await createProject();
    const before = await projectRow(project.id);
    await expectProblem(await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { webhookSecret: "y".repeat(19) } }), 400);
    expect(await projectRow(project.id)).toEqual(before);
  });

  it.each(["ghp_abc\r\nX-Injected: 1", "ghp_abc\n", "ghp_\u0000abc"])("a token with control characters (%j) is refused naming token", async (token) => {
    const problem = await expectProblem(await api("/api/v1/projects", { method: "POST", body: projectBody({ token }) }), 400);
    expect(problem.errors?.map((e) => e.field)).toEqual(["token"]);
  });
});

describe("issue 17.6: small ones", () => {
  it("a signed webhook with an unparseable timestamp answers 400 naming it, not 500", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seedIssue({ title: "One" });
    const hook = await fake.webhook("edited", 1);
    const payload = { ...hook.payload, issue: { ...(hook.payload.issue as object), updated_at: "yesterday at noon" } };
    const res = await deliver(project, await fake.signedWebhook("issues", payload));
    expect(res.status).toBe(400);
  });

  it("API answers carry Cache-Control: no-store and X-Content-Type-Options: nosniff, problems too", async () => {
    for (const res of [await api("/api/v1/projects"), await api("/api/v1/projects", { token: "wrong" }), await api(`/api/v1/projects/${crypto.randomUUID()}`)]) {
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });

  it("GitLab: a label with a comma is refused with 400 naming it; nothing is queued or sent", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "bidirectional" });
    const res = await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body: { title: "T", labels: ["ok", "a,b"] } });
    expect((await expectProblem(res, 400)).errors?.map((e) => e.field)).toEqual(["labels.1"]);
    expect(await countRows("issues", project.id)).toBe(0);
    expect(fake.requests).toEqual([]);
  });
});
