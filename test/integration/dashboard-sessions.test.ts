import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, API_TOKEN, json } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";

const ORIGIN = "http://sync.test";
const READ_TOKEN = "test-read-token-dashboard-0003";
const ROTATED_ADMIN = "test-admin-token-rotated-0002";

function ui(path: string, init: { method?: string; cookie?: string; form?: Record<string, string>; body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.cookie) headers.cookie = init.cookie;
  const body = init.body ?? (init.form ? new URLSearchParams(init.form) : undefined);
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: init.method ?? "GET", headers, body, redirect: "manual", ...(body instanceof ReadableStream ? { duplex: "half" } : {}) } as RequestInit));
}

async function signIn(token: string): Promise<{ cookie: string; csrf: string }> {
  const res = await ui("/ui/login", { method: "POST", form: { token } });
  expect(res.status).toBe(303);
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  const page = await (await ui("/ui/", { cookie })).text();
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(page)![1]! };
}

/** Runs `fn` with Worker configuration changed, as a deploy of new secrets would. */
async function withEnv(patch: Partial<Record<"API_TOKENS" | "SESSION_SECRET", string | undefined>>, fn: () => Promise<void>): Promise<void> {
  const target = env as unknown as Record<string, string | undefined>;
  const before = Object.fromEntries(Object.keys(patch).map((k) => [k, target[k]]));
  Object.assign(target, patch);
  try {
    await fn();
  } finally {
    Object.assign(target, before);
  }
}

const signedIn = async (cookie: string) => (await ui("/ui/", { cookie })).status === 200;

describe("dashboard sessions can be ended", () => {
  it("sign-out ends the session on the server: the same cookie replayed later opens nothing and pauses nothing", async () => {
    const { project } = await projectWithTracker("github");
    const { cookie, csrf } = await signIn(API_TOKEN);
    expect((await ui("/ui/logout", { method: "POST", cookie, form: { _csrf: csrf } })).status).toBe(303);
    expect(await signedIn(cookie)).toBe(false);
    expect((await ui(`/ui/projects/${project.id}/pause`, { method: "POST", cookie, form: { _csrf: csrf } })).status).toBe(401);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).syncEnabled).toBe(true);
  });

  it("a read-scope session can sign out", async () => {
    const { cookie, csrf } = await signIn(READ_TOKEN);
    expect((await ui("/ui/logout", { method: "POST", cookie, form: { _csrf: csrf } })).status).toBe(303);
    expect(await signedIn(cookie)).toBe(false);
  });

  it("a token removed from API_TOKENS, replaced, or given another scope ends its sessions", async () => {
    const { project } = await projectWithTracker("github");
    const { cookie, csrf } = await signIn(ROTATED_ADMIN);
    expect(await signedIn(cookie)).toBe(true);
    const others = [{ name: "dashboard", scope: "read", token: READ_TOKEN }];
    await withEnv({ API_TOKENS: JSON.stringify(others) }, async () => {
      expect(await signedIn(cookie)).toBe(false);
      expect((await ui(`/ui/projects/${project.id}/pause`, { method: "POST", cookie, form: { _csrf: csrf } })).status).toBe(401);
    });
    await withEnv({ API_TOKENS: JSON.stringify([...others, { name: "ops-2026", scope: "read", token: ROTATED_ADMIN }]) }, async () => {
      expect(await signedIn(cookie)).toBe(false);
    });
    await withEnv({ API_TOKENS: JSON.stringify([...others, { name: "ops-2026", scope: "admin", token: "a-new-token-under-the-old-name" }]) }, async () => {
      expect(await signedIn(cookie)).toBe(false);
    });
    // Configured as before: the session was never ended, so it works again.
    expect(await signedIn(cookie)).toBe(true);
    expect((await json(await api(`/api/v1/projects/${project.id}`))).syncEnabled).toBe(true);
  });

  it("a new SESSION_SECRET ends every session while stored tracker secrets stay readable", async () => {
    const { project } = await projectWithTracker("github", { syncDirection: "inbound" });
    const { cookie } = await signIn(API_TOKEN);
    await withEnv({ SESSION_SECRET: "a-fresh-session-secret-0123456789abcdef" }, async () => {
      expect(await signedIn(cookie)).toBe(false);
      expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
      const fresh = await signIn(API_TOKEN);
      expect(await signedIn(fresh.cookie)).toBe(true);
    });
  });
});

describe("dashboard forms are small and of one type", () => {
  it("POST /ui/login refuses a large body (413), also chunked, and other content types (415), before any session", async () => {
    const big = "token=" + "a".repeat(2 * 1024 * 1024);
    expect((await ui("/ui/login", { method: "POST", body: big, headers: { "content-type": "application/x-www-form-urlencoded" } })).status).toBe(413);
    // Chunked: no Content-Length to refuse it by; counted while reading.
    let left = 64;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("a".repeat(64 * 1024)));
        if (--left <= 0) controller.close();
      },
    });
    expect((await ui("/ui/login", { method: "POST", body: stream, headers: { "content-type": "application/x-www-form-urlencoded" } })).status).toBe(413);
    for (const type of ["application/json", "multipart/form-data; boundary=x", "text/plain"]) {
      expect((await ui("/ui/login", { method: "POST", body: "token=x", headers: { "content-type": type } })).status).toBe(415);
    }
    const { cookie, csrf } = await signIn(API_TOKEN);
    const { project } = await projectWithTracker("github");
    const json = await ui(`/ui/projects/${project.id}/pause`, { method: "POST", cookie, body: JSON.stringify({ _csrf: csrf }), headers: { "content-type": "application/json" } });
    expect(json.status).toBe(415);
  });
});

describe("dashboard notices", () => {
  it("a page shows only notices the dashboard itself produced for this session", async () => {
    const { project } = await projectWithTracker("github");
    const { cookie, csrf } = await signIn(API_TOKEN);
    const forged = "Your token expired: sign in again at https://evil.example/login";
    const page = await (await ui(`/ui/projects/${project.id}?notice=${encodeURIComponent(forged)}`, { cookie })).text();
    expect(page).not.toContain("evil.example");
    const res = await ui(`/ui/projects/${project.id}/pause`, { method: "POST", cookie, form: { _csrf: csrf } });
    const location = res.headers.get("location")!;
    expect(await (await ui(location, { cookie })).text()).toContain("Sync paused.");
    // Its signature does not carry over to other text or another session.
    const signature = new URL(location, ORIGIN).searchParams.get("ns")!;
    expect(await (await ui(`/ui/projects/${project.id}?notice=${encodeURIComponent(forged)}&ns=${signature}`, { cookie })).text()).not.toContain("evil.example");
    const other = await signIn(API_TOKEN);
    expect(await (await ui(location, { cookie: other.cookie })).text()).not.toContain("Sync paused.");
  });
});
