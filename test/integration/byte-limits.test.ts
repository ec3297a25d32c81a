/**
 * D1's limits are bytes: production refuses a string or row over 2,000,000 bytes (local D1 accepts
 * it). Every value the Worker binds is watched here, and every stored row is measured in UTF-8.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, json, SECRET_WEBHOOK } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, deliver, waitProcessed } from "./webhooks.support";

const LIMIT = 2_000_000;
const encoder = new TextEncoder();
const bytes = (v: unknown) => (typeof v === "string" ? encoder.encode(v).byteLength : 0);

/** The largest string bound to any D1 statement (the Worker's and the Durable Object's: one isolate). */
let largestBound = 0;
let restore: () => void = () => {};
beforeAll(() => {
  const proto = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as { bind: (...values: unknown[]) => unknown };
  const bind = proto.bind;
  proto.bind = function (this: unknown, ...values: unknown[]) {
    for (const v of values) largestBound = Math.max(largestBound, bytes(v));
    return bind.apply(this, values);
  };
  restore = () => (proto.bind = bind);
});
afterAll(() => restore());

async function largestStoredRow(projectId: string): Promise<number> {
  const row = await env.DB.prepare(
    `SELECT max(length(CAST(title AS BLOB)) + length(CAST(body AS BLOB)) + coalesce(length(CAST(base AS BLOB)), 0) + length(CAST(labels AS BLOB))) AS n
     FROM issues WHERE project_id = ?`,
  ).bind(projectId).first<{ n: number }>();
  return row!.n;
}

/** CJK text: 3 UTF-8 bytes a character, varied so it does not compress to nothing. */
function cjk(chars: number, seed: number): string {
  let out = "";
  let x = seed;
  for (let i = 0; i < chars; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out += String.fromCharCode(0x4e00 + (x % 0x5000));
  }
  return out;
}

describe("D1 byte limits", () => {
  it("github: a page of 100 CJK issues at GitHub's 65,536-character cap imports, within D1's byte limits, and the cursor moves", async () => {
    largestBound = 0;
    const { fake, project } = await projectWithTracker("github");
    const body = cjk(65_536, 7);
    for (let i = 0; i < 100; i++) fake.seedIssue({ title: `問題 ${i}`, body });
    const run = await syncAndWait(project.id);
    expect(run.status).toBe("succeeded");
    expect(run.stats.created).toBe(100);
    const local = await localByNumber(project.id);
    expect(local.size).toBe(100);
    expect([...local.values()].every((i) => i.body === body)).toBe(true);
    expect(largestBound).toBeLessThan(LIMIT);
    expect(await largestStoredRow(project.id)).toBeLessThan(LIMIT);
    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status.cursor).not.toBeNull();
  });

  it("gitlab: a 1,048,576-character CJK description (~3 MB of UTF-8) imports whole, the row stays under the limit, and the cursor moves", async () => {
    largestBound = 0;
    const { fake, project } = await projectWithTracker("gitlab");
    const big = cjk(1_048_576, 11);
    const seeded = fake.seedIssue({ title: "Large description", body: big });
    fake.seedIssue({ title: "Its small neighbour", body: "small" });
    const run = await syncAndWait(project.id);
    expect(run.status).toBe("succeeded");
    const local = await localByNumber(project.id);
    expect(local.size).toBe(2);
    const stored = await json(await api(`/api/v1/projects/${project.id}/issues/${local.get(seeded.number)!.id}`));
    expect(stored.body.length).toBe(big.length);
    expect(stored.body === big).toBe(true);
    expect(largestBound).toBeLessThan(LIMIT);
    expect(await largestStoredRow(project.id)).toBeLessThan(LIMIT);
    const before = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(before.cursor).not.toBeNull();

    // A tracker edit of another field, and a local edit, keep the large body intact.
    fake.store.edit(seeded.number, { labels: ["big"] });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const after = await json(await api(`/api/v1/projects/${project.id}/issues/${stored.id}`));
    expect(after.labels).toEqual(["big"]);
    expect(after.body === big).toBe(true);
    expect(largestBound).toBeLessThan(LIMIT);
  });

  it("gitlab: a webhook carrying a 1,048,576-character CJK description is stored and applied within the limits", async () => {
    largestBound = 0;
    const { fake, project } = await projectWithTracker("gitlab", {}, { webhookSecret: SECRET_WEBHOOK });
    const big = "说明文字很长。".repeat(149_797) + "末"; // 1,048,580 characters
    const seeded = fake.seedIssue({ title: "Described by webhook", body: big });
    const id = await accepted(await deliver(project, await fake.webhook("open", seeded.number)));
    expect((await waitProcessed(id)).status).toBe("applied");
    const local = await localByNumber(project.id);
    expect(local.get(seeded.number)!.body === big).toBe(true);
    expect(largestBound).toBeLessThan(LIMIT);
    const delivery = await env.DB.prepare("SELECT length(CAST(payload AS BLOB)) AS n FROM webhook_deliveries WHERE id = ?").bind(id).first<{ n: number }>();
    expect(delivery!.n).toBeLessThan(LIMIT);
  });
});
