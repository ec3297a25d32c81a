/**
 * Event subscriptions and the stream of every project across two D1 shards (`DB` is shard 0,
 * `DB_SHARD_1` shard 1): a subscriber hears every shard's changes once, in order per issue, with
 * shard-qualified positions (shard 0's unchanged); `GET /activity` without a project merges the shards
 * behind one cursor.
 */
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { recordActivity, type ActivityKind } from "../../src/db/activity";
import { database } from "../../src/db/client";
import { FakeReceiver } from "../fakes/fake-receiver";
import { api, expectProblem, json } from "../support/api";
import { projectWithTracker, routeToFake, syncAndWait } from "../support/trackers";

const SPAN = 1_000_000_000_000;

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

/** Dispatcher rounds run now, as the queue's wake runs them. */
async function rounds(id: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await stub(id).deliver(id);
}

const shardDb = (shard: number) => database(shard === 0 ? env.DB : env.DB_SHARD_1);

/** A change as the product records it in a shard's activity stream (the outbox). */
async function change(shard: number, projectId: string, issueId: string | null, createdAt: string, kind: ActivityKind = "issue.created"): Promise<void> {
  await recordActivity(shardDb(shard), [{ projectId, issueId, kind, origin: { source: "api", actor: "default" }, createdAt }]);
}

async function lastSeq(shard: number, projectId: string): Promise<number> {
  const d1 = shard === 0 ? env.DB : env.DB_SHARD_1;
  return (await d1.prepare("select max(seq) as s from activity where project_id = ?").bind(projectId).first<{ s: number }>())!.s;
}

afterEach(async () => {
  // Nothing may be sent after the test.
  const { items } = await json(await api("/api/v1/subscriptions?limit=500"));
  for (const sub of items) await api(`/api/v1/subscriptions/${sub.id}`, { method: "DELETE" });
});

describe("event subscriptions over every shard", () => {
  it("a subscriber to every project hears a shard-0 and a shard-1 project's changes, each once and in order per issue; more rounds, a replay and a redelivery add no new event", async () => {
    const r = receiver();
    const sub = await subscribe(r);
    const a = await projectWithTracker("github", { name: "Events shard zero" });
    const b = await projectWithTracker("github", { name: "Events shard one", shard: 1 });
    a.fake.store.seed(2);
    b.fake.store.seed(2);
    expect((await Promise.all([syncAndWait(a.project.id), syncAndWait(b.project.id)])).map((run) => run.status)).toEqual(["succeeded", "succeeded"]);
    const bIssues = (await json(await api(`/api/v1/projects/${b.project.id}/issues?limit=10`))).items;
    const edited = bIssues[0];
    expect((await api(`/api/v1/projects/${b.project.id}/issues/${edited.id}`, { method: "PATCH", body: { title: "edited here" } })).status).toBe(200);

    const mine = () => r.received.filter((x) => x.json.data.projectId === a.project.id || x.json.data.projectId === b.project.id);
    await vi.waitFor(
      async () => {
        await rounds(sub.id, 1);
        // The edit, then the push's answer (syncState back to synced).
        expect(mine()).toHaveLength(6);
      },
      { timeout: 15_000, interval: 50 },
    );
    const ofA = mine().filter((x) => x.json.data.projectId === a.project.id);
    const ofB = mine().filter((x) => x.json.data.projectId === b.project.id);
    expect(ofA.map((x) => x.json.type)).toEqual(["issue.created", "issue.created"]);
    expect(ofB.map((x) => x.json.type).sort()).toEqual(["issue.created", "issue.created", "issue.updated", "issue.updated"]);
    expect(new Set(mine().map((x) => x.id)).size).toBe(6);
    // Signed as before.
    for (const x of mine()) expect(new Webhook(sub.secret).verify(x.body, x.headers)).toMatchObject({ type: x.json.type });
    // Shard 0's positions are its activity seqs, as before; shard 1's are qualified by the shard.
    for (const x of ofA) expect(x.json.data.position).toBeLessThan(SPAN);
    for (const x of ofB) expect(x.json.data.position).toBeGreaterThan(SPAN);
    expect(ofA[0]!.id).toBe(`evt_${ofA[0]!.json.data.position}-0`);
    const [updated, pushed] = ofB.filter((x) => x.json.type === "issue.updated");
    expect(updated!.json.data.source).toBe("api");
    expect(pushed!.json.data.source).toBe("push");
    expect(pushed!.id).toBe(`evt_${SPAN + (await lastSeq(1, b.project.id))}`);
    // In order per issue, each naming the one before.
    const createdOfEdited = ofB.find((x) => x.json.type === "issue.created" && x.json.data.issue.id === edited.id)!;
    expect(ofB.indexOf(createdOfEdited)).toBeLessThan(ofB.indexOf(updated!));
    expect(ofB.indexOf(updated!)).toBeLessThan(ofB.indexOf(pushed!));
    expect(updated!.json.data.previousPosition).toBe(createdOfEdited.json.data.position);
    expect(pushed!.json.data.previousPosition).toBe(updated!.json.data.position);
    // The activity API names the same positions.
    const feed = await json(await api(`/api/v1/projects/${b.project.id}/activity?kind=issue.updated`));
    expect(feed.items.map((i: any) => i.id)).toEqual([String(updated!.json.data.position), String(pushed!.json.data.position)]);

    // Redelivered wakes read nothing twice.
    await rounds(sub.id, 3);
    expect(mine()).toHaveLength(6);
    const firstIds = new Set(mine().map((x) => x.id));

    // A replay of the window sends the same events again (same ids), from both shards.
    const replay = await json(await api(`/api/v1/subscriptions/${sub.id}/replay`, { method: "POST", body: { since: a.project.createdAt, eventTypes: ["issue.*"] } }));
    expect(replay).toMatchObject({ continueAfter: null });
    await vi.waitFor(
      async () => {
        await rounds(sub.id, 1);
        expect(mine()).toHaveLength(12);
      },
      { timeout: 15_000, interval: 50 },
    );
    expect(new Set(mine().map((x) => x.id))).toEqual(firstIds);

    // A replay after a shard-1 position replays that shard from there.
    const fromB = await json(await api(`/api/v1/subscriptions/${sub.id}/replay`, { method: "POST", body: { after: String(createdOfEdited.json.data.position) } }));
    expect(fromB.events).toBe(2);
    await rounds(sub.id, 3);
    expect(mine().slice(12).map((x) => x.id)).toEqual([updated!.id, pushed!.id]);

    // A redelivery sends the one event again, with its id.
    const deliveries = await json(await api(`/api/v1/subscriptions/${sub.id}/deliveries?limit=100`));
    const streamed = deliveries.items.find((d: any) => d.eventId === updated!.id && d.origin === "stream");
    expect((await api(`/api/v1/subscriptions/${sub.id}/deliveries/${streamed.id}/redeliver`, { method: "POST" })).status).toBe(202);
    const before = mine().length;
    await rounds(sub.id, 2);
    expect(mine().slice(before).map((x) => x.id)).toEqual([updated!.id]);
    await rounds(sub.id, 2);
    expect(new Set(mine().map((x) => x.id))).toEqual(firstIds);
  });

  it("a subscription from before shard 1 was read keeps its shard-0 position and reads shard 1 from its creation on: nothing replayed, nothing skipped", async () => {
    const r = receiver();
    const p0 = `proj-${crypto.randomUUID().slice(0, 8)}`;
    const p1 = `proj-${crypto.randomUUID().slice(0, 8)}`;
    await change(1, p1, "issue-before", new Date(Date.now() - 60_000).toISOString());
    const sub = await subscribe(r, { projectIds: [p0, p1] });
    const position = sub.position;
    // As a subscription created before the shard cursors existed: no row for shard 1.
    await env.DB.prepare("delete from subscription_shard_cursors where subscription_id = ?").bind(sub.id).run();

    await change(0, p0, "issue-zero", new Date().toISOString());
    await change(1, p1, "issue-one", new Date().toISOString());
    await rounds(sub.id, 2);
    expect(r.received.map((x) => x.json.data.issue.id).sort()).toEqual(["issue-one", "issue-zero"]);
    const zero = r.received.find((x) => x.json.data.issue.id === "issue-zero")!;
    expect(zero.id).toBe(`evt_${await lastSeq(0, p0)}`);
    expect(zero.json.data.position).toBe(await lastSeq(0, p0));
    expect(zero.json.data.position).toBeGreaterThan(position);

    // Later rounds keep both positions: one more change per shard, one more event each.
    await change(1, p1, "issue-one-b", new Date().toISOString());
    await rounds(sub.id, 2);
    expect(r.received.map((x) => x.json.data.issue.id)).toHaveLength(3);
    expect(r.received[2]!.json.data.issue.id).toBe("issue-one-b");
    expect((await json(await api(`/api/v1/subscriptions/${sub.id}`))).position).toBe(zero.json.data.position);
  });

  it("a replay position naming a shard the deployment lacks is refused, naming the field", async () => {
    const sub = await subscribe(receiver());
    const problem = await expectProblem(await api(`/api/v1/subscriptions/${sub.id}/replay`, { method: "POST", body: { after: String(7 * SPAN) } }), 422);
    expect(problem.errors![0]!.field).toBe("after");
  });
});

describe("the activity stream of every project", () => {
  /** Every page of the merged stream after `after`, limit 2, and the last tail cursor. */
  async function readAll(after: string | null, query = ""): Promise<{ items: any[]; tail: string | null; pages: number }> {
    const items: any[] = [];
    let cursor = after;
    let tail: string | null = after;
    let pages = 0;
    for (;;) {
      const page = await json(await api(`/api/v1/activity?limit=2${query}${cursor ? `&after=${encodeURIComponent(cursor)}` : ""}`));
      pages++;
      items.push(...page.items);
      tail = page.tailCursor;
      if (page.nextCursor === null) break;
      expect(page.items).toHaveLength(2);
      cursor = page.nextCursor;
    }
    return { items, tail, pages };
  }

  it("pages through both shards' entries, each once, by time then shard, with nextCursor null at the end and a tail that yields only newer entries", async () => {
    const p0 = `proj-${crypto.randomUUID().slice(0, 8)}`;
    const p1 = `proj-${crypto.randomUUID().slice(0, 8)}`;
    const base = Date.UTC(2099, 0, 1);
    const at = (s: number) => new Date(base + s * 1000).toISOString();
    // Interleaved in time across the shards; the same second in both shards goes shard 0 first.
    await change(1, p1, "i-1", at(1));
    await change(0, p0, "i-2", at(2));
    await change(1, p1, "i-3", at(3));
    await change(1, p1, "i-4", at(3));
    await change(0, p0, "i-5", at(3));
    await change(0, p0, "i-6", at(4));
    const mine = (items: any[]) => items.filter((i) => i.projectId === p0 || i.projectId === p1).map((i) => i.issueId);

    const all = await readAll(null);
    expect(mine(all.items)).toEqual(["i-1", "i-2", "i-5", "i-3", "i-4", "i-6"]);
    expect(new Set(all.items.map((i) => i.id)).size).toBe(all.items.length);
    expect(all.tail).toMatch(/^c/);
    const ids = Object.fromEntries(all.items.filter((i) => i.projectId === p0 || i.projectId === p1).map((i) => [i.issueId, i.id]));
    expect(Number(ids["i-1"])).toBeGreaterThan(SPAN);
    expect(Number(ids["i-2"])).toBeLessThan(SPAN);

    // The live tail: only what was recorded since, from both shards.
    const quiet = await json(await api(`/api/v1/activity?after=${encodeURIComponent(all.tail!)}`));
    expect(quiet).toMatchObject({ items: [], nextCursor: null, tailCursor: all.tail });
    await change(0, p0, "i-7", at(5));
    await change(1, p1, "i-8", at(6));
    const later = await readAll(all.tail);
    expect(mine(later.items)).toEqual(["i-7", "i-8"]);

    // An entry's id resumes right after it in the merged order.
    expect(mine((await readAll(ids["i-5"]!)).items)).toEqual(["i-3", "i-4", "i-6", "i-7", "i-8"]);
    expect(mine((await readAll(ids["i-3"]!)).items)).toEqual(["i-4", "i-6", "i-7", "i-8"]);

    // Filters apply in every shard.
    expect(mine((await readAll(null, `&issueId=i-4`)).items)).toEqual(["i-4"]);
  });

  it("refuses a cursor it did not issue, naming after", async () => {
    for (const after of ["cnot-a-cursor!", "c" + btoa("0:1,x"), "zzz", "-1"]) {
      expect((await expectProblem(await api(`/api/v1/activity?after=${encodeURIComponent(after)}`), 400)).errors![0]!.field).toBe("after");
    }
  });
});
