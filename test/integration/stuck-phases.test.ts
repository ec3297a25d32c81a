/**
 * A stuck phase, through the Worker: a comment listing or a merge request listing that keeps failing
 * never stops the issue sync; status, the overview's chip and the project page say which phase is
 * stuck, since when, the tracker's answer and what to do, and all of it clears when the phase completes.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openPull } from "../fakes/fake-pulls";
import { api, API_TOKEN, json } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";

const ORIGIN = "http://sync.test";

function ui(path: string, init: { method?: string; cookie?: string; form?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  const body = init.form ? new URLSearchParams(init.form) : undefined;
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: init.method ?? "GET", headers, body, redirect: "manual" }));
}

async function signIn(): Promise<string> {
  const res = await ui("/ui/login", { method: "POST", form: { token: API_TOKEN } });
  expect(res.status).toBe(303);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

async function page(path: string, cookie: string): Promise<string> {
  const res = await ui(path, { cookie });
  expect(res.status).toBe(200);
  return res.text();
}

async function overviewRow(cookie: string, project: { id: string; name: string }): Promise<string> {
  const html = await page(`/ui/?q=${encodeURIComponent(project.name)}`, cookie);
  const row = html.split("<tr>").find((r) => r.includes(`/ui/projects/${project.id}"`));
  if (!row) throw new Error(`no overview row for ${project.id}`);
  return row;
}

/** The row of the project page's phase table for one phase, as text. */
function phaseRow(html: string, phase: string): string {
  const m = new RegExp(`<tr data-phase="${phase}"[^>]*>([\\s\\S]*?)</tr>`).exec(html);
  if (!m) throw new Error(`no phase row ${phase}`);
  return m[0];
}

const text = (html: string) => html.replace(/<[^>]+>/g, "").replace(/&#39;/g, "'").replace(/&quot;/g, '"');

async function status(projectId: string): Promise<any> {
  return json(await api(`/api/v1/projects/${projectId}/status`));
}

describe("a stuck phase is visible in status, on the overview and on the project page", () => {
  it("a failing comment listing: the run succeeds, issues keep syncing, the chip is `failing` naming the comment phase, and it clears once a comment phase completes", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seedIssue({ title: "First" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const before = await status(project.id);
    fake.advance(3_600_000);
    const later = fake.seedIssue({ title: "An hour later" });
    fake.fail({ kind: "forbidden", match: /^GET \/repos\/[^/]+\/[^/]+\/issues\/comments/, times: 1000 });

    const run = await syncAndWait(project.id);
    expect(run.status).toBe("succeeded");
    const stuck = await status(project.id);
    expect(stuck.comments.phaseError).toContain("403");
    expect(stuck.comments.phaseErrorAt).not.toBeNull();
    expect(stuck.comments.commentCursor).toBe(before.comments.commentCursor);
    expect(stuck.cursor > before.cursor).toBe(true);
    expect(stuck.lastError).toBeNull();
    expect(stuck.chip).toBe("failing");
    expect(stuck.chipReason).toMatch(/^comments: not synced since .* \(issues still sync\): .*403/);
    expect((await json(await api(`/api/v1/projects/${project.id}/issues`))).items.map((i: any) => i.title)).toContain(later.title);

    // A second failing run keeps the first failure's time: "stuck since".
    fake.advance(60_000);
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect((await status(project.id)).comments.phaseErrorAt).toBe(stuck.comments.phaseErrorAt);

    const cookie = await signIn();
    const row = await overviewRow(cookie, project);
    expect(row).toContain("chip-failing");
    expect(text(row)).toContain("comments: not synced since");
    const html = await page(`/ui/projects/${project.id}`, cookie);
    expect(html).toContain('<h2 id="phases">Sync phases</h2>');
    const comments = phaseRow(html, "comments");
    expect(comments).toContain("phase-stuck");
    expect(text(comments)).toMatch(/stuck since .*403/);
    expect(text(comments)).toContain("give the project a token that can read the repository's comments");
    expect(text(phaseRow(html, "issues"))).toContain("ok");
    // GitHub lists its pull requests with its issues: no phase row of their own.
    expect(html).not.toContain('data-phase="pull requests"');

    fake.clearFaults();
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const healed = await status(project.id);
    expect(healed.comments.phaseError).toBeNull();
    expect(healed.comments.phaseErrorAt).toBeNull();
    expect(healed.chip).toBe("healthy");
    expect(phaseRow(await page(`/ui/projects/${project.id}`, cookie), "comments")).not.toContain("phase-stuck");
  });

  it("a failing comment phase does not stop the pull request phase: GitLab's merge requests are still listed", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" });
    const issue = fake.seedIssue({ title: "Broken" });
    const pull = openPull(fake, { title: "Fix", body: `Closes #${issue.number}`, head: "fix" });
    fake.fail({ kind: "forbidden", match: /^GET .*\/notes/, times: 1000 });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const s = await status(project.id);
    expect(s.comments.phaseError).not.toBeNull();
    expect(s.pullRequests).toEqual({ cursor: new Date(pull.updatedAt).toISOString(), phaseError: null, phaseErrorAt: null });
  });

  it("a failing merge request listing: the chip is `failing` with the reason naming the pull request phase, and the project page shows it", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" });
    fake.seedIssue({ title: "Broken" });
    fake.fail({ kind: "forbidden", match: /^GET .*\/merge_requests\?/, times: 1000 });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const s = await status(project.id);
    expect(s.chip).toBe("failing");
    expect(s.chipReason).toMatch(/^pull requests: not synced since .* \(issues still sync\): .*403.*merge requests/);
    const cookie = await signIn();
    const html = await page(`/ui/projects/${project.id}`, cookie);
    const pulls = phaseRow(html, "pull requests");
    expect(pulls).toContain("phase-stuck");
    expect(text(pulls)).toContain("merge requests / pull requests");
    expect(phaseRow(html, "comments")).not.toContain("phase-stuck");
  });
});
