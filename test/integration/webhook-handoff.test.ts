/**
 * The edge hands a stored delivery to the project's Durable Object after answering; the queue and the
 * cron sweep stay behind it as the safety net, and applying stays idempotent per delivery.
 */
import examples from "@octokit/webhooks-examples";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { resendStaleDeliveries } from "../../src/jobs/sweeps";
import { api, json, SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker } from "../support/trackers";
import { accepted, countRows, deliver, deliveryRow, githubDelivery, storedIssues, waitProcessed } from "./webhooks.support";

type Payload = Record<string, any>;
const issueExamples = (examples.find((d) => d.name === "issues")?.examples ?? []) as Payload[];
const opened = issueExamples.find((p) => p.action === "opened")!;

/** Twelve `issues.opened` deliveries for distinct issues named "<name> 0".."<name> 11" (ids and numbers from `offset`). */
function burst(name: string, offset: number, deliveryIds?: readonly string[]) {
  const base = opened.issue;
  return Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      githubDelivery(
        "issues",
        { ...opened, issue: { ...base, id: base.id + offset + i, node_id: `I_${name}_${i}`, number: 1000 + offset * 10 + i, title: `${name} ${i}` } },
        deliveryIds ? { deliveryId: deliveryIds[i]! } : {},
      ),
    ),
  );
}

async function githubProject() {
  return (await projectWithTracker("github", {}, { webhookSecret: SECRET_WEBHOOK })).project;
}

/** Makes the next `count` hand-offs find the project's Durable Object unreachable. */
function objectUnreachable(count = 1) {
  const get = vi.spyOn(env.PROJECT_SYNC, "get");
  for (let i = 0; i < count; i++) {
    get.mockImplementationOnce(() => ({ applyDelivery: async () => Promise.reject(new Error("object unreachable")) }) as any);
  }
  return get;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("webhook hand-off to the project's Durable Object", () => {
  it("applies an accepted delivery without a queue message", async () => {
    const project = await githubProject();
    const send = vi.spyOn(env.SYNC_QUEUE, "send");
    const id = await accepted(await deliver(project, await githubDelivery("issues", opened)));
    expect((await waitProcessed(id)).status).toBe("applied");
    expect(send).not.toHaveBeenCalled();
    const issues = await storedIssues(project.id);
    expect(issues).toMatchObject([{ title: opened.issue.title }]);
    // Visible through the API as soon as the delivery is applied.
    const one = await json(await api(`/api/v1/projects/${project.id}/issues/${issues[0]!.id}`));
    expect(one.title).toBe(opened.issue.title);
  });

  it("falls back to the queue when the object cannot be reached, which then applies it", async () => {
    const project = await githubProject();
    objectUnreachable();
    const send = vi.spyOn(env.SYNC_QUEUE, "send");
    const id = await accepted(await deliver(project, await githubDelivery("issues", opened)));
    expect((await waitProcessed(id)).status).toBe("applied");
    expect(send).toHaveBeenCalledWith({ type: "webhook", projectId: project.id, deliveryRowId: id });
    expect(await storedIssues(project.id)).toMatchObject([{ title: opened.issue.title }]);
  });

  it("leaves the delivery received for the sweep when both the hand-off and the queue send fail", async () => {
    const project = await githubProject();
    objectUnreachable();
    const send = vi.spyOn(env.SYNC_QUEUE, "send").mockRejectedValueOnce(new Error("queue unavailable"));
    const id = await accepted(await deliver(project, await githubDelivery("issues", opened)));
    await vi.waitFor(() => expect(send).toHaveBeenCalledTimes(1));
    send.mockRestore();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await deliveryRow(id)).toMatchObject({ status: "received", attempts: 0 });
    expect(await resendStaleDeliveries(env, Date.now() + 16 * 60_000)).toBeGreaterThanOrEqual(1);
    expect((await waitProcessed(id)).status).toBe("applied");
  });

  it("a queued job for a delivery the hand-off already applied changes nothing (applied once)", async () => {
    const project = await githubProject();
    const id = await accepted(await deliver(project, await githubDelivery("issues", opened)));
    expect((await waitProcessed(id)).status).toBe("applied");
    const [before] = await storedIssues(project.id);
    // The sweep's or a lost-then-found queue job for the same row arrives afterwards.
    await env.SYNC_QUEUE.send({ type: "webhook", projectId: project.id, deliveryRowId: id });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await deliveryRow(id)).toMatchObject({ status: "applied", attempts: 1 });
    const [after] = await storedIssues(project.id);
    expect(after!.version).toBe(before!.version);
    expect(await countRows("events", project.id)).toBe(1);
  });

  it("a burst of deliveries for one project is applied completely, each once", async () => {
    const project = await githubProject();
    const hooks = await burst("burst", 0);
    const ids = await Promise.all(hooks.map(async (hook) => accepted(await deliver(project, hook))));
    for (const id of ids) expect((await waitProcessed(id)).status).toBe("applied");
    const issues = await storedIssues(project.id);
    expect(issues.map((i) => i.title).sort()).toEqual(hooks.map((_, i) => `burst ${i}`).sort());
    expect(await countRows("events", project.id)).toBe(12);
  });

  it("a burst for one project is applied in shared turns: the project is loaded fewer times than deliveries arrive", async () => {
    const project = await githubProject();
    // Warm the edge's project cache, so the only project reads left are the Durable Object's.
    expect((await waitProcessed(await accepted(await deliver(project, await githubDelivery("issues", opened))))).status).toBe("applied");
    const hooks = await burst("turn", 100);
    const proto = Object.getPrototypeOf(env.DB) as { prepare: (q: string) => D1PreparedStatement };
    const prepare = proto.prepare;
    let projectLoads = 0;
    const spy = vi.spyOn(proto, "prepare").mockImplementation(function (this: unknown, query: string) {
      if (/^select .* from "projects" where "projects"."id" = \?/i.test(query.trim())) projectLoads++;
      return prepare.call(this, query);
    });
    const ids = await Promise.all(hooks.map(async (hook) => accepted(await deliver(project, hook))));
    for (const id of ids) expect((await waitProcessed(id)).status).toBe("applied");
    spy.mockRestore();
    expect(await countRows("events", project.id)).toBe(13);
    expect(projectLoads).toBeGreaterThan(0);
    expect(projectLoads).toBeLessThan(12);
  });

  it("a turn reads what its deliveries need together: their rows and their issues' deletion proofs in shared queries, and each is still applied once", async () => {
    const project = await githubProject();
    expect((await waitProcessed(await accepted(await deliver(project, await githubDelivery("issues", opened))))).status).toBe("applied");
    const hooks = await burst("reads", 200);
    const proto = Object.getPrototypeOf(env.DB) as { prepare: (q: string) => D1PreparedStatement };
    const prepare = proto.prepare;
    // Reads naming two ids or more: only a shared read of a turn does that (one delivery reads one).
    let sharedDeliveryReads = 0;
    let sharedProofReads = 0;
    const spy = vi.spyOn(proto, "prepare").mockImplementation(function (this: unknown, query: string) {
      if (/from "webhook_deliveries" where .*"webhook_deliveries"\."id" in \(\?, \?/i.test(query)) sharedDeliveryReads++;
      if (/from "issue_tombstones" where .*"issue_tombstones"\."external_id" in \(\?, \?/i.test(query)) sharedProofReads++;
      return prepare.call(this, query);
    });
    const ids = await Promise.all(hooks.map(async (hook) => accepted(await deliver(project, hook))));
    for (const id of ids) expect((await waitProcessed(id)).status).toBe("applied");
    spy.mockRestore();
    expect(sharedDeliveryReads).toBeGreaterThan(0);
    expect(sharedProofReads).toBeGreaterThan(0);
    expect(await countRows("events", project.id)).toBe(13);
    const issues = await storedIssues(project.id);
    expect(issues.filter((i) => i.title.startsWith("reads ")).length).toBe(12);
  });

  it("a burst of plain issue deliveries is merged in shared writes, and every change is still attributed to the delivery that carried it", async () => {
    const project = await githubProject();
    expect((await waitProcessed(await accepted(await deliver(project, await githubDelivery("issues", opened))))).status).toBe("applied");
    const deliveryIds = Array.from({ length: 12 }, () => crypto.randomUUID());
    const hooks = await burst("merged", 300, deliveryIds);
    const proto = Object.getPrototypeOf(env.DB) as { batch: (...a: unknown[]) => Promise<unknown> };
    const realBatch = proto.batch;
    // Batches that insert issue rows carrying several of the burst's issues at once.
    let sharedWrites = 0;
    const spy = vi.spyOn(proto, "batch").mockImplementation(async function (this: unknown, ...args: unknown[]) {
      const statements = (args[0] as { statement?: string }[]) ?? [];
      if (statements.some((st) => /INSERT INTO "issues"/i.test(String(st?.statement ?? "")))) {
        const bound = JSON.stringify(statements.map((st: any) => st?.params ?? st?.values ?? null));
        if (new Set(bound.match(/merged \d+/g) ?? []).size > 1) sharedWrites++;
      }
      return realBatch.apply(this, args);
    });
    const ids = await Promise.all(hooks.map(async (hook) => accepted(await deliver(project, hook))));
    for (const id of ids) expect((await waitProcessed(id)).status).toBe("applied");
    spy.mockRestore();
    expect(sharedWrites).toBeGreaterThan(0);
    expect(await countRows("events", project.id)).toBe(13);
    // Each issue's creation names its own delivery.
    const created = await env.DB.prepare(
      "select a.delivery_id as deliveryId, i.title as title from activity a join issues i on i.id = a.issue_id where a.project_id = ? and a.kind = 'issue.created' and i.title like 'merged %'",
    )
      .bind(project.id)
      .all<{ deliveryId: string; title: string }>();
    expect(created.results).toHaveLength(12);
    for (const row of created.results) expect(row.deliveryId).toBe(deliveryIds[Number(row.title.split(" ")[1])]);
  });
});
