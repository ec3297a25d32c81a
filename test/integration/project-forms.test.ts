/**
 * Creating and editing a project from the dashboard and through the API: one implementation, the
 * same validation and the same answers; the token is tested before saving, the first import starts
 * at once, and Preview shows the dry run the API answers.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, API_TOKEN, expectProblem, json } from "../support/api";
import { fakeTracker, projectWithTracker, syncAndWait, waitForRun } from "../support/trackers";

const ORIGIN = "http://sync.test";
const WEBHOOK_SECRET = "a-webhook-secret-of-twenty-plus-chars";

function ui(path: string, init: { method?: string; cookie?: string; form?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  const body = init.form ? new URLSearchParams(init.form) : undefined;
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: init.method ?? "GET", headers, body, redirect: "manual" }));
}

async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const res = await ui("/ui/login", { method: "POST", form: { token: API_TOKEN } });
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  const html = await (await ui("/ui/projects/new", { cookie })).text();
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(html)![1]! };
}

/** The text of the field error shown next to the form field `name` ("" when none). */
function fieldError(html: string, name: string): string {
  const id = `pf-${name.replace(/[^A-Za-z0-9_-]/g, "-")}-error`;
  const m = new RegExp(`id="${id}">([^<]*)<`).exec(html);
  return m ? m[1]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&") : "";
}

async function projectCount(): Promise<number> {
  return (await json(await api("/api/v1/projects?limit=500"))).items.length;
}

/** The new-project form as a browser posts it, for the fake tracker. */
function newForm(csrf: string, fake: { provider: string; baseUrl: string; store: { repository: string }; token: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    _csrf: csrf,
    intent: "create",
    name: "Form project",
    provider: fake.provider,
    apiBaseUrl: fake.baseUrl,
    repository: fake.store.repository,
    token: fake.token,
    webhookSecret: WEBHOOK_SECRET,
    installationId: "",
    syncDirection: "bidirectional",
    master: "tracker",
    deletionPolicy: "orphan",
    commentAttribution: "false",
    gitlabInternalNotes: "false",
    "prAutomation.closeOnMerge": "never",
    "prAutomation.statusLabels.in_progress": "",
    "prAutomation.statusLabels.in_review": "",
    "labelPolicy.createMissing": "always",
    "milestonePolicy.createMissing": "false",
    "fieldMaps.labels": "",
    "fieldMaps.milestone": "",
    "scope.labelsAny": "",
    "scope.labelsNone": "",
    "scope.state": "",
    "scope.createdSince": "",
    "scope.onLeave": "freeze",
    ...extra,
  };
}

/** The project page's settings form as it is, with `changes`, as the browser would post it. */
function settingsForm(html: string, csrf: string, intent: "preview" | "save", changes: Record<string, string>): Record<string, string> {
  const form = html.slice(html.indexOf('id="project-form"'), html.indexOf("</form>", html.indexOf('id="project-form"')));
  const values: Record<string, string> = { _csrf: csrf, intent };
  const unescape = (t: string) => t.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  for (const m of form.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) if (m[1] !== "_csrf") values[m[1]!] = unescape(m[2]!);
  for (const m of form.matchAll(/<select[^>]*name="([^"]+)"[^>]*>([\s\S]*?)<\/select>/g)) {
    values[m[1]!] = /<option value="([^"]*)" selected/.exec(m[2]!)?.[1] ?? /<option value="([^"]*)"/.exec(m[2]!)![1]!;
  }
  for (const m of form.matchAll(/<textarea[^>]*name="([^"]+)"[^>]*>([\s\S]*?)<\/textarea>/g)) values[m[1]!] = unescape(m[2]!);
  return { ...values, ...changes };
}

describe("creating a project through the API", () => {
  it("with testConnection=true a placeholder token or a mistyped repository is refused with what to do, and nothing is saved", async () => {
    const fake = fakeTracker("github");
    const body = { name: "Checked", provider: "github", apiBaseUrl: fake.baseUrl, repository: fake.store.repository, token: fake.token, webhookSecret: WEBHOOK_SECRET, syncDirection: "bidirectional" };
    const before = await projectCount();
    const placeholder = await expectProblem(await api("/api/v1/projects?testConnection=true", { method: "POST", body: { ...body, token: "<a GitHub token>" } }), 422);
    expect(placeholder.errors).toEqual([{ field: "token", message: expect.stringMatching(/^github refused the token \(HTTP 401\): .*it needs a fine-grained token with Issues read and write/) }]);
    const typo = await expectProblem(await api("/api/v1/projects?testConnection=true", { method: "POST", body: { ...body, repository: "acme/widgest" } }), 422);
    expect(typo.errors).toEqual([{ field: "repository", message: expect.stringMatching(/^the token cannot read acme\/widgest on \S+: check the repository's name.*it needs .*Issues read and write/) }]);
    expect(await projectCount()).toBe(before);

    const created = await api("/api/v1/projects?testConnection=true", { method: "POST", body });
    expect(created.status).toBe(201);
    expect(await json(created)).not.toHaveProperty("importRunId");
  });

  it("without testConnection the create stays lenient (automation may create before the token works)", async () => {
    const fake = fakeTracker("github");
    const res = await api("/api/v1/projects", {
      method: "POST",
      body: { name: "Lenient", provider: "github", apiBaseUrl: fake.baseUrl, repository: "acme/widgest", token: "placeholder", webhookSecret: WEBHOOK_SECRET, syncDirection: "inbound" },
    });
    expect(res.status).toBe(201);
  });

  it("with startImport=true the first import runs at once and imports the repository", async () => {
    const fake = fakeTracker("gitea");
    fake.seed(7);
    const res = await api("/api/v1/projects?testConnection=true&startImport=true", {
      method: "POST",
      body: { name: "Imported at once", provider: "gitea", apiBaseUrl: fake.baseUrl, repository: fake.store.repository, token: fake.token, webhookSecret: WEBHOOK_SECRET, syncDirection: "bidirectional" },
    });
    expect(res.status).toBe(201);
    const project = await json(res);
    expect(project.importRunId).toEqual(expect.any(String));
    const run = await waitForRun(project.importRunId);
    expect(run).toMatchObject({ status: "succeeded", mode: "full", projectId: project.id });
    expect((await json(await api(`/api/v1/projects/${project.id}/issues?limit=50`))).items).toHaveLength(fake.store.visible().filter((i) => i.kind === "issue").length);
  });
});

describe("the dashboard's project forms", () => {
  it("new project: a placeholder token is refused next to the token field with what to do, and nothing is saved", async () => {
    const { cookie, csrf } = await signIn();
    const fake = fakeTracker("github");
    const before = await projectCount();
    const res = await ui("/ui/projects", { method: "POST", cookie, form: newForm(csrf, { ...fake, token: "<paste your token here>" }) });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(fieldError(html, "token")).toMatch(/^github refused the token \(HTTP 401\): it is wrong, expired or revoked; it needs a fine-grained token with Issues read and write/);
    expect(html).toContain("Nothing was saved.");
    expect(html).not.toContain("paste your token here");
    expect(html).not.toContain(WEBHOOK_SECRET);
    expect(await projectCount()).toBe(before);

    const typo = await ui("/ui/projects", { method: "POST", cookie, form: newForm(csrf, fake, { repository: "acme/widgest" }) });
    expect(typo.status).toBe(422);
    expect(fieldError(await typo.text(), "repository")).toMatch(/^the token cannot read acme\/widgest on \S+: check the repository's name/);
  });

  it("new project: Test connection answers without saving; Create saves, starts the first import and shows the project", async () => {
    const { cookie, csrf } = await signIn();
    const fake = fakeTracker("github");
    fake.seed(5);
    const before = await projectCount();
    const tested = await ui("/ui/projects", { method: "POST", cookie, form: newForm(csrf, fake, { intent: "test", name: "", webhookSecret: "" }) });
    expect(tested.status).toBe(200);
    const testedHtml = await tested.text();
    expect(testedHtml).toContain(`Connection works: the token reads ${fake.store.repository}.`);
    expect(testedHtml).not.toContain(fake.token);
    expect(await projectCount()).toBe(before);

    const res = await ui("/ui/projects", { method: "POST", cookie, form: newForm(csrf, fake, { name: "Created from the form", "labelPolicy.createMissing": "mapped_only", "fieldMaps.labels": "bug = type/bug, kind:bug" }) });
    expect(res.status).toBe(303);
    const location = res.headers.get("location")!;
    const projectId = /^\/ui\/projects\/([^?]+)\?/.exec(location)![1]!;
    expect(decodeURIComponent(location)).toMatch(/The first import started \(run [^)]+\)/);
    const project = await json(await api(`/api/v1/projects/${projectId}`));
    expect(project).toMatchObject({
      name: "Created from the form",
      labelPolicy: { createMissing: "mapped_only" },
      fieldMaps: { labels: [{ local: "bug", tracker: ["type/bug", "kind:bug"] }], milestone: [] },
    });
    const runId = /run ([^)]+)\)/.exec(decodeURIComponent(location))![1]!;
    expect(await waitForRun(runId)).toMatchObject({ status: "succeeded", projectId });
    expect((await json(await api(`/api/v1/projects/${projectId}/issues?limit=50`))).items).toHaveLength(fake.store.visible().filter((i) => i.kind === "issue").length);
    const activity = await json(await api(`/api/v1/projects/${projectId}/activity?kind=project.created`));
    expect(activity.items[0]).toMatchObject({ kind: "project.created", actor: "default" });
  });

  it("settings: a bad value gets the API's error for the same change, next to its field", async () => {
    const { cookie, csrf } = await signIn();
    const { project } = await projectWithTracker("github", { syncDirection: "inbound" });
    const page = await (await ui(`/ui/projects/${project.id}`, { cookie })).text();

    const widening = await ui(`/ui/projects/${project.id}/settings`, { method: "POST", cookie, form: settingsForm(page, csrf, "save", { "fieldDirections.title": "both" }) });
    const apiWidening = await expectProblem(await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { fieldDirections: { title: "both" } } }), 422);
    expect(widening.status).toBe(422);
    expect(fieldError(await widening.text(), "fieldDirections.title")).toBe(apiWidening.errors![0]!.message);

    const twice = await ui(`/ui/projects/${project.id}/settings`, { method: "POST", cookie, form: settingsForm(page, csrf, "save", { "fieldMaps.labels": "bug = type/bug\nfeature = type/bug" }) });
    const apiTwice = await expectProblem(
      await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { fieldMaps: { labels: [{ local: "bug", tracker: ["type/bug"] }, { local: "feature", tracker: ["type/bug"] }] } } }),
      400,
    );
    expect(twice.status).toBe(400);
    expect(apiTwice.errors).toEqual([{ field: "fieldMaps.labels.1.tracker.0", message: expect.any(String) }]);
    expect(fieldError(await twice.text(), "fieldMaps.labels")).toBe(`line 2 (tracker): ${apiTwice.errors![0]!.message}`);

    const badDate = await ui(`/ui/projects/${project.id}/settings`, { method: "POST", cookie, form: settingsForm(page, csrf, "save", { "scope.createdSince": "yesterday" }) });
    expect(badDate.status).toBe(400);
    expect(fieldError(await badDate.text(), "scope.createdSince")).not.toBe("");
    expect(await json(await api(`/api/v1/projects/${project.id}`))).toMatchObject({ fieldDirections: {}, fieldMaps: { labels: [] }, scope: null });
  });

  it("settings: Preview shows the dry run the API answers and changes nothing; Save applies it, tests a new token first, and never shows it", async () => {
    const { cookie, csrf } = await signIn();
    const { fake, project } = await projectWithTracker("github");
    fake.seed(4);
    await syncAndWait(project.id, "full");
    const page = await (await ui(`/ui/projects/${project.id}`, { cookie })).text();
    expect(page).toContain('id="settings"');
    const change = { "scope.labelsAny": "syndarix" };

    const preview = await ui(`/ui/projects/${project.id}/settings`, { method: "POST", cookie, form: settingsForm(page, csrf, "preview", change) });
    expect(preview.status).toBe(200);
    const previewHtml = await preview.text();
    const dry = await json(await api(`/api/v1/projects/${project.id}?dryRun=true`, { method: "PATCH", body: { scope: { labelsAny: ["syndarix"] } } }));
    expect(dry.wouldLeaveScope).toBe(4);
    expect(previewHtml).toContain(`<li>${dry.wouldLeaveScope} issues leaving scope (frozen: nothing closed or deleted)</li>`);
    expect(previewHtml).toContain(`<li>${dry.wouldCreate} issues imported</li>`);
    expect((previewHtml.match(/<tr>/g) ?? []).length).toBeGreaterThan(0);
    expect(previewHtml).toContain('value="syndarix"');
    expect((await json(await api(`/api/v1/projects/${project.id}`))).scope).toBeNull();

    const badToken = await ui(`/ui/projects/${project.id}/settings`, { method: "POST", cookie, form: settingsForm(page, csrf, "save", { ...change, token: "revoked-token" }) });
    expect(badToken.status).toBe(422);
    const badHtml = await badToken.text();
    expect(fieldError(badHtml, "token")).toMatch(/^github refused the token \(HTTP 401\)/);
    expect(badHtml).not.toContain("revoked-token");
    expect((await json(await api(`/api/v1/projects/${project.id}`))).scope).toBeNull();

    const saved = await ui(`/ui/projects/${project.id}/settings`, { method: "POST", cookie, form: settingsForm(page, csrf, "save", { ...change, token: fake.token }) });
    expect(saved.status).toBe(303);
    expect(decodeURIComponent(saved.headers.get("location")!)).toContain("Settings saved.");
    expect((await json(await api(`/api/v1/projects/${project.id}`))).scope).toEqual({ labelsAny: ["syndarix"], onLeave: "freeze" });
    const after = await (await ui(saved.headers.get("location")!, { cookie })).text();
    expect(after).not.toContain(fake.token);
    const updated = (await json(await api(`/api/v1/projects/${project.id}/activity?kind=project.updated`))).items[0];
    expect(updated).toMatchObject({ actor: "default", changes: { scope: { before: null, after: { labelsAny: ["syndarix"], onLeave: "freeze" } } } });
    // Only what the form changed: the untouched defaults are not recorded as changes.
    expect(Object.keys(updated.changes)).toEqual(["scope"]);
  });

  it("settings: Preview says what saving would warn about (a scope no issue can match), as the API's dry run does", async () => {
    const { cookie, csrf } = await signIn();
    const { project } = await projectWithTracker("gitea");
    const page = await (await ui(`/ui/projects/${project.id}`, { cookie })).text();
    const dry = await json(await api(`/api/v1/projects/${project.id}?dryRun=true`, { method: "PATCH", body: { scope: { labelsAny: ["x"], labelsNone: ["x"] } } }));
    expect(dry.warnings).toEqual([{ field: "scope", message: expect.stringContaining("no issue can be in scope") }]);
    const preview = await ui(`/ui/projects/${project.id}/settings`, { method: "POST", cookie, form: settingsForm(page, csrf, "preview", { "scope.labelsAny": "x", "scope.labelsNone": "x" }) });
    expect(preview.status).toBe(200);
    const html = await preview.text();
    expect(html).toContain(`Note: <code>scope</code> ${dry.warnings[0].message}.`);
    const plain = await json(await api(`/api/v1/projects/${project.id}?dryRun=true`, { method: "PATCH", body: { scope: { labelsAny: ["x"] } } }));
    expect(plain).not.toHaveProperty("warnings");
  });

  it("pause from the dashboard is the API's change: the same activity entry and the same project", async () => {
    const { cookie, csrf } = await signIn();
    const { project } = await projectWithTracker("gitlab");
    const res = await ui(`/ui/projects/${project.id}/pause`, { method: "POST", cookie, form: { _csrf: csrf } });
    expect(res.status).toBe(303);
    const [paused] = (await json(await api(`/api/v1/projects/${project.id}/activity?kind=sync.paused`))).items;
    expect(paused).toMatchObject({ kind: "sync.paused", actor: "default" });
    expect((await json(await api(`/api/v1/projects/${project.id}`))).syncEnabled).toBe(false);
  });

  it("a read-only token sees every setting but no button, and its form posts are refused", async () => {
    const { project } = await projectWithTracker("github");
    const login = await ui("/ui/login", { method: "POST", form: { token: "test-read-token-dashboard-0003" } });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const html = await (await ui(`/ui/projects/${project.id}`, { cookie })).text();
    expect(html).toContain('id="project-form"');
    expect(html).toContain(`value="${project.repository}"`);
    expect(html).toMatch(/<fieldset disabled="">/);
    expect(html).not.toMatch(/<button type="submit" name="intent" value="save">/);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const res = await ui(`/ui/projects/${project.id}/settings`, { method: "POST", cookie, form: { _csrf: csrf, intent: "save", name: "renamed" } });
    expect(res.status).toBe(403);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).name).toBe(project.name);
  });

  it("a page for a project that does not exist says so in words, as a page", async () => {
    const { cookie } = await signIn();
    const res = await ui("/ui/projects/no-such-project", { cookie });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain("project no-such-project does not exist: it may have been deleted");
    expect(html).not.toContain("internal error");
  });
});
