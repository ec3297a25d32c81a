/**
 * Test connection reads the repository with the token, as the project would, and says what to do
 * when it cannot: a placeholder token, a mistyped repository.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, API_TOKEN, expectProblem, json } from "../support/api";
import { fakeTracker, projectWithTracker } from "../support/trackers";

describe("test connection", () => {
  it("before saving: the right token reads the repository; a placeholder token and a mistyped repository each say what to do", async () => {
    const fake = fakeTracker("github");
    const body = { provider: "github", apiBaseUrl: fake.baseUrl, repository: fake.store.repository, token: fake.token };
    const ok = await json(await api("/api/v1/test-connection", { method: "POST", body }));
    expect(ok).toMatchObject({ ok: true, repository: { fullName: fake.store.repository } });

    const placeholder = await json(await api("/api/v1/test-connection", { method: "POST", body: { ...body, token: "<a GitHub token>" } }));
    expect(placeholder.ok).toBe(false);
    expect(placeholder.problem).toMatch(/^github refused the token \(HTTP 401\): it is wrong, expired or revoked; it needs a fine-grained token with Issues read and write/);

    const typo = await json(await api("/api/v1/test-connection", { method: "POST", body: { ...body, repository: "acme/widgest" } }));
    expect(typo.ok).toBe(false);
    expect(typo.problem).toMatch(/^the token cannot read acme\/widgest on \S+: check the repository's name/);
    expect(typo.problem).toMatch(/it needs a fine-grained token with Issues read and write/);

    const bad = await expectProblem(await api("/api/v1/test-connection", { method: "POST", body: { provider: "gitea", repository: "a/b", token: "x" } }), 400);
    expect(bad.errors).toEqual([{ field: "apiBaseUrl", message: "is required for gitea" }]);
  });

  it("for a saved project: its stored credential is read, through the API and from the dashboard", async () => {
    const { fake, project } = await projectWithTracker("gitea");
    expect(await json(await api(`/api/v1/projects/${project.id}/test-connection`, { method: "POST" }))).toMatchObject({ ok: true });
    fake.token = "rotated";
    const failed = await json(await api(`/api/v1/projects/${project.id}/test-connection`, { method: "POST" }));
    expect(failed).toMatchObject({ ok: false, problem: expect.stringMatching(/^gitea refused the token \(HTTP 401\)/) });

    const login = await exports.default.fetch(new Request("http://sync.test/ui/login", { method: "POST", body: new URLSearchParams({ token: API_TOKEN }), redirect: "manual" }));
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const html = await (await exports.default.fetch(new Request(`http://sync.test/ui/projects/${project.id}`, { headers: { cookie } }))).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const res = await exports.default.fetch(
      new Request(`http://sync.test/ui/projects/${project.id}/test-connection`, { method: "POST", headers: { cookie }, body: new URLSearchParams({ _csrf: csrf }), redirect: "manual" }),
    );
    expect(res.status).toBe(303);
    expect(decodeURIComponent(res.headers.get("location")!)).toMatch(/Connection fails: gitea refused the token \(HTTP 401\)/);
  });
});
