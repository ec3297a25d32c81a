/**
 * Secrets never leave the Worker: tracker tokens, webhook secrets, the API token and the token
 * encryption key appear in no response, no log line (the Worker, the Durable Object and the queue
 * consumers log through this isolate's console in the test runtime, which the first test proves),
 * no error body and no D1 row in clear — including when a tracker echoes the token back in its
 * error messages. Bearer tokens that are only close to the API token are refused.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Provider } from "../../src/providers/types";
import type { FakeTracker } from "../fakes/fake-tracker";
import { api, API_TOKEN, projectBody, SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, deliver, postWebhook, waitProcessed } from "./webhooks.support";

/** vitest.config.ts: the test-only TOKEN_ENCRYPTION_KEY. */
const ENCRYPTION_KEY = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const TRACKER_TOKEN: Record<Provider, string> = {
  github: "ghp_SecurityTestTokenGitHub0123456789abcd",
  gitlab: "glpat-SecurityTestTokenGitLab0123456789",
  gitea: "gitea_SecurityTestToken0123456789abcdef",
};
const OTHER_TOKEN = "ghp_ReplacementTokenAfterPatch9876543210";
const OTHER_SECRET = "whsec_ReplacementSecretAfterPatch_5555";
const SECRETS = [...Object.values(TRACKER_TOKEN), OTHER_TOKEN, OTHER_SECRET, SECRET_WEBHOOK, API_TOKEN, ENCRYPTION_KEY, ENCRYPTION_KEY.replace(/=+$/, "")];

/** Every console line of this isolate, and every response body read through `call`. */
const logLines: string[] = [];
const bodies: string[] = [];

beforeAll(() => {
  // Installed once for the file: restoring all mocks would also remove the fake trackers' fetch spy.
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logLines.push(args.map((a) => (typeof a === "string" ? a : a instanceof Error ? `${a.name}: ${a.message} ${a.stack ?? ""}` : safeJson(a))).join(" "));
    });
  }
});

afterEach(() => {
  // Whatever a test produced, nothing it logged or was answered may carry a secret.
  const [logged, answered] = [logLines.splice(0), bodies.splice(0)];
  expectNoSecrets(logged, "log line");
  expectNoSecrets(answered, "response body");
});

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function expectNoSecrets(texts: readonly string[], what: string): void {
  for (const text of texts) {
    for (const secret of SECRETS) {
      if (text.includes(secret)) throw new Error(`a ${what} contains the secret ${secret.slice(0, 6)}…: ${text.slice(0, 300)}`);
    }
  }
}

/** Calls the API and keeps the answer's text for the scan. */
async function call(path: string, init: Parameters<typeof api>[1] = {}): Promise<{ status: number; text: string; body: any }> {
  const res = await api(path, init);
  const text = await res.text();
  bodies.push(text, JSON.stringify([...res.headers]));
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: kept as text for the scan.
  }
  return { status: res.status, text, body };
}

async function trackerProject(provider: Provider, overrides: Record<string, unknown> = {}) {
  return projectWithTracker(provider, overrides, { token: TRACKER_TOKEN[provider], webhookSecret: SECRET_WEBHOOK, tickMs: 1 });
}

/** The credential header value the adapter sent, as a tracker would see (and might echo) it. */
function credentialOf(request: Request): string {
  return request.headers.get("private-token") ?? request.headers.get("authorization") ?? "";
}

/**
 * Makes the fake answer matching requests with `status` and error bodies that echo the credential
 * the way careless trackers and proxies do: in the message, in a nested GitLab-style message
 * object and in an `errors` list.
 */
function echoCredentials(fake: FakeTracker, match: RegExp, status: number): { stop(): void } {
  const handle = fake.handle.bind(fake);
  let active = true;
  fake.handle = async (request: Request) => {
    const path = new URL(request.url).pathname;
    if (!active || !match.test(`${request.method} ${path}`)) return handle(request);
    fake.requests.push({ method: request.method, path, url: request.url, headers: {}, body: null, status, fault: null });
    const credential = credentialOf(request);
    const message =
      fake.provider === "gitlab" ? { base: [`token ${credential} is not valid`], credential } : `Bad credentials (you sent "${credential}")`;
    return new Response(JSON.stringify({ message, errors: [{ message: credential, code: "invalid" }], documentation_url: `https://example.test/?token=${credential}` }), {
      status,
      headers: { "content-type": "application/json", "x-echo": credential },
    });
  };
  return { stop: () => (active = false) };
}

describe("the console spies see the Worker's, the Durable Object's and the queue consumer's logs", () => {
  it("a sync run's success line (logged inside the Durable Object) is captured", async () => {
    const { fake, project } = await trackerProject("github");
    fake.seedIssue({ title: "One" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    expect(logLines.some((l) => l.includes("sync run succeeded") && l.includes(project.id))).toBe(true);
  });
});

describe("projects API", () => {
  it("create, get, list and patch (including a new token and secret) never return a token or secret", async () => {
    const created = await call("/api/v1/projects", { method: "POST", body: projectBody({ token: TRACKER_TOKEN.github }) });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body)).not.toEqual(expect.arrayContaining(["token"]));
    expect(created.body).not.toHaveProperty("webhookSecret");
    expect(created.body).not.toHaveProperty("tokenEnc");
    const id = created.body.id;
    expect((await call(`/api/v1/projects/${id}`)).status).toBe(200);
    expect((await call("/api/v1/projects?limit=500")).status).toBe(200);
    const patched = await call(`/api/v1/projects/${id}`, { method: "PATCH", body: { name: "Renamed", token: OTHER_TOKEN, webhookSecret: OTHER_SECRET } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: "Renamed" });
    expect((await call(`/api/v1/projects/${id}/status`)).status).toBe(200);
  });

  it.each([
    ["an invalid direction next to a valid token", projectBody({ token: TRACKER_TOKEN.github, syncDirection: "sideways" })],
    ["a token that is not a string", projectBody({ token: { value: TRACKER_TOKEN.github } })],
    ["a token over the length limit", projectBody({ token: `${TRACKER_TOKEN.github}${"x".repeat(2100)}` })],
    ["a webhook secret under the length limit next to a valid token", projectBody({ token: TRACKER_TOKEN.github, webhookSecret: "short" })],
    ["an unknown field holding the token", projectBody({ token: TRACKER_TOKEN.github, apiKey: TRACKER_TOKEN.gitlab })],
    ["the token as the repository", projectBody({ token: TRACKER_TOKEN.github, repository: TRACKER_TOKEN.gitea })],
    ["an invalid API base URL carrying the token", projectBody({ token: TRACKER_TOKEN.github, apiBaseUrl: `notaurl ${TRACKER_TOKEN.gitlab}` })],
  ])("a create with %s answers 400 naming the field, without echoing any secret", async (_name, body) => {
    const res = await call("/api/v1/projects", { method: "POST", body });
    expect(res.status).toBe(400);
    expect(res.body.errors.length).toBeGreaterThan(0);
  });

  it("a create whose body is malformed JSON around the token answers 400 without echoing it", async () => {
    const res = await call("/api/v1/projects", { method: "POST", rawBody: `{"name":"x","token":"${TRACKER_TOKEN.github}",` });
    expect(res.status).toBe(400);
  });

  it("a patch with an invalid field next to a new token answers 400 and keeps the old token", async () => {
    const { fake, project } = await trackerProject("github");
    const res = await call(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { token: OTHER_TOKEN, master: "nobody" } });
    expect(res.status).toBe(400);
    // The old token still works: the failed patch changed nothing.
    fake.seedIssue();
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
  });
});

const FAILING_STATUSES = [401, 403, 422, 500] as const;
const LIST_PATH: Record<Provider, RegExp> = {
  github: /^GET .*\/issues$/,
  gitlab: /^GET .*\/issues$/,
  gitea: /^GET .*\/issues$/,
};

describe("a tracker that echoes the token in its error answers", () => {
  it.each((["github", "gitlab", "gitea"] as const).flatMap((p) => FAILING_STATUSES.map((s) => [p, s] as const)))(
    "%s answering %i: the run's error, the project's lastError, the status and the logs carry no token",
    async (provider, status) => {
      const { fake, project } = await trackerProject(provider);
      fake.seedIssue({ title: "Unreachable" });
      const echo = echoCredentials(fake, LIST_PATH[provider], status);
      const start = await call(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "full" } });
      expect(start.status).toBe(202);
      const runId = start.body.runId;
      // 4xx fail the run at once; a 5xx leaves it retrying with the error recorded on the run.
      const run = await vi.waitFor(
        async () => {
          const r = await call(`/api/v1/sync-runs/${runId}`);
          if (!r.body.error) throw new Error("no error recorded yet");
          return r.body;
        },
        { timeout: 15_000, interval: 25 },
      );
      expect(run.error).toContain(String(status));
      echo.stop();
      await call(`/api/v1/projects/${project.id}`);
      await call(`/api/v1/projects/${project.id}/sync-runs`);
      await call(`/api/v1/projects/${project.id}/status`);
      if (status !== 500) {
        expect(run.status).toBe("failed");
        // The echo reached the adapter: the message kept its words, with the credential redacted.
        expect(run.error).toMatch(/redacted|Bad credentials|not valid/);
      }
    },
  );

  it.each(["github", "gitlab", "gitea"] as const)("%s: a push refused with 422 echoing the token shows the reason on the issue without the token", async (provider) => {
    const { fake, project } = await trackerProject(provider, { syncDirection: "outbound" });
    echoCredentials(fake, /^POST .*\/issues$/, 422);
    const created = await call(`/api/v1/projects/${project.id}/issues`, { method: "POST", body: { title: "Refused" } });
    expect(created.status).toBe(201);
    const issue = await vi.waitFor(
      async () => {
        const r = await call(`/api/v1/projects/${project.id}/issues/${created.body.id}`);
        if (r.body.syncState !== "error") throw new Error(`still ${r.body.syncState}`);
        return r.body;
      },
      { timeout: 15_000, interval: 25 },
    );
    expect(issue.syncError).toMatch(/422/);
    await call(`/api/v1/projects/${project.id}/issues?syncState=error`);
    await call(`/api/v1/projects/${project.id}/status`);
    expect(logLines.some((l) => l.includes("push refused by the tracker"))).toBe(true);
  });
});

describe("webhooks", () => {
  it.each(["github", "gitlab", "gitea"] as const)("%s: wrong, near-miss and valid deliveries, and the deliveries and events lists, carry no secret", async (provider) => {
    const { fake, project } = await trackerProject(provider);
    const issue = fake.seedIssue({ title: "Hooked" });
    const hook = await fake.webhook(provider === "gitlab" ? "open" : "opened", issue.number);
    const header = { github: "x-hub-signature-256", gitlab: "x-gitlab-token", gitea: "x-gitea-signature" }[provider];
    const nearMisses = provider === "gitlab" ? [`${SECRET_WEBHOOK}x`, SECRET_WEBHOOK.slice(0, -1), SECRET_WEBHOOK.toUpperCase()] : ["0".repeat(64), flipLastHexDigit(hook.headers[header]!)];
    for (const value of nearMisses) {
      const res = await postWebhook(`/webhooks/${provider}/${project.id}`, { headers: { ...hook.headers, [header]: value }, body: hook.body });
      bodies.push(await res.text());
      expect(res.status).toBe(401);
    }
    const id = await accepted(await deliver(project, hook));
    await waitProcessed(id);
    await call(`/api/v1/projects/${project.id}/deliveries`);
    await call(`/api/v1/projects/${project.id}/deliveries/${id}`);
    await call(`/api/v1/projects/${project.id}/events`);
    await call(`/api/v1/projects/${project.id}/issues`);
  });
});

describe("storage", () => {
  it("no D1 row of any table holds a token or secret in clear, after projects, syncs, failed pushes and webhooks", async () => {
    // Exercise every writer once more in this test so the scan does not depend on test order.
    const { fake, project } = await trackerProject("gitlab", { syncDirection: "bidirectional" });
    fake.seedIssue({ title: "Stored" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    echoCredentials(fake, /^PUT /, 422);
    const [local] = (await call(`/api/v1/projects/${project.id}/issues`)).body.items;
    expect((await call(`/api/v1/projects/${project.id}/issues/${local.id}`, { method: "PATCH", body: { title: "Edited" } })).status).toBe(200);
    await vi.waitFor(async () => expect((await call(`/api/v1/projects/${project.id}/issues/${local.id}`)).body.syncState).toBe("error"), { timeout: 15_000, interval: 25 });
    await waitProcessed(await accepted(await deliver(project, await fake.webhook("update", 1))));

    const tables = (await env.DB.prepare("select name from sqlite_master where type = 'table'").all<{ name: string }>()).results.map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(["projects", "issues", "sync_runs", "webhook_deliveries", "outbox", "conflicts", "events"]));
    let rows = 0;
    for (const table of tables) {
      if (table.startsWith("_cf_") || table === "sqlite_sequence") continue;
      const { results } = await env.DB.prepare(`select * from "${table}"`).all<Record<string, unknown>>();
      rows += results.length;
      expectNoSecrets(results.map((r) => JSON.stringify(r)), `row of ${table}`);
    }
    expect(rows).toBeGreaterThan(10);
    // The project row holds its secrets encrypted, and they still decrypt to working credentials.
    const stored = (await env.DB.prepare("select token_enc, webhook_secret_enc from projects where id = ?").bind(project.id).first<Record<string, string>>())!;
    expect(stored.token_enc).toMatch(/^b1\.v1\./);
    expect(stored.webhook_secret_enc).toMatch(/^b1\.v1\./);
  });
});

describe("the API bearer token", () => {
  it.each([
    ["a prefix of the token", `Bearer ${API_TOKEN.slice(0, -1)}`],
    ["the token plus one character", `Bearer ${API_TOKEN}x`],
    ["one character plus the token", `Bearer x${API_TOKEN}`],
    ["the token in upper case", `Bearer ${API_TOKEN.toUpperCase()}`],
    ["the token twice", `Bearer ${API_TOKEN} ${API_TOKEN}`],
    ["two bearer credentials", `Bearer ${API_TOKEN}, Bearer ${API_TOKEN}`],
    ["the token without a scheme", API_TOKEN],
    ["another scheme", `Token ${API_TOKEN}`],
    ["basic auth carrying the token", `Basic ${btoa(`user:${API_TOKEN}`)}`],
    ["an empty bearer", "Bearer "],
    ["the scheme alone", "Bearer"],
  ])("%s is refused with 401 that does not echo it", async (_name, authorization) => {
    const res = await call("/api/v1/projects", { token: null, headers: { authorization } });
    expect(res.status).toBe(401);
    expect(res.text).not.toContain(API_TOKEN.slice(0, 8));
  });

  it("the token in the query string or another header is refused with 401", async () => {
    expect((await call(`/api/v1/projects?access_token=${API_TOKEN}`, { token: null })).status).toBe(401);
    expect((await call("/api/v1/projects", { token: null, headers: { "x-api-token": API_TOKEN } })).status).toBe(401);
  });

  it("the exact token is accepted, with the scheme in any case (RFC 9110 schemes are case-insensitive)", async () => {
    expect((await call("/api/v1/projects", { token: null, headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(200);
    expect((await call("/api/v1/projects", { token: null, headers: { authorization: `bearer ${API_TOKEN}` } })).status).toBe(200);
  });
});

/** The same signature with its last hex digit changed (never equal to the original). */
function flipLastHexDigit(signature: string): string {
  return signature.slice(0, -1) + (signature.endsWith("0") ? "1" : "0");
}
