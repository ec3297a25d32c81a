/** Shared by the webhooks*.test.ts files: delivering signed webhooks and waiting for them to apply. */
import { sign } from "@octokit/webhooks-methods";
import { env, exports } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { FakeWebhook } from "../fakes/fake-tracker";
import { SECRET_TOKEN, SECRET_WEBHOOK } from "../support/api";

const ORIGIN = "http://sync.test";

/** Posts to the webhook edge; every answer is checked never to carry a secret. */
export async function postWebhook(path: string, init: { headers?: Record<string, string>; body?: BodyInit | null } = {}): Promise<Response> {
  const res = await exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: "POST", headers: init.headers, body: init.body ?? null }));
  const text = await res.text();
  expect(text).not.toContain(SECRET_WEBHOOK);
  expect(text).not.toContain(SECRET_TOKEN);
  return new Response(text, { status: res.status, headers: res.headers });
}

/** Sends a delivery built by a fake tracker to the project's webhook URL. */
export function deliver(project: { id: string; provider: string }, hook: FakeWebhook): Promise<Response> {
  return postWebhook(`/webhooks/${project.provider}/${project.id}`, { headers: hook.headers, body: hook.body });
}

/** A GitHub delivery signed with @octokit/webhooks-methods (the reference implementation). */
export async function githubDelivery(
  event: string,
  payload: unknown,
  options: { secret?: string; deliveryId?: string; keepRepository?: boolean } = {},
): Promise<FakeWebhook> {
  // GitHub's example payloads name their own repositories (Codertocat/Hello-World, octo-org/…);
  // the test projects watch the fakes' acme/widgets, and a delivery for another repository is
  // ignored (issue 11), so the examples are addressed to it unless a test says otherwise.
  const addressed = options.keepRepository ? payload : toTestRepository(payload);
  const body = JSON.stringify(addressed);
  return {
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/f1aa6a4",
      "x-github-event": event,
      "x-github-delivery": options.deliveryId ?? crypto.randomUUID(),
      "x-hub-signature-256": await sign(options.secret ?? SECRET_WEBHOOK, body),
    },
    body,
    rawBody: new TextEncoder().encode(body),
    payload: addressed as Record<string, unknown>,
  };
}

function toTestRepository(payload: unknown): unknown {
  const record = payload as Record<string, unknown> | null;
  if (!record || typeof record !== "object" || !record.repository || typeof record.repository !== "object") return payload;
  return { ...record, repository: { ...(record.repository as Record<string, unknown>), id: 4242, full_name: "acme/widgets" } };
}

export async function accepted(res: Response): Promise<string> {
  const text = await res.text();
  if (res.status !== 202) throw new Error(`expected 202, got ${res.status}: ${text}`);
  const body = JSON.parse(text) as { status: string; id: string };
  expect(body.status).toBe("accepted");
  return body.id;
}

export interface DeliveryState {
  status: string;
  attempts: number;
  error: string | null;
}

export async function deliveryRow(id: string): Promise<DeliveryState | null> {
  return env.DB.prepare("select status, attempts, error from webhook_deliveries where id = ?").bind(id).first<DeliveryState>();
}

/** Waits until the queue consumer and the Durable Object have finished with the delivery. */
export async function waitProcessed(id: string): Promise<DeliveryState> {
  return vi.waitFor(
    async () => {
      const row = await deliveryRow(id);
      if (!row || row.status === "received") throw new Error(`delivery ${id} not processed yet`);
      return row;
    },
    { timeout: 10_000, interval: 20 },
  );
}

/** Delivers and waits for the apply; returns the delivery's row id. */
export async function deliverAndApply(project: { id: string; provider: string }, hook: FakeWebhook): Promise<string> {
  const id = await accepted(await deliver(project, hook));
  const row = await waitProcessed(id);
  expect(row.status).toBe("applied");
  return id;
}

export interface StoredIssue {
  id: string;
  title: string;
  body: string;
  state: string;
  labels: string[];
  assignees: string[];
  milestone: string | null;
  external_id: string;
  external_updated_at: string;
  sync_state: string;
  sync_error: string | null;
  version: number;
}

export async function storedIssues(projectId: string): Promise<StoredIssue[]> {
  const { results } = await env.DB.prepare("select * from issues where project_id = ? order by id").bind(projectId).all<Record<string, unknown>>();
  return results.map((r) => ({
    ...(r as unknown as StoredIssue),
    labels: JSON.parse(String(r.labels)) as string[],
    assignees: JSON.parse(String(r.assignees)) as string[],
  }));
}

export async function countRows(table: "webhook_deliveries" | "events" | "issues", projectId: string): Promise<number> {
  const row = await env.DB.prepare(`select count(*) as n from ${table} where project_id = ?`).bind(projectId).first<{ n: number }>();
  return row!.n;
}
