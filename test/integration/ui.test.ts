import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, API_TOKEN, json, SECRET_TOKEN, SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";

const ORIGIN = "http://sync.test";

function ui(path: string, init: { method?: string; cookie?: string; form?: Record<string, string>; origin?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  if (init.origin) headers.origin = init.origin;
  const body = init.form ? new URLSearchParams(init.form) : undefined;
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: init.method ?? "GET", headers, body, redirect: "manual" }));
}

async function signIn(): Promise<string> {
  const res = await ui("/ui/login", { method: "POST", form: { token: API_TOKEN } });
  expect(res.status).toBe(303);
  const setCookie = res.headers.get("set-cookie")!;
  return setCookie.split(";")[0]!;
}

function csrfOf(html: string): string {
  return /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
}

describe("dashboard access", () => {
  it("sign-in sets a signed, HttpOnly, SameSite=Strict, Secure, expiring cookie that never holds the token", async () => {
    expect((await ui("/ui/")).headers.get("location")).toBe("/ui/login");
    expect((await ui("/ui/login", { method: "POST", form: { token: "wrong" } })).status).toBe(401);
    const res = await ui("/ui/login", { method: "POST", form: { token: API_TOKEN } });
    const header = res.headers.get("set-cookie")!;
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/SameSite=Strict/);
    expect(header).toMatch(/Secure/);
    expect(header).toMatch(/Max-Age=\d+/);
    expect(header).not.toContain(API_TOKEN);
    // A tampered cookie is no session.
    const cookie = header.split(";")[0]!;
    const tampered = cookie.slice(0, -2) + (cookie.endsWith("A") ? "BB" : "AA");
    expect((await ui("/ui/", { cookie: tampered })).status).toBe(303);
    expect((await ui("/ui/", { cookie })).status).toBe(200);
  });

  it("pages carry a CSP without inline script and never render secrets", async () => {
    const { project } = await projectWithTracker("github", { name: "UI project" });
    const cookie = await signIn();
    for (const path of ["/ui/", `/ui/projects/${project.id}`, "/ui/login"]) {
      const res = await ui(path, { cookie });
      expect(res.status).toBe(200);
      const csp = res.headers.get("content-security-policy")!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      const html = await res.text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/\son[a-z]+=/);
      for (const secret of [SECRET_TOKEN, SECRET_WEBHOOK, API_TOKEN, "test-token", "webhook-secret"]) expect(html).not.toContain(secret);
    }
    const overview = await (await ui("/ui/", { cookie })).text();
    expect(overview).toContain("UI project");
    expect(overview).toMatch(/chip-late|chip-healthy|chip-syncing|chip-importing/);
    expect((await ui("/ui/assets/app.js")).headers.get("content-type")).toMatch(/javascript/);
  });

  it("a brand-new project shows `new` (not `late`) until its first sync, then `healthy`; the rules are on the page", async () => {
    const { project } = await projectWithTracker("github", { name: "Fresh project" });
    const cookie = await signIn();
    const fresh = await (await ui(`/ui/projects/${project.id}`, { cookie })).text();
    expect(fresh).toContain("chip-new");
    expect(fresh).not.toContain("chip-late");
    const overview = await (await ui("/ui/", { cookie })).text();
    expect(overview).toMatch(/chip-new[^<]*<\/span>/);
    expect(overview).toContain("no run queued yet");
    await syncAndWait(project.id, "full");
    expect(await (await ui(`/ui/projects/${project.id}`, { cookie })).text()).toContain("chip-healthy");
  });

  it("a first import's page summary shows as the number of issues it imported, not its JSON", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seed(3);
    await syncAndWait(project.id, "full");
    const page = await (await ui(`/ui/projects/${project.id}`, { cookie: await signIn() })).text();
    expect(page).toContain("issue.imported");
    expect(page).toContain("imported 3 issues");
    expect(page).not.toContain("issueIds");
  });

  it("form posts need the session's CSRF token; actions are recorded with the token's name", async () => {
    const { project } = await projectWithTracker("github");
    await syncAndWait(project.id, "full");
    const cookie = await signIn();
    const page = await (await ui(`/ui/projects/${project.id}`, { cookie })).text();
    const csrf = csrfOf(page);
    expect((await ui(`/ui/projects/${project.id}/pause`, { method: "POST", cookie, form: {} })).status).toBe(403);
    expect((await ui(`/ui/projects/${project.id}/pause`, { method: "POST", cookie, form: { _csrf: "forged" } })).status).toBe(403);
    expect((await ui(`/ui/projects/${project.id}/pause`, { method: "POST", cookie, form: { _csrf: csrf }, origin: "https://evil.example" })).status).toBe(403);
    expect((await ui(`/ui/projects/${project.id}/pause`, { method: "POST", form: { _csrf: csrf } })).status).toBe(401);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).syncEnabled).toBe(true);

    const res = await ui(`/ui/projects/${project.id}/pause`, { method: "POST", cookie, form: { _csrf: csrf } });
    expect(res.status).toBe(303);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).syncEnabled).toBe(false);
    const paused = await (await ui(`/ui/projects/${project.id}`, { cookie })).text();
    expect(paused).toContain("chip-paused");
    expect(paused).toContain("Resume sync");
    const feed = await json(await api(`/api/v1/projects/${project.id}/activity?kind=sync.paused`));
    expect(feed.items).toHaveLength(1);
    expect(feed.items[0]).toMatchObject({ actor: "default", source: "api" });
  });
});
