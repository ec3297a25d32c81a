import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { newId } from "../../src/ids";

/** A queue binding that records what is sent instead of delivering it. */
function recordingQueue() {
  const batches: { body: any }[][] = [];
  return {
    batches,
    send: async (body: any) => void batches.push([{ body }]),
    sendBatch: async (messages: { body: any }[]) => {
      expect(messages.length).toBeLessThanOrEqual(100);
      batches.push([...messages]);
    },
  };
}

async function insertProjects(count: number, enabled: (i: number) => boolean): Promise<string[]> {
  const ids: string[] = [];
  const statements = [];
  for (let i = 0; i < count; i++) {
    const id = newId(Date.now() + i);
    ids.push(id);
    statements.push(
      env.DB.prepare(
        "insert into projects (id, name, provider, api_base_url, repository, sync_direction, sync_enabled, token_enc, webhook_secret_enc) values (?, ?, 'github', 'https://api.github.com', 'o/r', 'inbound', ?, 'v1.x.y', 'v1.x.y')",
      ).bind(id, `p${i}`, enabled(i) ? 1 : 0),
    );
  }
  for (let i = 0; i < statements.length; i += 100) await env.DB.batch(statements.slice(i, i + 100));
  return ids;
}

describe("cron fan-out", () => {
  it("enqueues one incremental job per enabled project, in batches of at most 100, and nothing else", async () => {
    const ids = await insertProjects(1234, (i) => i % 50 !== 0);
    const enabled = ids.filter((_, i) => i % 50 !== 0);
    const sync = recordingQueue();
    const push = recordingQueue();
    await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), { ...env, SYNC_QUEUE: sync as any, PUSH_QUEUE: push as any });
    const sent = sync.batches.flat().map((m) => m.body);
    expect(sync.batches.length).toBe(Math.ceil(enabled.length / 100));
    expect(sent.map((m) => m.projectId).sort()).toEqual([...enabled].sort());
    expect(new Set(sent.map((m) => `${m.type}/${m.mode}/${m.trigger}`))).toEqual(new Set(["sync/incremental/cron"]));
    expect(push.batches).toEqual([]);
    await env.DB.prepare("delete from projects where name like 'p%' and repository = 'o/r'").run();
  });

  it("the daily cron enqueues full runs", async () => {
    const ids = await insertProjects(3, () => true);
    const sync = recordingQueue();
    await worker.scheduled(createScheduledController({ cron: "0 3 * * *", scheduledTime: Date.now() }), { ...env, SYNC_QUEUE: sync as any });
    const sent = sync.batches.flat().map((m) => m.body);
    expect(sent.filter((m) => ids.includes(m.projectId)).map((m) => m.mode)).toEqual(["full", "full", "full"]);
  });

  it("re-sends the push job of an outbox row left pending too long (its first send was lost), unless sync is off", async () => {
    const [projectId, disabledId] = await insertProjects(2, (i) => i === 0);
    const issueId = newId();
    const parkedIssueId = newId();
    const stale = "insert into outbox (id, project_id, issue_id, op, status, updated_at) values (?, ?, ?, 'create', 'pending', '2020-01-01T00:00:00.000Z')";
    await env.DB.batch([env.DB.prepare(stale).bind(newId(), projectId, issueId), env.DB.prepare(stale).bind(newId(), disabledId, parkedIssueId)]);
    const push = recordingQueue();
    await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), { ...env, SYNC_QUEUE: recordingQueue() as any, PUSH_QUEUE: push as any });
    const sent = push.batches.flat().map((m) => m.body);
    expect(sent).toContainEqual({ type: "push", projectId, issueId });
    expect(sent.map((m) => m.issueId)).not.toContain(parkedIssueId);
  });
});

describe("retention", () => {
  it("the daily cron prunes finished history past its retention and keeps what is recent or still going", async () => {
    const { idFloor } = await import("../../src/ids");
    const day = 24 * 60 * 60_000;
    const fortyDaysAgo = idFloor(Date.now() - 40 * day);
    const old = (n: number) => fortyDaysAgo.replace(/0{4}$/, String(1000 + n));
    const recent = newId();
    const projectId = newId();
    const statements = [
      ...[0, 1].map((n) => env.DB.prepare("insert into sync_runs (id, project_id, mode, trigger, status) values (?, ?, 'incremental', 'cron', 'succeeded')").bind(old(n), projectId)),
      env.DB.prepare("insert into sync_runs (id, project_id, mode, trigger, status) values (?, ?, 'full', 'cron', 'running')").bind(old(2), projectId),
      env.DB.prepare("insert into sync_runs (id, project_id, mode, trigger, status) values (?, ?, 'incremental', 'cron', 'succeeded')").bind(recent, projectId),
      env.DB.prepare("insert into webhook_deliveries (id, project_id, provider, delivery_id, event, payload, status) values (?, ?, 'github', 'd1', 'issues', '{}', 'applied')").bind(old(3), projectId),
      env.DB.prepare("insert into webhook_deliveries (id, project_id, provider, delivery_id, event, payload, status) values (?, ?, 'github', 'd2', 'issues', '{}', 'received')").bind(old(4), projectId),
      env.DB.prepare("insert into events (id, project_id, provider, kind, action, data, occurred_at) values (?, ?, 'github', 'push', 'push', '{}', '2020-01-01T00:00:00.000Z')").bind(old(5), projectId),
      env.DB.prepare("insert into outbox (id, project_id, issue_id, op, status, updated_at) values (?, ?, ?, 'update', 'done', '2020-01-01T00:00:00.000Z')").bind(newId(), projectId, newId()),
      env.DB.prepare("insert into outbox (id, project_id, issue_id, op, status, updated_at) values (?, ?, ?, 'update', 'failed', '2020-01-01T00:00:00.000Z')").bind(newId(), projectId, newId()),
    ];
    await env.DB.batch(statements);
    await worker.scheduled(createScheduledController({ cron: "0 3 * * *", scheduledTime: Date.now() }), { ...env, SYNC_QUEUE: recordingQueue() as any });
    const left = async (table: string) =>
      (await env.DB.prepare(`select ${table === "outbox" ? "status" : "id"} as v from ${table} where project_id = ? order by 1`).bind(projectId).all<{ v: string }>()).results.map((r) => r.v);
    expect(await left("sync_runs")).toEqual([old(2), recent]);
    expect(await left("webhook_deliveries")).toEqual([old(4)]);
    expect(await left("events")).toEqual([]);
    expect(await left("outbox")).toEqual(["failed"]);
  });
});
