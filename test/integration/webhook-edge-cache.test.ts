import examples from "@octokit/webhooks-examples";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { sealProjectSecret } from "../../src/crypto";
import { database } from "../../src/db/client";
import { deleteProject } from "../../src/db/projects";
import { api, expectProblem, json, SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker } from "../support/trackers";
import { accepted, countRows, deliver, githubDelivery, waitProcessed } from "./webhooks.support";

/**
 * The webhook edge caches each project's secret per isolate (src/http/webhook-projects.ts). These
 * tests warm that cache with a delivery, then change the project the way another isolate would (in
 * D1 directly, the cache untouched) and the way this one does (through the API).
 */
const opened = ((examples.find((d) => d.name === "issues")?.examples ?? []) as Record<string, any>[]).find((p) => p.action === "opened")!;

async function warmProject() {
  const { project } = await projectWithTracker("github", {}, { webhookSecret: SECRET_WEBHOOK });
  // One delivery verified against the secret loaded from D1: the cache now holds it.
  const ping = await deliver(project, await githubDelivery("ping", { zen: "warm", hook_id: 1 }));
  expect(ping.status).toBe(200);
  expect((await json(ping)).status).toBe("ignored");
  return project;
}

/** Rotates the webhook secret in D1 only, as a PATCH handled by another isolate would. */
async function rotateElsewhere(projectId: string, secret: string): Promise<void> {
  const row = await env.DB.prepare("select api_base_url as base from projects where id = ?").bind(projectId).first<{ base: string }>();
  const enc = await sealProjectSecret(env.TOKEN_ENCRYPTION_KEY, projectId, "webhookSecret", secret, new URL(row!.base).origin);
  await env.DB.prepare("update projects set webhook_secret_enc = ? where id = ?").bind(enc, projectId).run();
}

describe("webhook edge: cached project and secret", () => {
  it("a warm delivery makes exactly one D1 round trip", async () => {
    const project = await warmProject();
    const proto = Object.getPrototypeOf(env.DB) as { prepare: (...a: unknown[]) => unknown; batch: (...a: unknown[]) => unknown };
    const prepare = vi.spyOn(proto, "prepare");
    const batch = vi.spyOn(proto, "batch");
    let res: Response;
    let d1Calls: number;
    try {
      res = await deliver(project, await githubDelivery("issues", opened));
      // Calls made by the edge itself (the queue consumer applies after the answer).
      d1Calls = prepare.mock.calls.length + batch.mock.calls.length;
    } finally {
      prepare.mockRestore();
      batch.mockRestore();
    }
    expect(res.status).toBe(202);
    expect(d1Calls).toBe(1);
    await waitProcessed((await json(res)).id);
  });

  it("a secret rotated in another isolate stops verifying at once; the new one verifies", async () => {
    const project = await warmProject();
    await rotateElsewhere(project.id, "rotated-secret");
    await expectProblem(await deliver(project, await githubDelivery("issues", opened)), 401);
    expect(await countRows("webhook_deliveries", project.id)).toBe(1); // the warm-up ping only
    const id = await accepted(await deliver(project, await githubDelivery("issues", opened, { secret: "rotated-secret" })));
    await waitProcessed(id);
    // And the old secret keeps failing now that the new one is cached.
    await expectProblem(await deliver(project, await githubDelivery("issues", opened)), 401);
  });

  it("a secret rotated through the API stops verifying at once", async () => {
    const project = await warmProject();
    const res = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { webhookSecret: "patched-secret-of-twenty-plus-chars" } });
    expect(res.status).toBe(200);
    await expectProblem(await deliver(project, await githubDelivery("issues", opened)), 401);
    await accepted(await deliver(project, await githubDelivery("issues", opened, { secret: "patched-secret-of-twenty-plus-chars" })));
  });

  it("a project deleted in another isolate stops accepting at once and nothing of it is stored", async () => {
    const project = await warmProject();
    expect(await deleteProject(database(env.DB), project.id)).toBe(true);
    const res = await deliver(project, await githubDelivery("issues", opened));
    await expectProblem(res, 404);
    expect(await countRows("webhook_deliveries", project.id)).toBe(0);
    expect(await countRows("issues", project.id)).toBe(0);
  });

  it("a project deleted through the API stops accepting at once", async () => {
    const project = await warmProject();
    expect((await api(`/api/v1/projects/${project.id}`, { method: "DELETE" })).status).toBe(204);
    await expectProblem(await deliver(project, await githubDelivery("issues", opened)), 404);
    expect(await countRows("webhook_deliveries", project.id)).toBe(0);
  });

  it("a delivery accepted just before its project is deleted resurrects nothing", async () => {
    const project = await warmProject();
    await accepted(await deliver(project, await githubDelivery("issues", opened)));
    expect(await deleteProject(database(env.DB), project.id)).toBe(true);
    // Whatever the queue consumer does with the message now, the project stays gone.
    await new Promise((r) => setTimeout(r, 300));
    for (const table of ["webhook_deliveries", "issues", "events"] as const) expect(await countRows(table, project.id)).toBe(0);
    expect(await env.DB.prepare("select count(*) as n from projects where id = ?").bind(project.id).first<number>("n")).toBe(0);
  });

  it("a replayed delivery id still answers 200 duplicate", async () => {
    const project = await warmProject();
    const hook = await githubDelivery("issues", opened);
    await accepted(await deliver(project, hook));
    const res = await deliver(project, hook);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ status: "duplicate" });
  });
});
