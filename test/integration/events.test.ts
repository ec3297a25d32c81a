import { abortAllDurableObjects, createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { recordActivity, type ActivityKind } from "../../src/db/activity";
import { database } from "../../src/db/client";
import { updateSubscription } from "../../src/db/subscriptions";
import worker from "../../src/index";
import { FakeReceiver } from "../fakes/fake-receiver";
import { api, createProject, expectProblem, json } from "../support/api";
import { routeToFake } from "../support/trackers";

/**
 * Event subscriptions through the Worker: the API creates them, the activity stream is the input,
 * the EventDispatcher Durable Object sends to a fake receiver. The clock is faked (Date only) and
 * set an hour ahead, so an alarm never fires by itself: each round is run with
 * runDurableObjectAlarm, and the retry delays pass by moving the clock.
 */

const READ_TOKEN = "test-read-token-dashboard-0003";

function receiver(): FakeReceiver {
  const url = `https://hooks-${crypto.randomUUID().slice(0, 8)}.receiver.test/events`;
  const r = new FakeReceiver(url);
  routeToFake(url, r);
  return r;
}

async function subscribe(r: FakeReceiver, overrides: Record<string, unknown> = {}): Promise<any> {
  const res = await api("/api/v1/subscriptions", { method: "POST", body: { url: r.url, eventTypes: ["issue.*"], ...overrides } });
  if (res.status !== 201) throw new Error(`subscribe failed: ${res.status} ${await res.text()}`);
  return json(res);
}

const stub = (id: string) => env.EVENT_DISPATCHER.get(env.EVENT_DISPATCHER.idFromName(id));

/** One dispatcher round, now (as the alarm would run it). */
async function round(id: string): Promise<void> {
  await stub(id).wake(id);
  await runDurableObjectAlarm(stub(id));
}

async function rounds(id: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await round(id);
}

const projectId = () => `proj-${crypto.randomUUID().slice(0, 8)}`;

/** A change as the product records it (the activity stream is the outbox). */
async function change(project: string, issueId: string | null, kind: ActivityKind | "issue.imported" = "issue.created", more: { changes?: any; detail?: string } = {}): Promise<void> {
  await recordActivity(database(env.DB), [
    { projectId: project, issueId, kind: kind as ActivityKind, origin: { source: "api", actor: "default" }, changes: more.changes, detail: more.detail, createdAt: new Date().toISOString() },
  ]);
}

function advance(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() + 3_600_000);
});

afterEach(async () => {
  vi.useRealTimers();
  // Nothing may be sent after the test (a late wake from a push still in flight would reach the network).
  const { items } = await json(await api("/api/v1/subscriptions?limit=500"));
  for (const sub of items) await api(`/api/v1/subscriptions/${sub.id}`, { method: "DELETE" });
});

describe("signing", () => {
  it("signs each event so the standardwebhooks library verifies it, and the check fails after one body byte changes", async () => {
    const r = receiver();
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    expect(sub.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    await change(p, "issue-a");
    await round(sub.id);

    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    const wh = new Webhook(sub.secret);
    expect(wh.verify(got.body, got.headers)).toMatchObject({ type: "issue.created", data: { projectId: p, issue: { id: "issue-a" } } });
    expect(got.id).toBe(got.json.data.eventId);
    expect(got.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const altered = got.body.replace(`"${p}"`, `"${p.slice(0, -1)}x"`);
    expect(altered).not.toBe(got.body);
    expect(() => wh.verify(altered, got.headers)).toThrow();
    expect(() => new Webhook("whsec_" + btoa("another secret, 24 bytes!")).verify(got.body, got.headers)).toThrow();
  });

  it("never returns the secret again after creation", async () => {
    const sub = await subscribe(receiver());
    const text = await (await api(`/api/v1/subscriptions/${sub.id}`)).text();
    const list = await (await api("/api/v1/subscriptions?limit=500")).text();
    expect(text).not.toContain(sub.secret);
    expect(list).not.toContain(sub.secret);
    expect(list).not.toContain(sub.secret.slice(6));
  });

  it("after a rotation signs with both secrets for 24 hours, each signature verifying, then with the new one only", async () => {
    const r = receiver();
    const sub = await subscribe(r);
    const rotated = await json(await api(`/api/v1/subscriptions/${sub.id}/rotate-secret`, { method: "POST" }));
    expect(rotated.secret).not.toBe(sub.secret);
    expect(rotated.previousSecretExpiresAt).toBeTruthy();

    expect((await api(`/api/v1/subscriptions/${sub.id}/test`, { method: "POST" })).status).toBe(202);
    await runDurableObjectAlarm(stub(sub.id));
    const ping = r.received[0]!;
    expect(ping.json.type).toBe("webhook.ping");
    expect(ping.signature.split(" ")).toHaveLength(2);
    expect(new Webhook(rotated.secret).verify(ping.body, ping.headers)).toMatchObject({ type: "webhook.ping" });
    expect(new Webhook(sub.secret).verify(ping.body, ping.headers)).toMatchObject({ type: "webhook.ping" });
    // Each entry is the signature of one secret.
    for (const [i, secret] of [rotated.secret, sub.secret].entries()) {
      const one = { ...ping.headers, "webhook-signature": ping.signature.split(" ")[i]! };
      expect(() => new Webhook(secret).verify(ping.body, one)).not.toThrow();
    }

    advance(24 * 3_600_000 + 1_000);
    await api(`/api/v1/subscriptions/${sub.id}/test`, { method: "POST" });
    await runDurableObjectAlarm(stub(sub.id));
    const later = r.received[1]!;
    expect(later.signature.split(" ")).toHaveLength(1);
    expect(() => new Webhook(rotated.secret).verify(later.body, later.headers)).not.toThrow();
    expect(() => new Webhook(sub.secret).verify(later.body, later.headers)).toThrow();
  });
});

describe("retries", () => {
  it("500, 500, 200: three attempts at the schedule's delays (immediately, then 5 s ± 20 %), one webhook-id", async () => {
    const r = receiver();
    r.script.push({ status: 500 }, { status: 500 });
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    await change(p, "issue-r");
    const t0 = Date.now();
    await round(sub.id);
    await runDurableObjectAlarm(stub(sub.id)); // the immediate retry
    expect(r.received).toHaveLength(2);
    await runDurableObjectAlarm(stub(sub.id)); // nothing is due yet
    advance(3_900);
    await runDurableObjectAlarm(stub(sub.id));
    expect(r.received).toHaveLength(2);
    advance(2_200);
    await runDurableObjectAlarm(stub(sub.id));

    expect(r.received).toHaveLength(3);
    expect(new Set(r.ids()).size).toBe(1);
    const [a, b, c] = r.received.map((x) => x.at - t0);
    expect(a).toBeLessThan(1_000);
    expect(b).toBeLessThan(1_000);
    expect(c).toBeGreaterThanOrEqual(4_000);
    expect(c).toBeLessThanOrEqual(6_100);

    const list = await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries?status=succeeded`));
    expect(list.items).toHaveLength(1);
    const detail = await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries/${list.items[0].id}`));
    expect(detail.attemptLog.map((x: any) => x.status)).toEqual([500, 500, 200]);
    expect(detail.attemptLog[0]).toMatchObject({ durationMs: expect.any(Number), response: "" });
  });

  it("an issue's next event waits while its first is retried; another issue's event goes on", async () => {
    const r = receiver();
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p], payload: "thin" });
    await change(p, "issue-A");
    await change(p, "issue-A", "issue.updated", { changes: { title: { before: "a", after: "b" } } });
    await change(p, "issue-B");
    let aFailures = 0;
    r.answer = (got) => (got.json.data.issue.id === "issue-A" && got.json.type === "issue.created" && aFailures++ < 2 ? { status: 503 } : { status: 204 });

    await rounds(sub.id, 3);
    // A's first failed twice (the first attempt and the immediate retry); B went; A's second waited.
    expect(r.received.map((x) => `${x.json.data.issue.id}/${x.json.type}`)).toEqual(["issue-A/issue.created", "issue-B/issue.created", "issue-A/issue.created"]);

    advance(6_100);
    await rounds(sub.id, 3);
    expect(r.received.map((x) => `${x.json.data.issue.id}/${x.json.type}`)).toEqual([
      "issue-A/issue.created",
      "issue-B/issue.created",
      "issue-A/issue.created",
      "issue-A/issue.created",
      "issue-A/issue.updated",
    ]);
    const [created, updated] = [r.received[3]!.json.data, r.received[4]!.json.data];
    expect(updated.previousPosition).toBe(created.position);
    expect(created.previousPosition).toBeNull();
    expect(updated.changedFields).toEqual(["title"]);
  });

  it("429 with Retry-After: 120 sends nothing before 120 s have passed", async () => {
    const r = receiver();
    r.script.push({ status: 429, headers: { "retry-after": "120" } });
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    await change(p, "issue-429");
    await round(sub.id);
    expect(r.received).toHaveLength(1);
    for (const step of [0, 5_000, 60_000, 54_000]) {
      advance(step);
      await round(sub.id);
      expect(r.received).toHaveLength(1);
    }
    advance(1_100);
    await round(sub.id);
    expect(r.received).toHaveLength(2);
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(120_000);
  });

  it("410 Gone disables the subscription; enabling it resumes the pending event", async () => {
    const r = receiver();
    r.script.push({ status: 410 });
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    await change(p, "issue-g");
    await round(sub.id);
    const after = await json(await api(`/api/v1/subscriptions/${sub.id}`));
    expect(after).toMatchObject({ enabled: false, disabledReason: "gone" });
    advance(3_600_000);
    await rounds(sub.id, 2);
    expect(r.received).toHaveLength(1);
    const feed = await json(await api(`/api/v1/activity?kind=subscription.disabled&limit=500`));
    expect(feed.items.some((e: any) => e.detail.includes(sub.id))).toBe(true);

    expect((await api(`/api/v1/subscriptions/${sub.id}/enable`, { method: "POST" })).status).toBe(200);
    await round(sub.id);
    expect(r.received).toHaveLength(2);
    expect(r.received[1]!.id).toBe(r.received[0]!.id);
  });

  it("after the last attempt the delivery is failed with a subscription.delivery_failed entry, and a redelivery sends it again", async () => {
    const r = receiver();
    r.answer = () => ({ status: 500, body: "x".repeat(5_000) });
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    await change(p, "issue-dead");
    await round(sub.id);
    for (let i = 0; i < 10; i++) {
      advance(13 * 3_600_000);
      await round(sub.id);
    }
    expect(r.received).toHaveLength(9);
    const failed = await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries?status=failed`));
    expect(failed.items).toHaveLength(1);
    const detail = await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries/${failed.items[0].id}`));
    expect(detail.attemptLog).toHaveLength(9);
    expect(detail.attemptLog[0].response).toHaveLength(1_024);
    const all = await json(await api(`/api/v1/activity?kind=subscription.delivery_failed&limit=500`));
    expect(all.items.filter((e: any) => e.projectId === p && e.issueId === "issue-dead")).toHaveLength(1);

    r.answer = () => ({ status: 200 });
    const res = await api(`/api/v1/subscriptions/${sub.id}/deliveries/${failed.items[0].id}/redeliver`, { method: "POST" });
    expect(res.status).toBe(202);
    await round(sub.id);
    expect(r.received).toHaveLength(10);
    expect(new Set(r.ids()).size).toBe(1);
    expect((await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries/${failed.items[0].id}`))).status).toBe("succeeded");
  });

  it("disables a subscription only after 5 days of nothing but failures", async () => {
    const r = receiver();
    r.answer = () => ({ status: 502 });
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    for (let day = 0; day < 5; day++) {
      await change(p, `issue-day-${day}`);
      await round(sub.id);
      expect((await json(await api(`/api/v1/subscriptions/${sub.id}`))).enabled).toBe(true);
      advance(24 * 3_600_000 - 60_000);
    }
    // Five days minus five minutes have passed: 400 s more make it five days since the first failure.
    advance(400_000);
    await change(p, "issue-day-5");
    await round(sub.id);
    expect(await json(await api(`/api/v1/subscriptions/${sub.id}`))).toMatchObject({ enabled: false, disabledReason: "failing" });
  });
});

describe("replay and duplicates", () => {
  it("a replay sends the same event ids again, in order per issue", async () => {
    const r = receiver();
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    await change(p, "issue-1");
    await change(p, "issue-2");
    await change(p, "issue-1", "issue.updated", { changes: { state: { before: "open", after: "closed" } } });
    await change(p, "issue-1", "issue.updated", { changes: { state: { before: "closed", after: "open" } } });
    await rounds(sub.id, 3);
    const first = r.received.map((x) => ({ id: x.id, issue: x.json.data.issue.id, type: x.json.type, position: x.json.data.position, previous: x.json.data.previousPosition }));
    expect(first.map((e) => e.type)).toEqual(["issue.created", "issue.created", "issue.closed", "issue.reopened"]);

    const from = String(first[0]!.position - 1);
    const res = await api(`/api/v1/subscriptions/${sub.id}/replay`, { method: "POST", body: { after: from } });
    expect(res.status).toBe(202);
    expect(await json(res)).toMatchObject({ events: 4, continueAfter: null });
    await rounds(sub.id, 4);
    const again = r.received.slice(4).map((x) => ({ id: x.id, issue: x.json.data.issue.id, type: x.json.type, position: x.json.data.position, previous: x.json.data.previousPosition }));
    expect(new Set(again.map((e) => e.id))).toEqual(new Set(first.map((e) => e.id)));
    const perIssue = (list: typeof first, issue: string) => list.filter((e) => e.issue === issue);
    expect(perIssue(again, "issue-1")).toEqual(perIssue(first, "issue-1"));
    expect(perIssue(again, "issue-2")).toEqual(perIssue(first, "issue-2"));

    // A time window replays what happened in it.
    const windowed = await json(
      await api(`/api/v1/subscriptions/${sub.id}/replay`, { method: "POST", body: { since: new Date(Date.now() - 60_000).toISOString(), eventTypes: ["issue.closed"] } }),
    );
    expect(windowed.events).toBe(1);
  });

  it("a duplicated queue message makes one attempt", async () => {
    const r = receiver();
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    await change(p, "issue-dup");
    const message = { type: "events", subscriptionId: sub.id };
    const batch = createMessageBatch("syndarix-sync-jobs", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: message },
      { id: "m1", timestamp: new Date(), attempts: 1, body: message },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<any>, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.length).toBe(2);
    expect(r.received).toHaveLength(1);
    // And again later (a redelivered message): still nothing more.
    await worker.queue(createMessageBatch("syndarix-sync-jobs", [{ id: "m1", timestamp: new Date(), attempts: 2, body: message }]) as MessageBatch<any>, env);
    expect(r.received).toHaveLength(1);
  });

  it("a crash between the send and its record repeats the event with the same id once the claim's lease runs out", async () => {
    const r = receiver();
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    await change(p, "issue-crash");
    // The receiver got the event but has not answered when the dispatcher dies: nothing is recorded.
    r.onReceive = () => {
      r.onReceive = null;
      return new Promise<void>(() => undefined);
    };
    const dying = round(sub.id).catch(() => "aborted");
    await vi.waitFor(() => expect(r.received).toHaveLength(1));
    await abortAllDurableObjects();
    await dying;
    await round(sub.id);
    expect(r.received).toHaveLength(1); // claimed: not sent again while the lease holds
    advance(61_000);
    await round(sub.id);
    expect(r.received).toHaveLength(2);
    expect(r.received[1]!.id).toBe(r.received[0]!.id);
    const list = await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries?status=succeeded`));
    expect(list.items).toHaveLength(1);
  });

  it("the cron sweep wakes every enabled subscription through the queue", async () => {
    const r = receiver();
    const sub = await subscribe(r);
    const send = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), env);
    const sent = send.mock.calls.flatMap(([messages]) => [...messages].map((m) => m.body as any));
    expect(sent).toContainEqual({ type: "events", subscriptionId: sub.id });
    send.mockRestore();
  });
});

describe("imports", () => {
  it("expands an import summary into one issue.created per listed issue, each with its own event id", async () => {
    const r = receiver();
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p], eventTypes: ["issue.created"], payload: "thin" });
    const ids = Array.from({ length: 60 }, (_, i) => `imported-${i}`);
    await change(p, null, "issue.imported", { detail: JSON.stringify({ issueIds: ids.slice(0, 30) }) });
    await change(p, null, "issue.imported", { detail: JSON.stringify({ issueIds: ids.slice(30) }) });
    await rounds(sub.id, 5);
    expect(r.received).toHaveLength(60);
    expect(r.received.map((x) => x.json.data.issue.id).sort()).toEqual([...ids].sort());
    expect(new Set(r.ids()).size).toBe(60);
    expect(r.received.every((x) => x.json.type === "issue.created" && x.json.data.previousPosition === null)).toBe(true);
  });
});

describe("URL rules", () => {
  const refused = [
    "http://example.com/hook",
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://2130706433/hook",
    "https://0x7f000001/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[fd00::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://localhost/hook",
    "https://user:pass@example.com/hook",
    "ftp://example.com/hook",
  ];
  it.each(refused)("refuses %s with 422 naming the url", async (url) => {
    const problem = await expectProblem(await api("/api/v1/subscriptions", { method: "POST", body: { url, eventTypes: ["issue.*"] } }), 422);
    expect(problem.errors?.map((e) => e.field)).toContain("url");
  });

  it("refuses an unknown event type with 422, and a bad URL on PATCH", async () => {
    const problem = await expectProblem(await api("/api/v1/subscriptions", { method: "POST", body: { url: "https://example.com/h", eventTypes: ["issue.exploded"] } }), 422);
    expect(problem.errors?.map((e) => e.field)).toEqual(["eventTypes[0]"]);
    const sub = await subscribe(receiver());
    const patch = await expectProblem(await api(`/api/v1/subscriptions/${sub.id}`, { method: "PATCH", body: { url: "https://10.0.0.1/" } }), 422);
    expect(patch.errors?.map((e) => e.field)).toEqual(["url"]);
    await expectProblem(await api("/api/v1/subscriptions", { method: "POST", body: { url: 5, eventTypes: [] } }), 400);
  });

  it("accepts plain http:// only for a host in ALLOW_INSECURE_TRACKER_HOSTS", async () => {
    const res = await api("/api/v1/subscriptions", { method: "POST", body: { url: "http://plain-http-tracker.test/hook", eventTypes: ["issue.*"] } });
    expect(res.status).toBe(201);
  });

  it("checks the URL again before each send: a stored internal URL is never fetched", async () => {
    const r = receiver();
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    await updateSubscription(database(env.DB), sub.id, { url: "https://169.254.169.254/latest" });
    await change(p, "issue-ssrf");
    await round(sub.id);
    expect(r.received).toHaveLength(0);
    const list = await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries`));
    const detail = await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries/${list.items[0].id}`));
    expect(detail.attemptLog[0]).toMatchObject({ status: null, error: expect.stringContaining("URL refused") });
  });

  it("does not follow a redirect: it is a failed attempt", async () => {
    const r = receiver();
    r.script.push({ status: 307, headers: { location: "https://169.254.169.254/" } });
    const p = projectId();
    const sub = await subscribe(r, { projectIds: [p] });
    await change(p, "issue-redirect");
    await round(sub.id);
    expect(r.received).toHaveLength(1);
    const list = await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries?status=pending`));
    expect(list.items[0]).toMatchObject({ lastStatus: 307, lastError: expect.stringContaining("redirect") });
  });
});

describe("API", () => {
  it("a read token lists subscriptions but cannot create, change or replay", async () => {
    const sub = await subscribe(receiver());
    expect((await api("/api/v1/subscriptions", { token: READ_TOKEN })).status).toBe(200);
    expect((await api(`/api/v1/subscriptions/${sub.id}/deliveries`, { token: READ_TOKEN })).status).toBe(200);
    await expectProblem(await api("/api/v1/subscriptions", { method: "POST", token: READ_TOKEN, body: { url: "https://example.com/", eventTypes: ["issue.*"] } }), 403);
    await expectProblem(await api(`/api/v1/subscriptions/${sub.id}/replay`, { method: "POST", token: READ_TOKEN, body: { after: "0" } }), 403);
    await expectProblem(await api(`/api/v1/subscriptions/${sub.id}`, { method: "DELETE", token: READ_TOKEN }), 403);
  });

  it("patches, deletes (404 afterwards) and is described in /openapi.json", async () => {
    const sub = await subscribe(receiver());
    const patched = await json(await api(`/api/v1/subscriptions/${sub.id}`, { method: "PATCH", body: { description: "triage bot", eventTypes: ["comment.*", "issue.closed"], enabled: false } }));
    expect(patched).toMatchObject({ description: "triage bot", eventTypes: ["comment.*", "issue.closed"], enabled: false, disabledReason: "manual" });
    expect((await api(`/api/v1/subscriptions/${sub.id}`, { method: "DELETE" })).status).toBe(204);
    await expectProblem(await api(`/api/v1/subscriptions/${sub.id}`), 404);
    const doc = await json(await api("/openapi.json", { token: null }));
    for (const path of ["/api/v1/subscriptions", "/api/v1/subscriptions/{subscriptionId}/replay", "/api/v1/subscriptions/{subscriptionId}/deliveries/{deliveryId}/redeliver"]) {
      expect(doc.paths[path]).toBeDefined();
    }
  });

  it("a full payload carries the issue as the API shows it; a value over 16 KiB is left out", async () => {
    const r = receiver();
    const project = await createProject({ repository: `octocat/events-${crypto.randomUUID().slice(0, 6)}` });
    const sub = await subscribe(r, { projectIds: [project.id], eventTypes: ["issue.created"] });
    const small = await json(await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body: { title: "small", body: "hello" } }));
    const big = await json(await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body: { title: "big", body: "é".repeat(9_000) } }));
    await rounds(sub.id, 2);
    const byTitle = new Map(r.received.map((x) => [x.json.data.issue.title, x.json.data]));
    expect(byTitle.get("small")).toMatchObject({ issue: { id: small.id, title: "small", body: "hello", state: "open" }, source: "api", actor: "default" });
    expect(byTitle.get("big")!.issue).toMatchObject({ id: big.id, title: "big", bodyOmitted: true });
    expect(byTitle.get("big")!.issue.body).toBeUndefined();
  });
});
