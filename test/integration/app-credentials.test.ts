import examples from "@octokit/webhooks-examples";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api, expectProblem, json } from "../support/api";
import { APP_BASE, APP_WEBHOOK_SECRET, appProject, exampleOf, installedApp, newInstallationId, postAppWebhook, projectStatus, resent } from "../support/github-app";
import { fakeTracker, listAllIssues, projectWithTracker, syncAndWait } from "../support/trackers";

const EVIL_BASE = "https://evil.test/api/v3";

async function deliveriesOf(projectId: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/deliveries?limit=100`))).items;
}

/** A repository event links the project to its repository id, as GitHub's first delivery does. */
async function linkByDelivery(fake: Awaited<ReturnType<typeof installedApp>>["fake"]): Promise<void> {
  const issue = fake.seedIssue({ title: "first" });
  expect((await postAppWebhook(await fake.appWebhook("opened", issue.number, APP_WEBHOOK_SECRET))).status).toBe(202);
}

describe("the App's JWT is signed only for the App's API base", () => {
  it("an installationId project with another apiBaseUrl is refused with 422 naming apiBaseUrl, on create and on PATCH", async () => {
    const { fake, installationId } = await installedApp();
    const name = `evil-${crypto.randomUUID()}`;
    const created = await expectProblem(
      await api("/api/v1/projects", { method: "POST", body: { name, provider: "github", apiBaseUrl: EVIL_BASE, repository: "acme/x", installationId, syncDirection: "inbound" } }),
      422,
    );
    expect(created.errors).toEqual([{ field: "apiBaseUrl", message: expect.stringContaining(APP_BASE) }]);
    const listed = await json(await api("/api/v1/projects?limit=500"));
    expect(listed.items.map((p: any) => p.name)).not.toContain(name);

    const project = await appProject(fake, installationId);
    const patched = await expectProblem(await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { apiBaseUrl: EVIL_BASE } }), 422);
    expect(patched.errors?.map((e) => e.field)).toEqual(["apiBaseUrl"]);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).apiBaseUrl).toBe(APP_BASE);

    // A token project elsewhere cannot switch to the App without moving to the App's base.
    const { project: tokenProject } = await projectWithTracker("github");
    const switched = await expectProblem(await api(`/api/v1/projects/${tokenProject.id}`, { method: "PATCH", body: { installationId } }), 422);
    expect(switched.errors?.map((e) => e.field)).toEqual(["apiBaseUrl"]);

    // Without apiBaseUrl an App project gets the App's base.
    const defaulted = await appProject(fake, installationId, { apiBaseUrl: undefined, name: "defaulted" });
    expect(defaulted.apiBaseUrl).toBe(APP_BASE);
  });

  it("a redirect answered to the token mint is not followed: nothing reaches the other host and no token is used", async () => {
    const { fake, app, installationId } = await installedApp();
    fake.seed(2);
    const evil = fakeTracker("github", { baseUrl: EVIL_BASE });
    const project = await appProject(fake, installationId);
    app.redirectAppRequestsTo(`${EVIL_BASE}/app/installations/${installationId}/access_tokens`);
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/redirect not followed/);
    expect(evil.requests).toHaveLength(0);
    expect(app.mintCount(installationId)).toBe(0);
    expect(fake.requests.filter((r) => !r.path.startsWith("/app"))).toHaveLength(0);
  });
});

describe("App deliveries cannot be relabelled or replayed", () => {
  it("a signed issue_comment body re-sent as an installation event is refused (400) and pauses nothing", async () => {
    const { fake, app, installationId } = await installedApp();
    const project = await appProject(fake, installationId);
    const comment = structuredClone((examples.find((d) => d.name === "issue_comment")!.examples as any[]).find((e) => e.action === "deleted"));
    comment.installation = { id: installationId, node_id: "MDIz" };
    comment.repository.id = fake.store.repositoryId;
    comment.repository.full_name = fake.store.repository;
    const signed = await app.delivery("issue_comment", comment, APP_WEBHOOK_SECRET);
    for (const event of ["installation", "installation_repositories"]) {
      const res = await postAppWebhook(resent(signed, { "x-github-event": event, "x-github-delivery": crypto.randomUUID() }));
      const refused = await expectProblem(res, 400);
      expect(refused.detail).toMatch(/repository event's body/);
    }
    const status = await projectStatus(project.id);
    expect(status.paused).toBeNull();
    expect(status.credential.health).toBe("ok");
  });

  it("the same signed issues body under fresh delivery ids is stored and applied once", async () => {
    const { fake, installationId } = await installedApp();
    const project = await appProject(fake, installationId);
    const issue = fake.seedIssue({ title: "once" });
    const hook = await fake.appWebhook("opened", issue.number, APP_WEBHOOK_SECRET);
    expect((await postAppWebhook(hook)).status).toBe(202);
    for (let i = 0; i < 2; i++) {
      const again = await postAppWebhook(resent(hook, { "x-github-delivery": crypto.randomUUID() }));
      expect(await json(again)).toEqual({ status: "duplicate" });
    }
    expect(await deliveriesOf(project.id)).toHaveLength(1);
  });

  it("an installation event's signed body under a fresh delivery id is a duplicate", async () => {
    const { fake, app, installationId } = await installedApp();
    const project = await appProject(fake, installationId);
    app.setSuspended(installationId);
    const suspend = await app.delivery("installation", exampleOf("installation", "suspend", installationId), APP_WEBHOOK_SECRET);
    expect((await postAppWebhook(suspend)).status).toBe(202);
    app.setSuspended(installationId, false);
    const unsuspend = await app.delivery("installation", exampleOf("installation", "unsuspend", installationId), APP_WEBHOOK_SECRET);
    expect((await postAppWebhook(unsuspend)).status).toBe(202);
    expect((await projectStatus(project.id)).paused).toBeNull();
    // The captured suspend body, replayed: nothing changes.
    expect(await json(await postAppWebhook(resent(suspend, { "x-github-delivery": crypto.randomUUID() })))).toEqual({ status: "duplicate" });
    expect((await projectStatus(project.id)).paused).toBeNull();
  });

  it("an uninstall or suspension GitHub does not confirm pauses nothing; one it confirms does", async () => {
    const { fake, app, installationId } = await installedApp();
    const project = await appProject(fake, installationId);
    for (const action of ["deleted", "suspend"]) {
      const res = await postAppWebhook(await app.delivery("installation", exampleOf("installation", action, installationId), APP_WEBHOOK_SECRET));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ignored" });
    }
    expect((await projectStatus(project.id)).paused).toBeNull();
    expect(app.requests.filter((r) => r.method === "GET" && r.path === `/app/installations/${installationId}`)).toHaveLength(2);

    app.removeInstallation(installationId);
    const confirmed = exampleOf("installation", "deleted", installationId, (p) => (p.sender.id += 1));
    expect((await postAppWebhook(await app.delivery("installation", confirmed, APP_WEBHOOK_SECRET))).status).toBe(202);
    expect((await projectStatus(project.id)).paused).toMatch(/uninstalled/);
  });
});

describe("installation events are recorded with their effects", () => {
  it("an uninstall GitHub cannot confirm now answers 503 and is not recorded: the redelivery applies it", async () => {
    const { fake, app, installationId } = await installedApp();
    const project = await appProject(fake, installationId);
    app.removeInstallation(installationId);
    const delivery = await app.delivery("installation", exampleOf("installation", "deleted", installationId), APP_WEBHOOK_SECRET);
    app.rateLimitNext("secondary");
    await expectProblem(await postAppWebhook(delivery), 503);
    expect((await projectStatus(project.id)).paused).toBeNull();
    // GitHub's "Redeliver": the same id and body.
    expect((await postAppWebhook(delivery)).status).toBe(202);
    expect((await projectStatus(project.id)).paused).toMatch(/uninstalled/);
    expect(await json(await postAppWebhook(delivery))).toEqual({ status: "duplicate" });
  });

  it("a created event for thousands of repositories is recorded and linked in a few statements", async () => {
    const { fake, app, installationId } = await installedApp();
    const project = await appProject(fake, installationId);
    const repositories = Array.from({ length: 3_000 }, (_, i) => ({ id: 90_000_000 + i, node_id: `R_${i}`, name: `bulk-${i}`, full_name: `acme/bulk-${i}-${installationId}`, private: false }));
    repositories[1_500] = { id: fake.store.repositoryId, node_id: "R_x", name: "x", full_name: fake.store.repository.toUpperCase(), private: false };
    const created = exampleOf("installation", "created", installationId, (p) => (p.repositories = repositories));
    const prepare = vi.spyOn(env.DB, "prepare");
    try {
      expect((await postAppWebhook(await app.delivery("installation", created, APP_WEBHOOK_SECRET))).status).toBe(202);
      // The Worker's own D1 statements (the spy sees them: the test shares the Worker's binding).
      expect(prepare.mock.calls.length).toBeGreaterThan(0);
      expect(prepare.mock.calls.length).toBeLessThan(25);
    } finally {
      prepare.mockRestore();
    }
    // Linked by name (case-insensitively): a later delivery from the repository reaches the project.
    const issue = fake.seedIssue({ title: "linked" });
    expect((await postAppWebhook(await fake.appWebhook("opened", issue.number, APP_WEBHOOK_SECRET))).status).toBe(202);
    await vi.waitFor(async () => expect((await listAllIssues(project.id)).map((i) => i.title)).toContain("linked"), { timeout: 10_000, interval: 25 });
  });
});

describe("App deliveries are routed only within their installation", () => {
  it("a delivery from another installation neither renames nor feeds a project; the project pauses saying where the repository is", async () => {
    const { fake, app, installationId } = await installedApp();
    const project = await appProject(fake, installationId);
    await linkByDelivery(fake);
    await vi.waitFor(async () => expect(await listAllIssues(project.id)).toHaveLength(1), { timeout: 10_000, interval: 25 });
    // Removed from the project's installation: paused.
    const repo = { id: fake.store.repositoryId, node_id: "R_x", name: "x", full_name: fake.store.repository, private: false };
    const removed = exampleOf("installation_repositories", "removed", installationId, (p) => {
      p.repositories_added = [];
      p.repositories_removed = [repo];
    });
    expect((await postAppWebhook(await app.delivery("installation_repositories", removed, APP_WEBHOOK_SECRET))).status).toBe(202);
    expect((await projectStatus(project.id)).paused).toMatch(/removed from GitHub App installation/);

    // The repository now belongs to another account's installation, under another name.
    const other = newInstallationId();
    app.addInstallation({ id: other, account: { login: "other", id: 10 }, repositories: [{ id: fake.store.repositoryId, fullName: "other/moved" }] });
    fake.useApp(app, other);
    const before = (await json(await api(`/api/v1/projects/${project.id}`))).repository;
    fake.renameRepository("other/moved");
    const issue = fake.seedIssue({ title: "from the other installation" });
    const res = await postAppWebhook(await fake.appWebhook("opened", issue.number, APP_WEBHOOK_SECRET));
    expect(await json(res)).toEqual({ status: "ignored" });
    expect((await json(await api(`/api/v1/projects/${project.id}`))).repository).toBe(before);
    expect(await deliveriesOf(project.id)).toHaveLength(1);
    const status = await projectStatus(project.id);
    expect(status.paused).toMatch(new RegExp(`now in GitHub App installation ${other}`));
    await expectProblem(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: {} }), 409);

    // The operator connects the project to the new installation: it resumes there.
    expect((await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { installationId: other } })).status).toBe(200);
    expect((await projectStatus(project.id)).paused).toBeNull();
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
  });

  it("a reinstall (new installation id) moves the uninstalled installation's projects to it and resumes them", async () => {
    const { fake, app, installationId } = await installedApp();
    fake.seed(2);
    const project = await appProject(fake, installationId);
    await linkByDelivery(fake);
    app.removeInstallation(installationId);
    expect((await postAppWebhook(await app.delivery("installation", exampleOf("installation", "deleted", installationId), APP_WEBHOOK_SECRET))).status).toBe(202);
    expect((await projectStatus(project.id)).paused).toMatch(/uninstalled/);

    const reinstalled = newInstallationId();
    app.addInstallation({ id: reinstalled, account: { login: "acme", id: 9 }, repositories: [{ id: fake.store.repositoryId, fullName: fake.store.repository }] });
    fake.useApp(app, reinstalled);
    const created = exampleOf("installation", "created", reinstalled, (p) => {
      p.repositories = [{ id: fake.store.repositoryId, node_id: "R_x", name: "x", full_name: fake.store.repository, private: false }];
    });
    expect((await postAppWebhook(await app.delivery("installation", created, APP_WEBHOOK_SECRET))).status).toBe(202);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).installationId).toBe(reinstalled);
    expect((await projectStatus(project.id)).paused).toBeNull();
    await vi.waitFor(async () => expect((await listAllIssues(project.id)).length).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 25 });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
  });
});

describe("token credential ids", () => {
  it("are keyed HMACs, not a hash anyone could recompute from a guessed token", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seed(1);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`github\n${fake.baseUrl}\n${fake.token}`));
    const unsalted = `token:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
    const rows = (await env.DB.prepare("select id from credentials where api_base_url = ?").bind(fake.baseUrl).all<{ id: string }>()).results;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toMatch(/^token:[0-9a-f]{64}$/);
    expect(rows[0]!.id).not.toBe(unsalted);
  });
});
