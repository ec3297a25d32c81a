/**
 * `POST /webhooks/github-app`: the GitHub App's one webhook URL for every installed repository.
 * Verified with GITHUB_APP_WEBHOOK_SECRET on the raw bytes, deduplicated by `X-GitHub-Delivery`,
 * and routed by `repository.id` (src/sync/github-app-events.ts). Same answers as a project's own
 * webhook: 202 accepted, 200 duplicate or ignored (also for a repository no project syncs).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Env } from "../env";
import { bodyDigest, deliveryIdOf, verifyWebhook } from "../providers";
import { receiveAppDelivery } from "../sync/github-app-events";
import { jsonContent, ProblemSchema } from "./common";
import { problem } from "./problem";
import { validationHook } from "./validation";
import { classify, decodeUtf8, MAX_WEBHOOK_BODY, readLimited } from "./webhooks";

const AppWebhookAnswer = z
  .object({
    status: z.enum(["accepted", "duplicate", "ignored"]),
    id: z.string().optional().openapi({ description: "The stored delivery's id (of the first project it was routed to)" }),
  })
  .openapi("AppWebhookAnswer");

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

const route = createRoute({
  operationId: "receiveGitHubAppWebhook",
  method: "post",
  path: "/github-app",
  tags: ["webhooks"],
  summary: "Receive a GitHub App webhook for every installed repository (the signature is the auth)",
  description: [
    "`X-Hub-Signature-256` with GITHUB_APP_WEBHOOK_SECRET. Deliveries carrying `repository` are routed by `repository.id` to the",
    "projects connected with that installation and repository (a renamed or transferred repository keeps its projects), then",
    "stored and applied like a project's own webhook; a repository no project syncs answers 200 ignored. `installation`",
    "(created, deleted, suspend, unsuspend, new_permissions_accepted) and `installation_repositories` (added, removed) events",
    "pause or resume the installation's projects and answer 202; an uninstall or suspension is applied only once GitHub confirms it",
    "(`GET /app/installations/{id}`), else 200 ignored. Every event's body must have its event's shape (400 otherwise: the event",
    "header is not signed). Deduplicated by `X-GitHub-Delivery` and by the SHA-256 of the body; a delivery from an installation",
    "other than a project's is not routed to it (the project pauses: the repository is in another installation now).",
  ].join(" "),
  security: [],
  request: { body: { required: true, content: { "application/json": { schema: { type: "object" } } } } },
  responses: {
    202: jsonContent(AppWebhookAnswer, "Accepted: stored and queued (repository events) or applied (installation events)"),
    200: jsonContent(AppWebhookAnswer, "Duplicate, or ignored (no project syncs the repository, or an event the product does not act on)"),
    400: { description: "Valid signature, but the body is not a JSON object or lacks a field its event needs", content: problemContent },
    401: { description: "Missing or wrong signature: nothing stored", content: problemContent },
    404: { description: "The Worker has no GitHub App webhook secret configured", content: problemContent },
    413: { description: "Body over 5 MiB", content: problemContent },
    503: { description: "An uninstall or suspension GitHub could not confirm now (GET /app/installations/{id} failed): nothing applied or recorded; redeliver it", content: problemContent },
  },
});

export const githubAppWebhookRouter = new OpenAPIHono<{ Bindings: Env }>({ defaultHook: validationHook });

// Documented from the route config, served by a plain handler: the raw bytes are read by hand.
githubAppWebhookRouter.openAPIRegistry.registerPath(route);

githubAppWebhookRouter.post("/github-app", async (c) => {
  const secret = c.env.GITHUB_APP_WEBHOOK_SECRET;
  if (!secret) return problem(404, "No GitHub App webhook here: GITHUB_APP_WEBHOOK_SECRET is not configured.");
  const tooLarge = () => problem(413, `The webhook body is over ${MAX_WEBHOOK_BODY} bytes.`);
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > MAX_WEBHOOK_BODY) return tooLarge();
  const raw = await readLimited(c.req.raw, MAX_WEBHOOK_BODY);
  if (!raw) return tooLarge();
  if (!(await verifyWebhook("github", c.req.raw.headers, raw, secret))) {
    return problem(401, "The webhook signature is missing or wrong.");
  }

  const classified = classify("github", c.req.raw, decodeUtf8(raw));
  let payload: unknown = null;
  try {
    payload = JSON.parse(classified.json);
  } catch {
    payload = null;
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    const error = classified.status === "failed" ? classified.error : "The body is not a JSON object.";
    return problem(400, error, { errors: [{ field: "(body)", message: error }] });
  }
  const result = await receiveAppDelivery(c.env, {
    deliveryId: await deliveryIdOf("github", c.req.raw.headers, raw),
    event: classified.event,
    action: classified.action ?? (typeof (payload as { action?: unknown }).action === "string" ? (payload as { action: string }).action : null),
    payload: payload as Record<string, unknown>,
    json: classified.json,
    bodySha256: await bodyDigest(raw),
    status: classified.status,
    error: classified.status === "failed" ? classified.error : null,
  });
  switch (result.status) {
    case "accepted":
      return c.json({ status: "accepted" as const, ...(result.id ? { id: result.id } : {}) }, 202);
    case "ignored":
      return c.json({ status: "ignored" as const, ...(result.id ? { id: result.id } : {}) }, 200);
    case "duplicate":
      return c.json({ status: "duplicate" as const }, 200);
    case "too_large":
      return problem(413, "The webhook body is too large to store, even compressed.");
    case "failed":
      return problem(400, result.error, { errors: [{ field: classified.status === "failed" ? classified.field : "(body)", message: result.error }] });
    case "unavailable":
      return problem(503, result.error);
  }
});
