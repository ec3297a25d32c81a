import { env, exports } from "cloudflare:workers";
import { forgetForeignNotes } from "../../src/sync/foreign-deliveries";
import { describe, expect, it, vi } from "vitest";
import { api, API_TOKEN, json } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";
import { deliver } from "./webhooks.support";

const ORIGIN = "http://sync.test";

function ui(path: string, cookie?: string): Promise<Response> {
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { headers: cookie ? { cookie } : {}, redirect: "manual" }));
}

async function signIn(): Promise<string> {
  const res = await exports.default.fetch(
    new Request(`${ORIGIN}/ui/login`, { method: "POST", body: new URLSearchParams({ token: API_TOKEN }), redirect: "manual" }),
  );
  expect(res.status).toBe(303);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

/** Starts a full run and waits until it sits rate-limited after its first listing page. */
async function runHeldAfterFirstPage(projectId: string): Promise<any> {
  const res = await api(`/api/v1/projects/${projectId}/sync`, { method: "POST", body: { mode: "full" } });
  expect(res.status).toBe(202);
  const { runId } = await json(res);
  return vi.waitFor(
    async () => {
      const run = await json(await api(`/api/v1/sync-runs/${runId}`));
      if (!run.resumeAt || run.stats.pages < 1) throw new Error("not waiting yet");
      return run;
    },
    { timeout: 15_000, interval: 25 },
  );
}

function progressOf(html: string): string {
  return /<progress id="run-progress"[^>]*>/.exec(html)![0];
}

describe("determinate progress (task 1)", () => {
  const cases: { provider: "gitlab" | "gitea"; secondPage: RegExp }[] = [
    // GitLab is read as a keyset scan: the second request is a fresh "updated_after" query.
    { provider: "gitlab", secondPage: /updated_after=/ },
    // Gitea follows its Link header to page 2.
    { provider: "gitea", secondPage: /[?&]page=2/ },
  ];
  for (const { provider, secondPage } of cases) {
    it(`${provider}: the run records the tracker's count from its first page and the project page shows a determinate bar`, async () => {
      const { fake, project } = await projectWithTracker(provider);
      fake.seed(150);
      fake.fail({ kind: "rate_limit", match: secondPage, times: 1, resetInSeconds: 3600 });
      const run = await runHeldAfterFirstPage(project.id);
      expect(run.total).toBe(150);
      const cookie = await signIn();
      const html = await (await ui(`/ui/projects/${project.id}`, cookie)).text();
      expect(progressOf(html)).toMatch(/max="150"/);
      expect(progressOf(html)).toMatch(/value="\d+"/);
      expect(html).toMatch(/\d+ of 150 issues read/);
      // The phase is named, the count never passes 100 %, and the time left is estimated from the rate.
      expect(html).toContain("phase 1 of 3: issues (reading the tracker&#39;s listing)");
      expect(html).toMatch(/\d+ of 150 issues read \((\d|[1-9]\d|100) %\)/);
      expect(html).toMatch(/about \d+ (s|min|h) left/);
    });
  }

  it("gitlab past 10,000 issues (no X-Total): total stays null and the bar is honest (indeterminate)", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    fake.seed(10_001);
    fake.fail({ kind: "rate_limit", match: /updated_after=/, times: 1, resetInSeconds: 3600 });
    const run = await runHeldAfterFirstPage(project.id);
    expect(run.total).toBeNull();
    const cookie = await signIn();
    const html = await (await ui(`/ui/projects/${project.id}`, cookie)).text();
    expect(progressOf(html)).not.toMatch(/max=/);
    expect(html).toMatch(/\d+ issues read/);
  });

  it("github gives no total; a finished gitea incremental run records the count of its change set", async () => {
    const { fake: gh, project: ghProject } = await projectWithTracker("github");
    gh.seed(3);
    expect((await syncAndWait(ghProject.id, "full")).total).toBeNull();

    const { fake, project } = await projectWithTracker("gitea");
    fake.seed(5);
    // Older than the incremental run's overlap window, so its listing holds only what changed.
    fake.advance(10 * 60_000);
    const full = await syncAndWait(project.id, "full");
    expect(full.total).toBe(5);
    fake.edit(2, { title: "changed" });
    const incremental = await syncAndWait(project.id, "incremental");
    expect(incremental.status).toBe("succeeded");
    expect(incremental.total).toBe(1);
  });
});

async function editIssue(projectId: string, issueId: string, body: Record<string, unknown>): Promise<void> {
  const res = await api(`/api/v1/projects/${projectId}/issues/${issueId}`, { method: "PATCH", body });
  if (res.status !== 200) throw new Error(`edit failed: ${res.status} ${await res.text()}`);
}

/** The overview row (one <tr>) of a project. */
async function overviewRow(cookie: string, projectId: string): Promise<string> {
  const html = await (await ui("/ui/", cookie)).text();
  const row = html.split("<tr>").find((r) => r.includes(`/ui/projects/${projectId}"`));
  if (!row) throw new Error(`no overview row for ${projectId}`);
  return row;
}

describe("rate limit and credential chips on the dashboard (tasks 2 and 3)", () => {
  it("the overview row and the project page show the credential's remaining budget and its reset", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seed(2);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const cookie = await signIn();
    expect(await overviewRow(cookie, project.id)).toMatch(/<span class="rate-limit">4999 left · resets <time datetime="[^"]+"/);
    const page = await (await ui(`/ui/projects/${project.id}`, cookie)).text();
    expect(/<p id="credential">[\s\S]*?<\/p>/.exec(page)![0]).toMatch(/token · rate limit[\s\S]*4999 left · resets/);
  });

  it("a project whose credentials were rejected shows `paused` with the reason, not `access lost`", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "inbound" });
    fake.seed(1);
    fake.token = "rotated-token";
    expect((await syncAndWait(project.id, "full")).status).toBe("failed");
    const cookie = await signIn();
    const row = await overviewRow(cookie, project.id);
    expect(row).toContain('class="chip chip-paused"');
    expect(row).toMatch(/<span class="chip-reason">credentials rejected since /);
    const page = await (await ui(`/ui/projects/${project.id}`, cookie)).text();
    expect(page).toMatch(/<h1>[\s\S]*chip-paused[\s\S]*credentials rejected since[\s\S]*<\/h1>/);
  });

  it("a repository answering 404 (access lost) shows `access lost` with when and why", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional", deletionPolicy: "delete" });
    fake.seedIssue({ title: "Private" });
    await syncAndWait(project.id);
    const local = (await json(await api(`/api/v1/projects/${project.id}/issues`))).items[0];
    fake.loseAccess();
    await editIssue(project.id, local.id, { title: "Edited without access" });
    await vi.waitFor(async () => expect((await json(await api(`/api/v1/projects/${project.id}/status`))).accessLost).not.toBeNull(), { timeout: 10_000, interval: 25 });
    const cookie = await signIn();
    const row = await overviewRow(cookie, project.id);
    expect(row).toContain('class="chip chip-access-lost"');
    expect(row).toMatch(/<span class="chip-reason">since [^:]+:[^<]*lost access/);
  });
});

async function activityOf(projectId: string, kinds: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/activity?kind=${kinds}&limit=100`))).items;
}

describe("activity for access, renames, foreign deliveries and credentials (task 4)", () => {
  it("access lost is recorded once with its reason; access regained when the repository reads again", async () => {
    // GitLab answers 404 for a deleted issue too; the repository read that follows tells lost access from deletion.
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "bidirectional", deletionPolicy: "orphan" });
    fake.seedIssue({ title: "Private" });
    fake.seedIssue({ title: "Soon deleted" });
    await syncAndWait(project.id);
    const items = (await json(await api(`/api/v1/projects/${project.id}/issues`))).items;
    fake.loseAccess();
    await editIssue(project.id, items[0].id, { title: "Edited without access" });
    await editIssue(project.id, items[1].id, { title: "Edited without access too" });
    await vi.waitFor(async () => expect(await activityOf(project.id, "access.lost")).toHaveLength(1), { timeout: 10_000, interval: 25 });
    const [lost] = await activityOf(project.id, "access.lost");
    expect(lost).toMatchObject({ source: "push", detail: expect.stringMatching(/lost access/) });
    // Both pushes met the 404; the state changed once, so there is one entry.
    await vi.waitFor(async () => {
      // Both edits met the 404 and wait (deferred by 10 minutes).
      const outbox = await env.DB.prepare("select count(*) as n from outbox where project_id = ? and next_attempt_at > ?")
        .bind(project.id, new Date(Date.now() + 60_000).toISOString())
        .first<{ n: number }>();
      expect(outbox!.n).toBe(2);
    }, { timeout: 10_000, interval: 25 });
    expect(await activityOf(project.id, "access.lost")).toHaveLength(1);

    fake.loseAccess(false);
    fake.delete(2);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const regained = await activityOf(project.id, "access.regained");
    expect(regained).toHaveLength(1);
    expect(regained[0]).toMatchObject({ source: "full", runId: expect.any(String) });
    expect((await json(await api(`/api/v1/projects/${project.id}/status`))).accessLost).toBeNull();
  });

  it("a rename is recorded with the new name, once", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    fake.seedIssue({ title: "Before rename" });
    await syncAndWait(project.id);
    const local = (await json(await api(`/api/v1/projects/${project.id}/issues`))).items[0];
    fake.renameRepository("acme/gadgets");
    await editIssue(project.id, local.id, { title: "After rename" });
    await vi.waitFor(async () => expect(await activityOf(project.id, "repository.renamed")).toHaveLength(1), { timeout: 10_000, interval: 25 });
    const [renamed] = await activityOf(project.id, "repository.renamed");
    expect(renamed.changes).toEqual({ repository: { before: fake.store.repository === "acme/gadgets" ? "acme/widgets" : expect.any(String), after: "acme/gadgets" } });
    await editIssue(project.id, local.id, { title: "After rename, again" });
    await vi.waitFor(() => expect(fake.issue(1)!.title).toBe("After rename, again"), { timeout: 10_000, interval: 25 });
    expect(await activityOf(project.id, "repository.renamed")).toHaveLength(1);
  });

  it("foreign deliveries (an organisation hook) are noted once per hour per project, not once each", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seedIssue({ title: "Elsewhere" });
    const hook = await fake.webhook("opened", 1);
    const payload = { ...hook.payload, repository: { ...(hook.payload.repository as object), id: 777, full_name: "acme/other" } };
    for (let i = 0; i < 3; i++) {
      const res = await deliver(project, await fake.signedWebhook("issues", { ...payload, sequence: i }));
      expect((await json(res)).status).toBe("ignored");
    }
    await vi.waitFor(async () => expect(await activityOf(project.id, "delivery.foreign")).toHaveLength(1), { timeout: 5_000, interval: 25 });
    const [note] = await activityOf(project.id, "delivery.foreign");
    expect(note).toMatchObject({ source: "webhook", deliveryId: expect.any(String), detail: expect.stringMatching(/acme\/other, id 777/) });
    // Another isolate (no memory of the note) still finds it in D1 and adds none.
    forgetForeignNotes();
    expect((await json(await deliver(project, await fake.signedWebhook("issues", { ...payload, sequence: 9 })))).status).toBe("ignored");
    await new Promise((r) => setTimeout(r, 200));
    expect(await activityOf(project.id, "delivery.foreign")).toHaveLength(1);
  });

  it("rejected credentials are recorded once, when they are refused", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "inbound" });
    fake.seed(1);
    fake.token = "rotated-token";
    expect((await syncAndWait(project.id, "full")).status).toBe("failed");
    const rejected = await activityOf(project.id, "credential.rejected");
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ source: "poll", detail: expect.stringMatching(/refused the token \(401\).*paused/) });
  });
});
