/**
 * The dashboard in a real browser: headless Chromium (Debian's package, driven by playwright-core)
 * against the Worker under `wrangler dev` (global-setup.mjs) and fake trackers on 127.0.0.1.
 * Every step waits for a condition (the page refreshes its <main> every few seconds by itself);
 * nothing is timed. Each page is scanned with axe-core and photographed into screenshots/.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPull, pullWebhook } from "../fakes/fake-pulls.ts";
import { api, createProject, deliver, expectAccessible, githubSignature, launchChromium, screenshot, serveFake, suite, syncAndWait, type Project, type ServedFake } from "./harness.ts";

const WAIT = { timeout: 30_000, interval: 100 };

let browser: Browser;
let context: BrowserContext;
let page: Page;
const fakes: ServedFake[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(fakes.map((f) => f.close()));
});

async function fakeGitHub(perPage?: number): Promise<ServedFake> {
  const fake = await serveFake("github", perPage ? { perPage } : {});
  fakes.push(fake);
  return fake;
}

async function openProject(project: Project, query = ""): Promise<void> {
  await page.goto(`${suite().origin}/ui/projects/${project.id}${query}`);
}

/** Clicks the button `label` inside the first element matching `scope`, then waits for the page it leads to. */
async function press(label: string, scope = "main"): Promise<void> {
  await Promise.all([page.waitForURL(/notice=/), page.locator(scope).getByRole("button", { name: label, exact: true }).first().click()]);
}

const chip = () => page.locator("h1 .chip").textContent();
const notice = () => page.getByRole("status").textContent();

/** The number in "N issues read" of the running run, or null when no run is shown. */
async function issuesRead(): Promise<number | null> {
  const text = await page.locator("#run-counters").textContent({ timeout: 1000 }).catch(() => null);
  const m = text ? /(\d+)(?: of \d+)? issues read/.exec(text) : null;
  return m ? Number(m[1]) : null;
}

describe("operator dashboard in Chromium", () => {
  let imported: Project;
  let importedFake: ServedFake;

  it("signs in with the API token (a wrong one is refused) and shows the overview", async () => {
    const { origin, apiToken } = suite();
    await page.goto(`${origin}/ui/`);
    await page.waitForURL(`${origin}/ui/login`);
    await expectAccessible(page);
    await screenshot(page, "01-login");

    await page.getByLabel("API token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toBe("That token is not valid.");

    await page.getByLabel("API token").fill(apiToken);
    await Promise.all([page.waitForURL(`${origin}/ui/`), page.getByRole("button", { name: "Sign in" }).click()]);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Projects");
    expect(await page.locator("header").textContent()).toContain("signed in as default");
    const cookie = (await context.cookies()).find((c) => c.name === "sx_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/ui" });
    expect(cookie!.value).not.toContain(apiToken);
    expect(await page.content()).not.toContain(apiToken);
  });

  it("shows a project import with its progress moving, then healthy on the overview", async () => {
    importedFake = await fakeGitHub(10);
    const seeded = importedFake.tracker.seed(120, { pullRequestEvery: 7 }).filter((i) => i.kind === "issue").length;
    imported = await createProject(importedFake, { name: "Widgets import" });
    // The first run step (5 pages) goes through; the next page waits until the test has looked.
    importedFake.gate.close(5);

    await openProject(imported);
    expect(await page.locator("#no-run").count()).toBe(1);
    await press("Full reconcile");
    expect(await notice()).toMatch(/^Started a full run/);
    await expect.poll(issuesRead, WAIT).toBeGreaterThan(0);
    const first = (await issuesRead())!;
    expect(first).toBeLessThan(seeded);
    expect(await chip()).toBe("importing");
    expect(await page.locator("#run-progress").count()).toBe(1);

    // Five more pages: the page refreshes itself and the counter moves on, run still going. (Let them
    // through before the slow axe scan: a listing request held past the client's 20 s timeout is retried.)
    importedFake.gate.allow(5);
    await expect.poll(issuesRead, WAIT).toBeGreaterThan(first);
    expect(await chip()).toBe("importing");
    await expectAccessible(page);
    await screenshot(page, "02-project-importing");

    importedFake.gate.open();
    await page.locator("#no-run").waitFor();
    await expect.poll(chip, WAIT).toBe("healthy");
    expect(await page.locator("#issue-states tbody td").first().textContent()).toBe(String(seeded));
    const lastRun = page.locator("#run-table tbody tr").first();
    expect(await lastRun.locator("td").nth(1).textContent()).toBe("full");
    expect(await lastRun.locator("td").nth(3).textContent()).toBe("succeeded");
    expect(await page.locator("svg[role=img] rect").count()).toBeGreaterThanOrEqual(3);
    await screenshot(page, "03-project-imported");

    await page.getByRole("link", { name: "syndarix-sync" }).click();
    const row = page.getByRole("row").filter({ hasText: "Widgets import" });
    expect(await row.locator(".chip").textContent()).toBe("healthy");
    await expectAccessible(page);
    await screenshot(page, "04-overview");
    // A 120-issue import on a shared, busy machine: more than the default minute is not a failure.
  }, 120_000);

  it("shows activity appearing after a signed webhook, and filters it by source", async () => {
    const fake = importedFake.tracker;
    const target = fake.store.visible().find((i) => i.kind === "issue")!;
    await openProject(imported);
    fake.edit(target.number, { labels: ["browser", "bug"] });
    const hook = await fake.webhook("labeled", target.number);
    const deliveryId = hook.headers["x-github-delivery"]!;
    expect((await deliver(imported, hook)).status).toBe(202);

    // No reload: the page's own refresh brings the entry in.
    const entry = page.locator("#activity-table tbody tr").filter({ hasText: deliveryId });
    await entry.first().waitFor();
    expect(await entry.locator("td").nth(2).textContent()).toBe("issue.updated");
    expect(await entry.locator("td").nth(3).textContent()).toBe("webhook");
    expect(await entry.locator("pre").textContent()).toContain('labels: [] → ["browser","bug"]');

    await page.getByLabel("Source").selectOption("webhook");
    await Promise.all([page.waitForURL(/source=webhook/), page.getByRole("button", { name: "Filter" }).click()]);
    const sources = await page.locator("#activity-table tbody tr td:nth-child(4)").allTextContents();
    expect(sources.length).toBeGreaterThan(0);
    expect(new Set(sources)).toEqual(new Set(["webhook"]));
    await screenshot(page, "05-activity-webhook");
  });

  it("shows an issue's pull request beside it: number, state chip, link", async () => {
    const fake = importedFake.tracker;
    const target = fake.store.visible().find((i) => i.kind === "issue")!;
    const pull = openPull(fake, { title: "Fix the browser bug", body: `Fixes #${target.number}`, head: "fix-browser" });
    await openProject(imported);
    expect((await deliver(imported, await pullWebhook(fake, "opened", pull.number))).status).toBe(202);
    const chip = page.locator("#activity-table tbody tr").filter({ hasText: "pr.linked" }).locator(`a.chip[href$="/pull/${pull.number}"]`);
    await chip.first().waitFor();
    expect(await chip.first().textContent()).toBe(`#${pull.number} open`);
    await expectAccessible(page);
    await screenshot(page, "05b-issue-pull-requests");
  });

  it("replays a failed webhook delivery", async () => {
    // A correctly signed delivery whose issue has no title: stored as failed (400).
    const fake = importedFake.tracker;
    const hook = await fake.webhook("edited", fake.store.visible().find((i) => i.kind === "issue")!.number);
    const payload = JSON.parse(hook.body);
    delete payload.issue.title;
    const body = JSON.stringify(payload);
    const deliveryId = hook.headers["x-github-delivery"]!;
    const res = await deliver(imported, { headers: { ...hook.headers, "x-hub-signature-256": await githubSignature(body) }, body });
    expect(res.status).toBe(400);
    const before = (await api("GET", `/api/v1/projects/${imported.id}/deliveries?status=failed`)).items.find((d: any) => d.deliveryId === deliveryId);
    expect(before).toBeDefined();

    await openProject(imported);
    const row = page.locator("#failed-deliveries tbody tr").filter({ hasText: deliveryId });
    expect(await row.locator("td").nth(3).textContent()).toContain("issue.title");
    await expectAccessible(page);
    await screenshot(page, "06-failed-delivery");
    await press("Replay", `#failed-deliveries tr:has-text("${deliveryId}")`);
    expect(await notice()).toBe(`Delivery ${deliveryId} queued again.`);

    const replayed = page.locator("#activity-table tbody tr").filter({ hasText: "delivery.replayed" }).first();
    expect(await replayed.locator("td").nth(4).textContent()).toBe("default");
    expect(await replayed.locator("td").nth(7).textContent()).toContain(deliveryId);
    // The Worker applied it again; a payload without a title still cannot be applied, and says so.
    await expect
      .poll(async () => (await api("GET", `/api/v1/projects/${imported.id}/deliveries/${before.id}`)) as any, WAIT)
      .toMatchObject({ status: "failed", error: expect.stringContaining("issue.title") });
    const after = await api("GET", `/api/v1/projects/${imported.id}/deliveries/${before.id}`);
    expect(after.processedAt > before.processedAt).toBe(true);
  });

  it("resolves conflicts: keep local is pushed to the tracker, take tracker keeps the tracker's value", async () => {
    const served = await fakeGitHub();
    const fake = served.tracker;
    fake.seed(2);
    const project = await createProject(served, { name: "Widgets conflicts", master: "tracker" });
    await syncAndWait(project.id, "full");
    const locals = (await api("GET", `/api/v1/projects/${project.id}/issues?limit=10`)).items as any[];
    const byNumber = new Map(locals.map((i) => [i.external.number as number, i]));
    // Both sides change the titles while pushes cannot get through; the tracker (master) wins both.
    fake.fail({ kind: "server_error", match: /^(PATCH|GET \/repos\/[^/]+\/[^/]+\/issues\/\d+$)/, times: 10_000 });
    for (const n of [1, 2]) {
      await api("PATCH", `/api/v1/projects/${project.id}/issues/${byNumber.get(n).id}`, { title: `local title ${n}` });
      fake.edit(n, { title: `tracker title ${n}` });
    }
    await syncAndWait(project.id, "incremental");
    expect((await api("GET", `/api/v1/projects/${project.id}/conflicts`)).items).toHaveLength(2);
    fake.clearFaults();

    await openProject(project);
    const rows = page.locator("#conflicts tbody tr");
    expect(await rows.count()).toBe(2);
    const first = rows.filter({ hasText: "local title 1" });
    expect(await first.locator("td").nth(1).textContent()).toBe("title");
    expect(await first.locator("td").nth(4).textContent()).toBe('"tracker title 1"');
    expect(await first.locator("td").nth(5).textContent()).toBe("tracker");
    await expectAccessible(page);
    await screenshot(page, "07-conflicts");
    // Open conflicts are not "healthy": the chip says so, with their number.
    expect(await chip()).toBe("conflicts");
    expect(await page.locator("h1 .chip-reason").textContent()).toMatch(/^2 open conflicts/);

    await press("Keep local", '#conflicts tr:has-text("local title 1")');
    expect(await notice()).toBe('Conflict on "title" resolved: kept local; the tracker is being updated.');
    await expect.poll(() => fake.issue(1)!.title, WAIT).toBe("local title 1");

    await press("Take tracker", '#conflicts tr:has-text("local title 2")');
    expect(await notice()).toBe('Conflict on "title" resolved: kept tracker.');
    expect(await page.getByText("No open conflicts.").count()).toBe(1);
    expect((await api("GET", `/api/v1/projects/${project.id}/issues/${byNumber.get(2).id}`)).title).toBe("tracker title 2");
    expect(fake.issue(2)!.title).toBe("tracker title 2");
    const resolved = await page.locator("#activity-table tbody tr").filter({ hasText: "conflict.resolved" }).allTextContents();
    expect(resolved).toHaveLength(2);
  });

  it("retries a push the tracker refused", async () => {
    const served = await fakeGitHub();
    const fake = served.tracker;
    const project = await createProject(served, { name: "Widgets outbound", syncDirection: "outbound" });
    fake.fail({ kind: "server_error", status: 422, match: /^POST/, times: 1 });
    const issue = await api("POST", `/api/v1/projects/${project.id}/issues`, { title: "Refused once, then retried" }, 201);
    await expect.poll(async () => (await api("GET", `/api/v1/projects/${project.id}/issues/${issue.id}`)).syncState, WAIT).toBe("error");

    await openProject(project);
    expect(await chip()).toBe("failing");
    const row = page.locator("#failed-pushes tbody tr").filter({ hasText: "Refused once, then retried" });
    expect(await row.count()).toBe(1);
    await expectAccessible(page);
    await screenshot(page, "08-failed-push");

    expect(fake.store.visible().map((i) => i.title)).toEqual([]);
    await press("Retry push", "#failed-pushes");
    expect(await notice()).toBe("Push queued again; if it fails again it shows here with its new error.");
    await expect.poll(() => fake.store.visible().map((i) => i.title), WAIT).toEqual(["Refused once, then retried"]);
    await page.getByText("No failed or retrying pushes.").waitFor();
    expect(await page.locator("#activity-table tbody tr").filter({ hasText: "push.retried" }).count()).toBe(1);
  });

  it("shows a stuck comment phase (which phase, since when, the error, what to do) while issues still sync", async () => {
    const served = await fakeGitHub();
    const fake = served.tracker;
    const project = await createProject(served, { name: "Widgets comments stuck", syncDirection: "inbound" });
    fake.seedIssue({ title: "Synced although comments are stuck" });
    fake.fail({ kind: "forbidden", match: /^GET \/repos\/[^/]+\/[^/]+\/issues\/comments/, times: 1000 });
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");

    await openProject(project);
    expect(await chip()).toBe("failing");
    expect(await page.locator("h1 .chip-reason").textContent()).toMatch(/^comments: not synced since .* \(issues still sync\)/);
    const row = page.locator('#phase-table tr[data-phase="comments"]');
    expect(await row.textContent()).toMatch(/stuck since .*403/);
    expect(await row.textContent()).toContain("give the project a token that can read the repository's comments");
    expect(await row.locator("time").first().getAttribute("title")).toMatch(/UTC$/);
    expect(await page.locator('#phase-table tr[data-phase="issues"]').textContent()).toContain("ok");
    await expectAccessible(page);
    await screenshot(page, "08b-stuck-comment-phase");

    fake.clearFaults();
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
    await expect.poll(chip, WAIT).toBe("healthy");
    expect(await page.locator("#phase-table .phase-stuck").count()).toBe(0);
  });

  it("pauses and resumes sync", async () => {
    await openProject(imported);
    await press("Pause sync");
    expect(await notice()).toBe("Sync paused.");
    expect(await chip()).toBe("paused");
    expect((await api("GET", `/api/v1/projects/${imported.id}`)).syncEnabled).toBe(false);
    await press("Sync now");
    expect(await notice()).toMatch(/^Not done: .*paused/);
    await expectAccessible(page);
    await screenshot(page, "09-paused");

    await press("Resume sync");
    expect(await notice()).toBe("Sync resumed.");
    expect(await chip()).not.toBe("paused");
    expect((await api("GET", `/api/v1/projects/${imported.id}`)).syncEnabled).toBe(true);
    const kinds = await page.locator("#activity-table tbody tr td:nth-child(3)").allTextContents();
    expect(kinds.slice(0, 2)).toEqual(["sync.resumed", "sync.paused"]);

    await page.getByRole("link", { name: "syndarix-sync" }).click();
    await expectAccessible(page);
    await screenshot(page, "10-overview-end");
  });

  it("on a 390 px phone the overview shows each project's status and lag, and stays accessible", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
    const small = await phone.newPage();
    try {
      await small.goto(`${suite().origin}/ui/`);
      expect(await small.content()).toMatch(/^<!DOCTYPE html>/i);
      const row = small.getByRole("row").filter({ hasText: "Widgets import" });
      const status = row.locator(".chip");
      expect(await status.isVisible()).toBe(true);
      const box = (await status.boundingBox())!;
      // Inside the screen, not scrolled off to the right.
      expect(box.x + box.width).toBeLessThanOrEqual(390);
      expect(await row.locator("td.wide").first().isVisible()).toBe(false);
      await expectAccessible(small);
      await screenshot(small, "11-overview-phone");
      await small.goto(`${suite().origin}/ui/projects/${imported.id}`);
      await expectAccessible(small);
      await screenshot(small, "12-project-phone");
    } finally {
      await phone.close();
    }
  });
});
