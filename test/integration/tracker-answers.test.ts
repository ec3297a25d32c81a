import { describe, expect, it, vi } from "vitest";
import type { FakeTracker } from "../fakes/fake-tracker";
import { api, createIssue, json } from "../support/api";
import { appProject, installedApp } from "../support/github-app";
import { listAllIssues, projectWithTracker, syncAndWait } from "../support/trackers";
import { deliver } from "./webhooks.support";

/** The delivery of `action` for issue `number`, with its payload changed as a hostile tracker would. */
async function tampered(fake: FakeTracker, action: string, number: number, change: (p: any) => void) {
  const hook = await fake.webhook(action, number);
  const payload = JSON.parse(hook.body);
  change(payload);
  return fake.signedWebhook(hook.headers["x-github-event"] ?? hook.headers["x-gitlab-event"] ?? "issues", payload);
}

describe("tracker URLs are kept only when they are http(s)", () => {
  for (const [provider, hostile, patch] of [
    ["github", "javascript:alert(document.cookie)", (p: any, url: string) => (p.issue.html_url = url)],
    ["gitlab", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", (p: any, url: string) => (p.object_attributes.url = url)],
    ["github", " JavaScript:alert(1)", (p: any, url: string) => (p.issue.html_url = url)],
  ] as const) {
    it(`a ${provider} issue URL ${JSON.stringify(hostile.slice(0, 12))}… is stored and served as null`, async () => {
      const { fake, project } = await projectWithTracker(provider, { syncDirection: "inbound" });
      const issue = fake.seedIssue({ title: "hostile url" });
      const res = await deliver(project, await tampered(fake, "opened", issue.number, (p) => patch(p, hostile)));
      expect(res.status).toBe(202);
      const [stored] = await vi.waitFor(async () => {
        const items = await listAllIssues(project.id);
        if (items.length === 0) throw new Error("not applied yet");
        return items;
      }, { timeout: 10_000, interval: 25 });
      expect(stored.external.url).toBeNull();
      const one = await json(await api(`/api/v1/projects/${project.id}/issues/${stored.id}`));
      expect(one.external.url).toBeNull();
    });
  }
});

describe("credentials a tracker echoes never reach stored error texts", () => {
  it("an installation token quoted in a tracker's error is redacted from the run, the project's lastError and the issue's push error", async () => {
    const { fake, installationId } = await installedApp();
    fake.seed(1);
    const project = await appProject(fake, installationId, { syncDirection: "bidirectional" });
    fake.fail({ kind: "echo_credential", match: "GET /repos/", times: 1 });
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("failed");
    expect(run.error).toContain("[redacted]");

    fake.fail({ kind: "echo_credential", match: "POST /repos/", times: 10 });
    const created = await createIssue(project.id, { title: "refused" });
    const issue = await vi.waitFor(async () => {
      const row = await json(await api(`/api/v1/projects/${project.id}/issues/${created.id}`, { token: "test-read-token-dashboard-0003" }));
      if (row.syncState !== "error") throw new Error(`still ${row.syncState}`);
      return row;
    }, { timeout: 15_000, interval: 25 });
    const shown = JSON.stringify([
      issue,
      run,
      await json(await api(`/api/v1/projects/${project.id}`, { token: "test-read-token-dashboard-0003" })),
      await json(await api(`/api/v1/projects/${project.id}/status`, { token: "test-read-token-dashboard-0003" })),
      await json(await api(`/api/v1/projects/${project.id}/activity`, { token: "test-read-token-dashboard-0003" })),
    ]);
    expect(shown).toContain("[redacted]");
    expect(shown).not.toMatch(/ghs_[A-Za-z0-9]{8}/);
  });
});

describe("a create answered with an issue already linked", () => {
  it("fails the push once with the reason instead of retrying into the unique key", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    fake.seed(1);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const creates = /^POST \/repos\/[^/]+\/[^/]+\/issues(\?|$)/;
    fake.fail({ kind: "answer_existing", match: creates, number: 1, times: 20 });
    const created = await createIssue(project.id, { title: "answered with #1" });
    const issue = await vi.waitFor(async () => {
      const row = await json(await api(`/api/v1/projects/${project.id}/issues/${created.id}`));
      if (row.syncState !== "error") throw new Error(`still ${row.syncState}`);
      return row;
    }, { timeout: 15_000, interval: 25 });
    expect(issue.syncError).toMatch(/already linked to local issue/);
    expect(issue.external).toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.requests.filter((r) => r.method === "POST" && creates.test(`POST ${r.path}`))).toHaveLength(1);
    const linked = (await listAllIssues(project.id)).filter((i) => i.external?.number === 1);
    expect(linked).toHaveLength(1);
  });
});
