/**
 * First steps and settings in a real browser: a new project is tested against its tracker before it
 * is saved and imports at once; the settings form previews its dry run before saving; the chips an
 * operator meets (new, syncing, retrying, access lost); the overview of 300 projects paged; a 390 px
 * phone; axe on every page, the new ones included. Every step waits for a condition, nothing is timed.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createProject, expectAccessible, launchChromium, screenshot, serveFake, suite, syncAndWait, WEBHOOK_SECRET, type Project, type ServedFake } from "./harness.ts";

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
  const { origin, apiToken } = suite();
  await page.goto(`${origin}/ui/login`);
  await page.getByLabel("API token").fill(apiToken);
  await Promise.all([page.waitForURL(`${origin}/ui/`), page.getByRole("button", { name: "Sign in" }).click()]);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(fakes.map((f) => f.close()));
});

async function fake(provider: "github" | "gitlab" | "gitea" = "github"): Promise<ServedFake> {
  const served = await serveFake(provider);
  fakes.push(served);
  return served;
}

const chip = () => page.locator("h1 .chip").textContent();

/** The chip of a project's row on the overview, found by searching for its name. */
async function overviewChip(name: string): Promise<string | null> {
  await page.goto(`${suite().origin}/ui/?q=${encodeURIComponent(name)}`);
  return page.getByRole("row").filter({ hasText: name }).locator(".chip").textContent();
}

async function fillNewProject(served: ServedFake, fields: { name: string; token: string; repository?: string }): Promise<void> {
  await page.getByLabel("Name", { exact: true }).fill(fields.name);
  await page.getByLabel("Tracker", { exact: true }).selectOption(served.tracker.provider);
  await page.getByLabel("API base URL").fill(served.origin);
  await page.getByLabel("Repository", { exact: true }).fill(fields.repository ?? "acme/widgets");
  await page.getByLabel("Token", { exact: true }).fill(fields.token);
  await page.getByLabel("Webhook secret").fill(WEBHOOK_SECRET);
}

describe("new project and settings in Chromium", () => {
  let created: { id: string; fake: ServedFake; issues: number };

  it("a placeholder token is refused next to the token field with what to do; Test connection and Create with the right token import at once", async () => {
    const served = await fake("github");
    const issues = served.tracker.seed(12).filter((i) => i.kind === "issue").length;
    await page.goto(`${suite().origin}/ui/`);
    await Promise.all([page.waitForURL(/\/ui\/projects\/new$/), page.getByRole("link", { name: "New project" }).first().click()]);
    await expectAccessible(page);
    await screenshot(page, "20-new-project");

    await fillNewProject(served, { name: "Widgets from the form", token: "<paste a token here>" });
    await Promise.all([page.waitForURL(/\/ui\/projects$/), page.getByRole("button", { name: "Create project" }).click()]);
    expect(await page.locator("#pf-token-error").textContent()).toMatch(/^github refused the token \(HTTP 401\): it is wrong, expired or revoked; it needs a fine-grained token with Issues read and write/);
    expect(await page.getByRole("alert").first().textContent()).toContain("Nothing was saved.");
    expect(await page.getByLabel("Token", { exact: true }).inputValue()).toBe("");
    expect(await page.content()).not.toContain("paste a token here");
    await expectAccessible(page);
    await screenshot(page, "21-new-project-refused");

    await fillNewProject(served, { name: "Widgets from the form", token: "test-token", repository: "acme/widgest" });
    await Promise.all([page.waitForURL(/\/ui\/projects$/), page.getByRole("button", { name: "Test connection" }).click()]);
    expect(await page.locator("#connection-result").textContent()).toMatch(/^Connection fails: the token cannot read acme\/widgest on \S+: check the repository's name/);

    await fillNewProject(served, { name: "Widgets from the form", token: "test-token" });
    await Promise.all([page.waitForURL(/\/ui\/projects$/), page.getByRole("button", { name: "Test connection" }).click()]);
    expect(await page.locator("#connection-result").textContent()).toBe("Connection works: the token reads acme/widgets. Type the token again and create the project.");

    await fillNewProject(served, { name: "Widgets from the form", token: "test-token" });
    await Promise.all([page.waitForURL(/\/ui\/projects\/[^/?]+\?notice=/), page.getByRole("button", { name: "Create project" }).click()]);
    expect(await page.getByRole("status").first().textContent()).toMatch(/^Project created; the token reads the repository\. The first import started \(run [^)]+\)\./);
    const id = /\/ui\/projects\/([^/?]+)\?/.exec(page.url())![1]!;
    // The first import needs no cron: the page refreshes itself until it is done.
    await expect.poll(chip, WAIT).toBe("healthy");
    expect(await page.locator("#issue-states tbody td").first().textContent()).toBe(String(issues));
    expect(await page.locator("#run-table tbody tr").first().locator("td").nth(1).textContent()).toBe("full");
    await expectAccessible(page);
    await screenshot(page, "22-created-project");
    created = { id, fake: served, issues };
  }, 120_000);

  it("settings: Preview shows what a full run would do and keeps the typed values through refreshes; a bad value is refused next to its field; Save applies", async () => {
    await page.goto(`${suite().origin}/ui/projects/${created.id}`);
    const settings = page.locator("#settings");
    expect(await settings.getByLabel("Name", { exact: true }).inputValue()).toBe("Widgets from the form");
    expect(await settings.getByLabel("Token", { exact: true }).inputValue()).toBe("");

    await settings.getByLabel("Label map").fill("bug = type/bug\nfeature = type/bug");
    await Promise.all([page.waitForURL(/\/settings/), settings.getByRole("button", { name: "Save" }).click()]);
    expect(await page.locator("#pf-fieldMaps-labels-error").textContent()).toMatch(/^line 2 \(tracker\): "type\/bug" is already mapped by fieldMaps\.labels\.0/);
    expect(await page.getByRole("alert").first().textContent()).toContain("Nothing was saved.");

    await page.locator("#settings").getByLabel("Label map").fill("");
    await page.locator("#settings").getByLabel("Only issues with any of the labels").fill("syndarix");
    await Promise.all([page.waitForURL(/\/settings/), page.locator("#settings").getByRole("button", { name: "Preview" }).click()]);
    const counts = page.locator("#preview-counts");
    expect(await counts.textContent()).toContain(`${created.issues} issues leaving scope (frozen: nothing closed or deleted)`);
    expect(await page.locator("#preview-samples tbody tr").count()).toBe(created.issues);
    // Nothing saved.
    expect((await api("GET", `/api/v1/projects/${created.id}`)).scope).toBeNull();
    await expectAccessible(page);
    await screenshot(page, "23-settings-preview");

    // The page refreshes itself every few seconds; the typed values and the preview stay.
    // A mark outside the settings: gone once a refresh has replaced the page's content.
    await page.locator("#run-table").evaluate((table) => table.setAttribute("data-mark", "before-refresh"));
    await expect.poll(() => page.locator("#run-table[data-mark]").count(), WAIT).toBe(0);
    expect(await page.locator("#settings").getByLabel("Only issues with any of the labels").inputValue()).toBe("syndarix");
    expect(await page.locator("#preview-counts").count()).toBe(1);

    await Promise.all([page.waitForURL(/notice=/), page.locator("#settings").getByRole("button", { name: "Save" }).click()]);
    expect(await page.getByRole("status").first().textContent()).toBe("Settings saved.");
    expect((await api("GET", `/api/v1/projects/${created.id}`)).scope).toEqual({ labelsAny: ["syndarix"], onLeave: "freeze" });
    expect(await page.locator("#settings").getByLabel("Only issues with any of the labels").inputValue()).toBe("syndarix");
    const entry = page.locator("#activity-table tbody tr").filter({ hasText: "project.updated" }).first();
    expect(await entry.locator("td").nth(4).textContent()).toBe("default");
    expect(await entry.locator("pre").textContent()).toContain("scope: null →");
  });

  it("chips: a new project is `new`, a run on a synced one is `syncing`, a push that keeps failing is `retrying`, a lost repository is `access lost`", async () => {
    const quiet = await fake("gitea");
    const fresh = await createProject(quiet, { name: "Chip new" });
    expect(await overviewChip("Chip new")).toBe("new");

    const served = await fake("github");
    served.tracker.seed(3);
    const project: Project = await createProject(served, { name: "Chip cycle" });
    await syncAndWait(project.id, "full");
    await page.goto(`${suite().origin}/ui/projects/${project.id}`);
    served.gate.close();
    await Promise.all([page.waitForURL(/notice=/), page.locator("main").getByRole("button", { name: "Sync now", exact: true }).click()]);
    await expect.poll(chip, WAIT).toBe("syncing");
    await expectAccessible(page);
    served.gate.open();
    await expect.poll(chip, WAIT).toBe("healthy");

    const issue = (await api("GET", `/api/v1/projects/${project.id}/issues?limit=1`)).items[0];
    served.tracker.fail({ kind: "server_error", status: 502, match: /^PATCH .*\/issues\/\d+/, times: 10_000 });
    await api("PATCH", `/api/v1/projects/${project.id}/issues/${issue.id}`, { title: "Edited while the tracker fails" });
    await expect.poll(chip, WAIT).toBe("retrying");
    expect(await page.locator("h1 .chip-reason").textContent()).toMatch(/retrying after \d+ failed attempts?; last error: [^;]*502/);
    await screenshot(page, "24-chip-retrying");
    served.tracker.clearFaults();

    const lost = await fake("github");
    lost.tracker.seed(1);
    const gone: Project = await createProject(lost, { name: "Chip access lost" });
    await syncAndWait(gone.id, "full");
    lost.tracker.loseAccess();
    const local = (await api("GET", `/api/v1/projects/${gone.id}/issues?limit=1`)).items[0];
    await api("PATCH", `/api/v1/projects/${gone.id}/issues/${local.id}`, { title: "Edited without access" });
    await page.goto(`${suite().origin}/ui/projects/${gone.id}`);
    await expect.poll(chip, WAIT).toBe("access lost");
    await expectAccessible(page);
    await screenshot(page, "25-chip-access-lost");
    await api("DELETE", `/api/v1/projects/${fresh.id}`, undefined, 204);
  }, 120_000);

  it("the new-project page, the project page with its settings and an unknown page fit a 390 px phone and pass axe", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
    const small = await phone.newPage();
    try {
      for (const path of ["/ui/projects/new", `/ui/projects/${created.id}`, "/ui/subscriptions", "/ui/projects/no-such-project"]) {
        await small.goto(`${suite().origin}${path}`);
        expect(await small.content()).toMatch(/^<!DOCTYPE html>/i);
        await expectAccessible(small);
      }
      await small.goto(`${suite().origin}/ui/projects/new`);
      // Every field of the form is inside the screen: nothing to scroll sideways for.
      const overflow = await small.locator("#project-form").evaluate((form) =>
        [...form.querySelectorAll("input:not([type=hidden]), select, textarea, button")].filter((el) => el.getBoundingClientRect().right > (globalThis as unknown as { innerWidth: number }).innerWidth).map((el) => el.getAttribute("name")),
      );
      expect(overflow).toEqual([]);
      await screenshot(small, "26-new-project-phone");
      await small.goto(`${suite().origin}/ui/projects/no-such-project`);
      expect(await small.getByRole("alert").textContent()).toContain("project no-such-project does not exist: it may have been deleted");
    } finally {
      await phone.close();
    }
  });

  it("the overview of 300 projects is paged by 50, searchable and filterable, and its status column fits a phone", async () => {
    const ids: string[] = [];
    try {
      for (let batch = 0; batch < 30; batch++) {
        const made = await Promise.all(
          Array.from({ length: 10 }, (_, i) => {
            const n = String(batch * 10 + i).padStart(3, "0");
            return api<Project>("POST", "/api/v1/projects", {
              name: `Scale ${n}`,
              provider: "github",
              repository: `acme/scale-${n}`,
              token: "not-used",
              webhookSecret: WEBHOOK_SECRET,
              syncDirection: "inbound",
            });
          }),
        );
        ids.push(...made.map((p) => p.id));
      }
      await page.goto(`${suite().origin}/ui/`);
      const pager = () => page.locator("#pager").textContent();
      expect(await pager()).toMatch(/^\d+ projects · page 1 of \d+/);
      expect(await page.locator("#projects tbody tr").count()).toBe(50);
      await Promise.all([page.waitForURL(/page=2/), page.getByRole("link", { name: "next page" }).click()]);
      expect(await pager()).toMatch(/page 2 of/);
      expect(await page.locator("#projects tbody tr").count()).toBe(50);
      await page.getByLabel("Search").fill("scale-12");
      await Promise.all([page.waitForURL(/q=scale-12/), page.getByRole("button", { name: "Show" }).click()]);
      expect(await pager()).toMatch(/^10 of \d+ projects match · page 1 of 1/);
      await page.getByLabel("Search").fill("");
      await page.getByLabel("Status").selectOption("new");
      await Promise.all([page.waitForURL(/status=new/), page.getByRole("button", { name: "Show" }).click()]);
      const chips = new Set(await page.locator("#projects tbody .chip").allTextContents());
      expect(chips).toEqual(new Set(["new"]));
      await expectAccessible(page);
      await screenshot(page, "27-overview-300");

      const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
      try {
        const small = await phone.newPage();
        await small.goto(`${suite().origin}/ui/`);
        const status = small.locator("#projects tbody tr").first().locator(".chip");
        const box = (await status.boundingBox())!;
        expect(box.x + box.width).toBeLessThanOrEqual(390);
        await expectAccessible(small);
      } finally {
        await phone.close();
      }
    } finally {
      // The other browser tests read the overview's first page: leave it as it was.
      for (let i = 0; i < ids.length; i += 10) await Promise.all(ids.slice(i, i + 10).map((id) => api("DELETE", `/api/v1/projects/${id}`, undefined, 204)));
    }
  }, 180_000);
});
