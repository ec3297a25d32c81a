/**
 * Plumbing for the browser suite: the Worker started by global-setup.mjs, an API client, fake
 * trackers served over HTTP on 127.0.0.1 from this process (so a test can edit the tracker, make it
 * refuse a request, or hold its issue listing to watch a run in progress), and Chromium.
 */
import AxeBuilder from "@axe-core/playwright";
import { createServer } from "node:http";
import { chromium, type Browser, type Page } from "playwright-core";
import { expect, inject } from "vitest";
import type { Provider } from "../../src/providers/types.ts";
import { FakeTracker, type FakeTrackerOptions } from "../fakes/fake-tracker.ts";

declare module "vitest" {
  export interface ProvidedContext {
    browserSuite: { origin: string; apiToken: string; chromium: string; chromiumArgs: string[] };
  }
}

export const suite = () => inject("browserSuite");

/** Flags tried on this kind of machine (PLATFORM.md): no sandbox as root, no background traffic. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The Chromium find-chromium.mjs chose, through playwright-core; playwright gives it a fresh temporary profile. */
export function launchChromium(): Promise<Browser> {
  const { chromium: executablePath, chromiumArgs } = suite();
  return chromium.launch({ executablePath, headless: true, args: [...new Set([...chromiumArgs, ...CHROMIUM_ARGS])] });
}

// ---------- the API ----------

export async function api<T = any>(method: string, path: string, body?: unknown, expectStatus?: number): Promise<T> {
  const { origin, apiToken } = suite();
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (expectStatus ? res.status !== expectStatus : !res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : null) as T;
}

export interface Project {
  id: string;
  name: string;
  webhookUrl: string;
}

export function createProject(fake: ServedFake, fields: Record<string, unknown>): Promise<Project> {
  return api<Project>("POST", "/api/v1/projects", {
    provider: fake.tracker.provider,
    apiBaseUrl: fake.origin,
    repository: "acme/widgets",
    token: "test-token",
    webhookSecret: WEBHOOK_SECRET,
    syncDirection: "bidirectional",
    ...fields,
  });
}

/** Starts a run through the API and waits until it finished (polling; fails after `timeout`). */
export async function syncAndWait(projectId: string, mode: "incremental" | "full"): Promise<any> {
  const { runId } = await api<{ runId: string }>("POST", `/api/v1/projects/${projectId}/sync`, { mode }, 202);
  let run: any;
  await expect
    .poll(async () => (run = await api("GET", `/api/v1/sync-runs/${runId}`)).status, { timeout: 30_000, interval: 200 })
    .toMatch(/^(succeeded|failed)$/);
  expect(run.status).toBe("succeeded");
  return run;
}

// ---------- fake trackers over HTTP ----------

export const WEBHOOK_SECRET = "browser-webhook-secret";

/**
 * Holds the tracker's issue listing: `allow(n)` lets n more list requests through, `open()` all of
 * them. While closed, a run's next page waits, so the dashboard can be watched mid-run without
 * depending on how fast anything is.
 */
export class ListingGate {
  private allowed = Infinity;
  private waiting: (() => void)[] = [];
  close(afterRequests = 0): void {
    this.allowed = afterRequests;
  }
  allow(n: number): void {
    this.allowed += n;
    this.release();
  }
  open(): void {
    this.allowed = Infinity;
    this.release();
  }
  async pass(): Promise<void> {
    while (this.allowed <= 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.allowed--;
  }
  private release(): void {
    const waiting = this.waiting.splice(0);
    for (const wake of waiting) wake();
  }
}

export interface ServedFake {
  tracker: FakeTracker;
  origin: string;
  gate: ListingGate;
  close(): Promise<void>;
}

/** A FakeTracker answering on a free port of 127.0.0.1 (the same shape as scripts/demo.mjs's). */
export async function serveFake(provider: Provider, options: Omit<FakeTrackerOptions, "baseUrl"> = {}): Promise<ServedFake> {
  const gate = new ListingGate();
  let fake: FakeTracker | null = null;
  const server = createServer(async (req, res) => {
    try {
      const chunks: Uint8Array[] = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        body.set(c, at);
        at += c.length;
      }
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      // The issue listing (not one issue): GitHub/Gitea `/repos/o/r/issues`, GitLab `/projects/:id/issues`.
      if (req.method === "GET" && /\/issues$/.test(url.pathname)) await gate.pass();
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
      const answer = await fake!.handle(
        new Request(`${origin}${req.url}`, {
          method: req.method,
          headers,
          body: req.method === "GET" || req.method === "HEAD" || body.length === 0 ? undefined : body,
        }),
      );
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        out[name] = value;
      });
      res.writeHead(answer.status, out);
      res.end(new Uint8Array(await answer.arrayBuffer()));
    } catch {
      // An injected network fault: drop the connection as a broken network would.
      req.socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  fake = new FakeTracker(provider, { webhookSecret: WEBHOOK_SECRET, ...options, baseUrl: origin });
  return {
    tracker: fake,
    origin,
    gate,
    close: async () => {
      gate.open();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Posts a delivery to the Worker's webhook URL, as the tracker would. */
export async function deliver(project: Project, hook: { headers: Record<string, string>; body: string }): Promise<Response> {
  return fetch(`${suite().origin}${project.webhookUrl}`, { method: "POST", headers: hook.headers, body: hook.body, signal: AbortSignal.timeout(30_000) });
}

/** HMAC-SHA256 of `body` under the webhook secret, as GitHub signs (`X-Hub-Signature-256`). */
export async function githubSignature(body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(WEBHOOK_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return `sha256=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// ---------- page checks ----------

/** axe-core on the page as it is: no serious or critical violations (listed in the failure message). */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    `axe on ${page.url()}`,
  ).toEqual([]);
}

/** A full-page screenshot into test/browser/screenshots/ (git-ignored). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test/browser/screenshots/${name}.png`, fullPage: true });
}
