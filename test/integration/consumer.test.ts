import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";

async function consume(queue: string, bodies: unknown[]) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<any>, env);
  return getQueueResult(batch, ctx);
}

describe("queue consumer", () => {
  it("acks malformed messages instead of retrying them forever", async () => {
    const result = await consume("syndarix-sync-jobs", [{ type: "sync" }, "garbage", { type: "webhook", projectId: "" }]);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
    const push = await consume("syndarix-sync-push", [{ type: "push", projectId: 7 }]);
    expect(push.explicitAcks).toEqual(["m0"]);
  });

  it("acks jobs for a project that no longer exists (the Durable Object reports it as data, not a retryable failure)", async () => {
    const missing = "0190f0f0-0000-7000-8000-00000000dead";
    const push = await consume("syndarix-sync-push", [{ type: "push", projectId: missing, issueId: missing }]);
    expect(push.explicitAcks).toEqual(["m0"]);
    expect(push.retryMessages).toEqual([]);
    const sync = await consume("syndarix-sync-jobs", [{ type: "webhook", projectId: missing, deliveryRowId: missing }]);
    expect(sync.explicitAcks).toEqual(["m0"]);
  });
});
