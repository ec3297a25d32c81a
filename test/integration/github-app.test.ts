import examples from "@octokit/webhooks-examples";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { forgetIsolateCredentials } from "../../src/sync/credentials";
import { FakeGitHubApp } from "../fakes/fake-github-app";
import type { FakeTracker } from "../fakes/fake-tracker";
import { validateCreateInstallationAccessTokenRequest } from "../fixtures/github/openapi-app-validators.js";
import { validateIssuesCreateRequest, validateIssuesUpdateRequest } from "../fixtures/github/openapi-issue-validators.js";
import { api, createIssue, createProject, expectProblem, json } from "../support/api";
import { fakeTracker, listAllIssues, projectWithTracker, syncAndWait } from "../support/trackers";

type Payload = Record<string, any>;

const APP_ID = Number(env.GITHUB_APP_ID);
const APP_WEBHOOK_SECRET = env.GITHUB_APP_WEBHOOK_SECRET!;
let nextInstallation = 5_000 + Math.floor(Math.random() * 1_000_000);

async function appPublicKey(): Promise<CryptoKey> {
  const der = Uint8Array.from(atob(env.TEST_APP_PUBLIC_KEY.replace(/-----[^-]+-----|\s/g, "")), (c) => c.charCodeAt(0));
  return crypto.subtle.importKey("spki", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]);
}

/** A fake GitHub whose repository the test App is installed on. */
async function installedApp(fakeOptions: { perPage?: number } = {}) {
  // Every App project talks to the App's one API base (GITHUB_APP_API_BASE_URL); the fakes share it.
  const fake = fakeTracker("github", { ...fakeOptions, baseUrl: env.GITHUB_APP_API_BASE_URL, repository: `acme/widgets-${crypto.randomUUID().slice(0, 6)}` });
  fake.store.repositoryId = 700_000 + Math.floor(Math.random() * 1_000_000);
  const installationId = nextInstallation++;
  const app = new FakeGitHubApp({ appId: APP_ID, slug: "syndarix-sync", publicKey: await appPublicKey(), apiBaseUrl: fake.baseUrl });
  app.addInstallation({
    id: installationId,
    account: { login: "acme", id: 9 },
    repositories: [{ id: fake.store.repositoryId, fullName: fake.store.repository }],
  });
  fake.useApp(app, installationId);
  return { fake, app, installationId };
}

async function appProject(fake: FakeTracker, installationId: number, overrides: Record<string, unknown> = {}) {
  return createProject({
    provider: "github",
    apiBaseUrl: fake.baseUrl,
    repository: fake.store.repository,
    token: undefined,
    webhookSecret: undefined,
    installationId,
    syncDirection: "bidirectional",
    ...overrides,
  });
}

function postAppWebhook(delivery: { rawBody: Uint8Array; headers: Record<string, string> }): Promise<Response> {
  return api("/webhooks/github-app", { method: "POST", rawBody: delivery.rawBody, headers: delivery.headers, token: null });
}

/** An `installation` / `installation_repositories` example from @octokit/webhooks-examples, for our installation. */
function exampleOf(event: string, action: string, installationId: number, patch: (p: Payload) => void = () => {}): Payload {
  const found = (examples.find((d) => d.name === event)?.examples ?? []).find((e: Payload) => e.action === action) as Payload | undefined;
  if (!found) throw new Error(`no ${event}.${action} example`);
  const payload = structuredClone(found);
  payload.installation.id = installationId;
  patch(payload);
  return payload;
}

const status = async (projectId: string) => json(await api(`/api/v1/projects/${projectId}/status`));

/** The project's credential.* activity entries, oldest first (the fields that say what and why). */
async function credentialActivity(projectId: string): Promise<{ kind: string; source: string; deliveryId: string | null; detail: string }[]> {
  const kinds = "credential.rejected,credential.suspended,credential.removed,credential.resumed";
  const { items } = await json(await api(`/api/v1/projects/${projectId}/activity?kind=${kinds}`));
  return items.map((e: Payload) => ({ kind: e.kind, source: e.source, deliveryId: e.deliveryId, detail: e.detail }));
}

function trackerRequests(fake: FakeTracker) {
  return fake.requests.filter((r) => !r.path.startsWith("/app"));
}

describe("project auth with a GitHub App installation", () => {
  it("a github project takes installationId instead of token; bad combinations are a 400 naming the field", async () => {
    const { fake, installationId } = await installedApp();
    const project = await appProject(fake, installationId);
    expect(project.installationId).toBe(installationId);
    expect(project.webhookUrl).toBe("/webhooks/github-app");

    const both = await expectProblem(await api("/api/v1/projects", { method: "POST", body: { name: "x", provider: "github", repository: "a/b", token: "t", installationId: 5, syncDirection: "inbound" } }), 400);
    expect(both.errors?.map((e) => e.field)).toContain("installationId");
    const neither = await expectProblem(await api("/api/v1/projects", { method: "POST", body: { name: "x", provider: "github", repository: "a/b", syncDirection: "inbound", webhookSecret: "whsec_1234567890abcdefghij" } }), 400);
    expect(neither.errors?.map((e) => e.field)).toEqual(["token"]);
    for (const provider of ["gitlab", "gitea"]) {
      const refused = await expectProblem(
        await api("/api/v1/projects", {
          method: "POST",
          body: { name: "x", provider, apiBaseUrl: "https://tracker.example/api", repository: "a/b", installationId: 5, syncDirection: "inbound" },
        }),
        400,
      );
      expect(refused.errors).toContainEqual({ field: "installationId", message: expect.stringContaining("GitHub App installations only") });
    }
    const string = await expectProblem(await api("/api/v1/projects", { method: "POST", body: { name: "x", provider: "github", repository: "a/b", installationId: "5", syncDirection: "inbound" } }), 400);
    expect(string.errors?.map((e) => e.field)).toContain("installationId");
  });

  it("one token mint per installation per hour across many projects, many requests and a fresh isolate; requests validated against GitHub's schemas", async () => {
    const { fake, app, installationId } = await installedApp({ perPage: 5 });
    fake.seed(12);
    const projects: any[] = [];
    for (let i = 0; i < 3; i++) projects.push(await appProject(fake, installationId, { name: `p${i}` }));
    for (const project of projects) expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    forgetIsolateCredentials(); // as a fresh isolate starts: only D1 remembers the token
    for (const project of projects) expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
    const created = await createIssue(projects[0].id, { title: "made by the App", labels: ["bug"] });
    await vi.waitFor(async () => {
      const issue = json(await api(`/api/v1/projects/${projects[0].id}/issues/${created.id}`));
      if ((await issue).syncState !== "synced") throw new Error("not pushed yet");
    }, { timeout: 15_000, interval: 25 });

    expect(trackerRequests(fake).length).toBeGreaterThan(15);
    expect(app.mintCount(installationId)).toBe(1);
    const mints = app.requests.filter((r) => r.path.endsWith("/access_tokens"));
    expect(mints).toHaveLength(1);
    expect(validateCreateInstallationAccessTokenRequest(mints[0]!.body), JSON.stringify(validateCreateInstallationAccessTokenRequest.errors)).toBe(true);
    // Every tracker request carried an installation token the App issued, never the placeholder.
    for (const r of trackerRequests(fake)) expect(r.status).not.toBe(401);
    for (const r of trackerRequests(fake).filter((r) => r.method === "POST" || r.method === "PATCH")) {
      const validate = r.method === "POST" ? validateIssuesCreateRequest : validateIssuesUpdateRequest;
      expect(validate(r.body), JSON.stringify(validate.errors)).toBe(true);
    }
    const created1 = fake.store.visible().find((i) => i.title === "made by the App");
    expect(created1?.author).toBe("syndarix-sync[bot]");
    // Nothing secret in status or project answers.
    const shown = JSON.stringify([await status(projects[0].id), await json(await api(`/api/v1/projects/${projects[0].id}`))]);
    expect(shown).not.toMatch(/ghs_/);
  });

  it("a token that expires mid-run is refreshed on the 401, the request sent again, and the run finishes", async () => {
    const { fake, app, installationId } = await installedApp({ perPage: 10 });
    fake.seed(80);
    const project = await appProject(fake, installationId, { syncDirection: "inbound" });
    let lists = 0;
    fake.onRequest = (record) => {
      if (record.method === "GET" && record.status === 200 && ++lists === 3) app.expireAllTokens();
    };
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("succeeded");
    expect(await listAllIssues(project.id)).toHaveLength(80);
    expect(app.mintCount(installationId)).toBe(2);
    expect(trackerRequests(fake).filter((r) => r.status === 401)).toHaveLength(1);
    expect((await status(project.id)).credential).toMatchObject({ kind: "installation", health: "ok" });
  });

  it("a lost create is adopted by the bot login (<slug>[bot], GET /app), not GET /user", async () => {
    const { fake, app, installationId } = await installedApp();
    const project = await appProject(fake, installationId, { syncDirection: "outbound" });
    fake.dropCreateResponse(1, "network");
    const created = await createIssue(project.id, { title: "lost answer" });
    await vi.waitFor(async () => {
      const issue = await json(await api(`/api/v1/projects/${project.id}/issues/${created.id}`));
      if (issue.syncState !== "synced") throw new Error(`still ${issue.syncState}`);
    }, { timeout: 15_000, interval: 25 });
    expect(fake.store.visible()).toHaveLength(1);
    expect(app.requests.some((r) => r.method === "GET" && r.path === "/app")).toBe(true);
    expect(trackerRequests(fake).some((r) => r.path === "/user")).toBe(false);
    expect(trackerRequests(fake).some((r) => r.path.includes("creator=syndarix-sync%5Bbot%5D"))).toBe(true);
  });
});

describe("POST /webhooks/github-app", () => {
  it("routes by repository id, also after a rename; unknown repositories are ignored; duplicates answer duplicate", async () => {
    const { fake, installationId } = await installedApp();
    const project = await appProject(fake, installationId, { syncDirection: "inbound" });
    const issue = fake.seedIssue({ title: "from the App" });
    const hook = await fake.appWebhook("opened", issue.number, APP_WEBHOOK_SECRET);
    const res = await postAppWebhook(hook);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: "accepted" });
    expect(await json(await postAppWebhook(hook))).toEqual({ status: "duplicate" });
    await vi.waitFor(async () => expect((await listAllIssues(project.id)).map((i) => i.title)).toEqual(["from the App"]), { timeout: 10_000, interval: 25 });

    // Renamed on GitHub: same id, new name. The delivery still reaches the project, which follows the name.
    fake.store.repository = "acme/renamed-widgets";
    fake.edit(issue.number, { title: "after the rename" });
    const renamed = await postAppWebhook(await fake.appWebhook("edited", issue.number, APP_WEBHOOK_SECRET));
    expect(renamed.status).toBe(202);
    await vi.waitFor(async () => expect((await listAllIssues(project.id)).map((i) => i.title)).toEqual(["after the rename"]), { timeout: 10_000, interval: 25 });
    expect((await json(await api(`/api/v1/projects/${project.id}`))).repository).toBe("acme/renamed-widgets");
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");

    // A repository no project syncs.
    fake.store.repositoryId += 1;
    const unknown = await postAppWebhook(await fake.appWebhook("opened", issue.number, APP_WEBHOOK_SECRET));
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toEqual({ status: "ignored" });
  });

  it("a wrong signature answers 401; a body that is not a JSON object 400", async () => {
    const { fake, installationId } = await installedApp();
    await appProject(fake, installationId);
    const issue = fake.seedIssue();
    const wrong = await fake.appWebhook("opened", issue.number, "not-the-app-secret");
    await expectProblem(await postAppWebhook(wrong), 401);
    const array = new TextEncoder().encode("[1]");
    const signed = await signRaw(array);
    await expectProblem(await postAppWebhook({ rawBody: array, headers: { "content-type": "application/json", "x-github-event": "issues", "x-github-delivery": crypto.randomUUID(), "x-hub-signature-256": signed } }), 400);
  });

  it("suspend pauses the installation's projects with the reason and no tracker traffic; unsuspend resumes them", async () => {
    const { fake, app, installationId } = await installedApp();
    fake.seed(3);
    const project = await appProject(fake, installationId, { syncDirection: "inbound" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");

    app.setSuspended(installationId);
    expect((await postAppWebhook(await app.delivery("installation", exampleOf("installation", "suspend", installationId), APP_WEBHOOK_SECRET))).status).toBe(202);
    const paused = await status(project.id);
    expect(paused.paused).toMatch(/suspended/);
    expect(paused.credential).toMatchObject({ health: "suspended", healthAt: expect.any(String) });
    expect(await credentialActivity(project.id)).toEqual([{ kind: "credential.suspended", source: "webhook", deliveryId: expect.any(String), detail: expect.stringMatching(/suspended/) }]);
    fake.clearLog();
    const refused = await expectProblem(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "incremental" } }), 409);
    expect(refused.detail).toMatch(/suspended/);
    // Local edits wait instead of being sent.
    await createIssue(project.id, { title: "while suspended" }).catch(() => undefined);
    expect(trackerRequests(fake)).toHaveLength(0);

    app.setSuspended(installationId, false);
    expect((await postAppWebhook(await app.delivery("installation", exampleOf("installation", "unsuspend", installationId), APP_WEBHOOK_SECRET))).status).toBe(202);
    expect((await status(project.id)).paused).toBeNull();
    expect((await credentialActivity(project.id)).map((e) => e.kind)).toEqual(["credential.suspended", "credential.resumed"]);
    fake.seedIssue({ title: "after unsuspend" });
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
    expect((await listAllIssues(project.id)).map((i) => i.title)).toContain("after unsuspend");
  });

  it("a removed repository pauses its projects; adding it again resumes them", async () => {
    const { fake, app, installationId } = await installedApp();
    const project = await appProject(fake, installationId, { syncDirection: "inbound" });
    const repo = { id: fake.store.repositoryId, node_id: "R_x", name: "widgets", full_name: fake.store.repository, private: false };
    const added = exampleOf("installation_repositories", "added", installationId, (p) => {
      p.repositories_added = [repo];
      p.repositories_removed = [];
    });
    expect((await postAppWebhook(await app.delivery("installation_repositories", added, APP_WEBHOOK_SECRET))).status).toBe(202);
    const removed = exampleOf("installation_repositories", "removed", installationId, (p) => {
      p.repositories_added = [];
      p.repositories_removed = [repo];
    });
    expect((await postAppWebhook(await app.delivery("installation_repositories", removed, APP_WEBHOOK_SECRET))).status).toBe(202);
    expect((await status(project.id)).paused).toMatch(/removed from GitHub App installation/);
    expect(await credentialActivity(project.id)).toEqual([{ kind: "credential.removed", source: "webhook", deliveryId: expect.any(String), detail: expect.stringMatching(/was removed from GitHub App installation/) }]);
    await expectProblem(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: {} }), 409);

    // A later event's body differs (GitHub's installation object carries its updated_at): not a replay.
    const again = { ...added, installation: { ...added.installation, updated_at: new Date().toISOString() } };
    expect((await postAppWebhook(await app.delivery("installation_repositories", again, APP_WEBHOOK_SECRET))).status).toBe(202);
    expect((await status(project.id)).paused).toBeNull();
    expect((await credentialActivity(project.id)).map((e) => e.kind)).toEqual(["credential.removed", "credential.resumed"]);
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
  });
});

describe("shared budgets and credential health", () => {
  it("when one project learns the shared token's budget is spent, the other waits for the same reset instead of sending requests", async () => {
    const { fake, project: first } = await projectWithTracker("github", { syncDirection: "inbound" });
    const second = await createProject({ name: "second", provider: "github", apiBaseUrl: fake.baseUrl, repository: fake.store.repository, token: fake.token, webhookSecret: fake.webhookSecret, syncDirection: "inbound" });
    fake.seed(3);
    fake.fail({ kind: "rate_limit", match: "GET /repos/", resetInSeconds: 600 });
    await api(`/api/v1/projects/${first.id}/sync`, { method: "POST", body: { mode: "full" } });
    await vi.waitFor(async () => {
      if ((await status(first.id)).credential.rateLimit.limitedUntil === null) throw new Error("not limited yet");
    }, { timeout: 10_000, interval: 25 });
    const before = fake.requests.length;

    const started = await json(await api(`/api/v1/projects/${second.id}/sync`, { method: "POST", body: { mode: "full" } }));
    const run = await vi.waitFor(async () => {
      const r = await json(await api(`/api/v1/sync-runs/${started.runId}`));
      if (!r.resumeAt) throw new Error("not waiting yet");
      return r;
    }, { timeout: 10_000, interval: 25 });
    const shared = (await status(second.id)).credential.rateLimit;
    expect(run.status).toBe("running");
    expect(Date.parse(run.resumeAt)).toBe(Date.parse(shared.limitedUntil));
    expect(Date.parse(shared.limitedUntil)).toBeGreaterThan(Date.now() + 500_000);
    // The second project spent nothing into refusals.
    expect(fake.requests.length).toBe(before);
    expect(fake.requests.filter((r) => r.fault === "rate_limit")).toHaveLength(1);
  });

  it("the remaining budget and its reset show in status", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seed(2);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const { credential } = await status(project.id);
    expect(credential).toMatchObject({ kind: "token", health: "ok", rateLimit: { remaining: 4999, resetAt: expect.any(String), limitedUntil: null } });
  });

  it("a rejected token stops the project's traffic and shows when; a PATCH with a new token resumes", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "inbound" });
    fake.seed(2);
    fake.token = "rotated-token";
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("failed");
    const rejected = await status(project.id);
    expect(rejected.credential).toMatchObject({ health: "rejected", healthAt: expect.any(String) });
    expect(rejected.paused).toMatch(/^credentials rejected since .*401/);
    fake.clearLog();
    await expectProblem(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: {} }), 409);
    await createIssue(project.id, { title: "waits" }).catch(() => undefined);
    expect(fake.requests).toHaveLength(0);

    const patched = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { token: "rotated-token" } });
    expect(patched.status).toBe(200);
    expect((await status(project.id)).paused).toBeNull();
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    expect(await listAllIssues(project.id)).toHaveLength(2);
  });
});

describe("GitLab token expiry", () => {
  it("status shows the token's expires_at, with a warning two weeks before, read once a day", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" });
    const soon = new Date(Date.now() + 10 * 24 * 3600_000).toISOString().slice(0, 10);
    fake.store.tokenExpiresAt = soon;
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const { credential } = await status(project.id);
    expect(credential.tokenExpiresAt).toBe(soon);
    expect(credential.warning).toMatch(new RegExp(`expires on ${soon}`));
    fake.clearLog();
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
    expect(fake.requests.filter((r) => r.path.startsWith("/personal_access_tokens/self"))).toHaveLength(0);

    const { fake: later, project: laterProject } = await projectWithTracker("gitlab", { syncDirection: "inbound" });
    later.store.tokenExpiresAt = new Date(Date.now() + 60 * 24 * 3600_000).toISOString().slice(0, 10);
    expect((await syncAndWait(laterProject.id, "full")).status).toBe("succeeded");
    expect((await status(laterProject.id)).credential).toMatchObject({ tokenExpiresAt: later.store.tokenExpiresAt, warning: null });
  });
});

async function signRaw(raw: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(APP_WEBHOOK_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return `sha256=${[...new Uint8Array(await crypto.subtle.sign("HMAC", key, raw))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
