import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { recordActivity } from "../../src/db/activity";
import { database } from "../../src/db/client";
import { FakeReceiver } from "../fakes/fake-receiver";
import { api, API_TOKEN, json } from "../support/api";
import { routeToFake } from "../support/trackers";

const ORIGIN = "http://sync.test";
const READ_TOKEN = "test-read-token-dashboard-0003";

function ui(path: string, init: { method?: string; cookie?: string; form?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  const body = init.form ? new URLSearchParams(init.form) : undefined;
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: init.method ?? "GET", headers, body, redirect: "manual" }));
}

async function signIn(token = API_TOKEN): Promise<string> {
  const res = await ui("/ui/login", { method: "POST", form: { token } });
  expect(res.status).toBe(303);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
const stub = (id: string) => env.EVENT_DISPATCHER.get(env.EVENT_DISPATCHER.idFromName(id));

async function round(id: string): Promise<void> {
  await stub(id).wake(id);
  await runDurableObjectAlarm(stub(id));
}

afterEach(async () => {
  const { items } = await json(await api("/api/v1/subscriptions?limit=500"));
  for (const sub of items) await api(`/api/v1/subscriptions/${sub.id}`, { method: "DELETE" });
});

describe("event subscriptions on the dashboard", () => {
  it("shows each subscription's health chip with its rules, the failing deliveries with their attempts, and redelivers", async () => {
    const r = new FakeReceiver(`https://dash-${crypto.randomUUID().slice(0, 8)}.receiver.test/hook`);
    routeToFake(r.url, r);
    r.answer = () => ({ status: 503, body: "down for maintenance" });
    const project = `proj-${crypto.randomUUID().slice(0, 8)}`;
    const sub = await json(await api("/api/v1/subscriptions", { method: "POST", body: { url: r.url, description: "triage bot", eventTypes: ["issue.*"], projectIds: [project] } }));
    await recordActivity(database(env.DB), [{ projectId: project, issueId: "issue-x", kind: "issue.created", origin: { source: "api" }, createdAt: new Date().toISOString() }]);
    await round(sub.id);

    const cookie = await signIn();
    const list = await (await ui("/ui/subscriptions", { cookie })).text();
    // The same page shell as every dashboard page: a DOCTYPE (standards mode) and the header's links.
    expect(list).toMatch(/^<!DOCTYPE html>/i);
    expect(list).toContain('href="/ui/subscriptions"');
    expect(list).toContain("triage bot");
    expect(list).toMatch(/class="chip chip-failing">failing</);
    expect(list).toContain("What the chips mean");
    expect(list).not.toContain(sub.secret);

    const page = await (await ui(`/ui/subscriptions/${sub.id}`, { cookie })).text();
    expect(page).toContain("Failing deliveries");
    expect(page).toContain("HTTP 503");
    expect(page).toContain("down for maintenance");
    const deliveryId = /deliveries\/([0-9a-f-]{36})\/redeliver/.exec(page)![1]!;

    r.answer = () => ({ status: 200 });
    const res = await ui(`/ui/subscriptions/${sub.id}/deliveries/${deliveryId}/redeliver`, { method: "POST", cookie, form: { _csrf: csrfOf(page) } });
    expect(res.status).toBe(303);
    expect(decodeURIComponent(res.headers.get("location")!)).toContain("queued again");
    await runDurableObjectAlarm(stub(sub.id));
    expect(r.received.at(-1)!.json.data.issue.id).toBe("issue-x");
    const after = await (await ui(`/ui/subscriptions/${sub.id}`, { cookie })).text();
    expect(after).toMatch(/class="chip chip-healthy">healthy</);
  });

  it("enables a disabled subscription and queues a test event; a read-only session sees no buttons", async () => {
    const r = new FakeReceiver(`https://dash-${crypto.randomUUID().slice(0, 8)}.receiver.test/hook`);
    routeToFake(r.url, r);
    const sub = await json(await api("/api/v1/subscriptions", { method: "POST", body: { url: r.url, eventTypes: ["issue.*"], enabled: false } }));
    const cookie = await signIn();
    const page = await (await ui(`/ui/subscriptions/${sub.id}`, { cookie })).text();
    expect(page).toMatch(/class="chip chip-paused">disabled</);
    const enabled = await ui(`/ui/subscriptions/${sub.id}/enable`, { method: "POST", cookie, form: { _csrf: csrfOf(page) } });
    expect(enabled.status).toBe(303);
    expect((await json(await api(`/api/v1/subscriptions/${sub.id}`))).enabled).toBe(true);
    const test = await ui(`/ui/subscriptions/${sub.id}/test`, { method: "POST", cookie, form: { _csrf: csrfOf(page) } });
    expect(decodeURIComponent(test.headers.get("location")!)).toContain("Test event");
    await runDurableObjectAlarm(stub(sub.id));
    expect(r.received.map((x) => x.json.type)).toEqual(["webhook.ping"]);

    const reader = await signIn(READ_TOKEN);
    const readOnly = await (await ui(`/ui/subscriptions/${sub.id}`, { cookie: reader })).text();
    expect(readOnly).not.toContain("Send test event");
    expect(readOnly).not.toContain("Replay</button>");
  });
});
