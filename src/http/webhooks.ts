/**
 * The webhook edge: verify the signature on the raw bytes, dedupe, persist, answer fast; the
 * project's Durable Object applies the delivery later (src/sync/deliveries.ts). Hot path: the
 * project and its secret from the isolate's cache (./webhook-projects.ts), one D1 write (the
 * delivery, conditional on the project still holding that secret), then the answer; the hand-off to
 * the project's Durable Object runs after it (waitUntil), with the queue and the cron sweep behind it.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { projectDatabaseById } from "../db/shards";
import { encodePayload, insertDeliveryIfProjectCurrent, type DeliveryStatus } from "../db/deliveries";
import type { Env } from "../env";
import { newId, nowIso } from "../ids";
import { errorText, log } from "../log";
import { readStreamLimited } from "../streams";
import {
  answersBadPayloadWith2xx,
  bodyDigest,
  deliveryIdOf,
  eventNameOf,
  parseWebhook,
  PROVIDERS,
  verifyWebhook,
  webhookRepository,
  webhookSignatureWellFormed,
  WebhookPayloadError,
  type Provider,
} from "../providers";
import type { ProjectRow } from "../db/schema";
import { requestSoonIncremental } from "../queue/send";
import { handOffDelivery } from "../jobs/handoff";
import { noteForeignDelivery } from "../sync/foreign-deliveries";
import { foreignDeliveryReason } from "../sync/repository";
import { jsonContent, ProblemSchema } from "./common";
import { problem } from "./problem";
import { validationHook } from "./validation";
import { edgeProject, type EdgeProject } from "./webhook-projects";

/** API.md: bodies over 5 MiB are refused. */
export const MAX_WEBHOOK_BODY = 5 * 1024 * 1024;

const WebhookParams = z.object({
  provider: z.string().openapi({ param: { name: "provider", in: "path" }, description: "github | gitlab | gitea (anything else: 404)" }),
  projectId: z.string().openapi({ param: { name: "projectId", in: "path" } }),
});

const WebhookAnswer = z
  .object({
    status: z.enum(["accepted", "duplicate", "ignored", "failed"]),
    id: z.string().optional().openapi({ description: "The stored delivery's id (accepted and ignored deliveries)" }),
  })
  .openapi("WebhookAnswer");

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

const route = createRoute({
  operationId: "receiveWebhook",
  method: "post",
  path: "/{provider}/{projectId}",
  tags: ["webhooks"],
  summary: "Receive a tracker webhook (the signature is the auth)",
  description: [
    "GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` (`sha1=` is refused); Gitea: `X-Gitea-Signature`;",
    "GitLab: `X-Gitlab-Token`. Deduplicated per project by `X-GitHub-Delivery` / `X-Gitea-Delivery` / GitLab `Idempotency-Key`",
    "(else `X-Gitlab-Event-UUID`, else the body's SHA-256). Issue, pull/merge request and push events are accepted (202) and",
    "applied asynchronously: issue events change the local store, all three are written to the event log. Other events",
    "(ping, comments, …) are recorded and answered 200 ignored. JSON bodies, or GitHub/Gitea form bodies (`payload=`).",
    "A valid signature on a body that is not a JSON object, or an issue event missing a field, answers 400 and is recorded as failed.",
  ].join(" "),
  security: [],
  request: {
    params: WebhookParams,
    // Not validated by a schema: the raw bytes are read once, by hand, to check the signature.
    body: { required: true, content: { "application/json": { schema: { type: "object" } } } },
  },
  responses: {
    202: jsonContent(WebhookAnswer, "Accepted: stored and queued for applying"),
    200: jsonContent(WebhookAnswer, "Duplicate (delivery id already seen) or ignored (an event the product does not act on)"),
    400: { description: "Valid signature, but the body is not a JSON object or lacks a field its event needs", content: problemContent },
    401: { description: "Missing or wrong signature / token: nothing stored", content: problemContent },
    404: { description: "Unknown provider or project, or not the project's provider", content: problemContent },
    413: { description: "Body over 5 MiB", content: problemContent },
  },
});

export type Classified =
  | { status: "received" | "ignored"; event: string; action: string | null; json: string; reason?: string }
  | { status: "failed"; event: string; action: null; json: string; error: string; field: string };

/**
 * Decides from the verified body whether the product acts on the delivery. Also extracts the JSON
 * from form-encoded deliveries (GitHub's and Gitea's `payload=` content type).
 */
export function classify(
  provider: Provider,
  request: Request,
  text: string | null,
  project: Pick<ProjectRow, "repository" | "trackerRepositoryId" | "trackerRepositoryName"> | null = null,
): Classified {
  const event = eventNameOf(provider, request.headers) ?? "";
  if (text === null) return { status: "failed", event, action: null, json: "", error: "The body is not valid UTF-8.", field: "(body)" };
  let json = text;
  if (request.headers.get("content-type")?.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    json = new URLSearchParams(text).get("payload") ?? "";
  }
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    return { status: "failed", event, action: null, json: text, error: "The body is not JSON.", field: "(body)" };
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return { status: "failed", event, action: null, json: text, error: "The body is not a JSON object.", field: "(body)" };
  }
  // An organisation/group hook sends other repositories' events here too: recorded, never applied.
  const foreign = project ? foreignDeliveryReason(project, webhookRepository(provider, payload)) : null;
  if (foreign) return { status: "ignored", event, action: null, json, reason: foreign };
  try {
    const normalized = parseWebhook(provider, request.headers, payload);
    const actedOn = normalized.kind !== "other";
    return { status: actedOn ? "received" : "ignored", event, action: normalized.action || null, json };
  } catch (err) {
    if (!(err instanceof WebhookPayloadError)) throw err;
    // The message names the field (`github issues payload: issue.title: …`), never a value.
    return { status: "failed", event, action: null, json, error: err.message, field: err.message.split(": ")[1] ?? "(body)" };
  }
}

/** JSON is UTF-8 (RFC 8259): a body that is not is refused, not stored with U+FFFD in it. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

/** The body, or null once it passes `limit` bytes. */
export async function readLimited(request: Request, limit: number): Promise<Uint8Array | null> {
  const bytes = await readStreamLimited(request.body, limit);
  return bytes === "too_large" ? null : bytes;
}

const unsigned = () => problem(401, "The webhook signature or token is missing or wrong.");
const tooLarge = () => problem(413, `The webhook body is over ${MAX_WEBHOOK_BODY} bytes.`);
const notFound = () => problem(404, "No webhook endpoint here: unknown provider or project, or not the project's provider.");

function isProvider(value: string): value is Provider {
  return (PROVIDERS as readonly string[]).includes(value);
}

export const webhooksRouter = new OpenAPIHono<{ Bindings: Env }>({ defaultHook: validationHook });

// Documented from the route config, but served by a plain handler: the answers are problem+json
// responses built here (no domain error fits 401/413 for a signature), and nothing is schema-validated.
webhooksRouter.openAPIRegistry.registerPath(route);

webhooksRouter.post("/:provider/:projectId", async (c) => {
  const { provider, projectId } = c.req.param();
  if (!isProvider(provider)) return notFound();
  // Cheap refusals first: an unsigned request costs no D1 read, no body read and no decryption.
  if (!webhookSignatureWellFormed(provider, c.req.raw.headers)) return unsigned();
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > MAX_WEBHOOK_BODY) return tooLarge();

  const db = await projectDatabaseById(c.env, projectId);
  let project = await edgeProject(c.env, db, projectId);
  if (!project || project.provider !== provider) return notFound();

  const raw = await readLimited(c.req.raw, MAX_WEBHOOK_BODY);
  if (!raw) return tooLarge();
  const verifies = (p: EdgeProject) => verifyWebhook(provider, c.req.raw.headers, raw, p.secret);
  if (!(await verifies(project))) {
    if (!project.cached) return unsigned();
    // The cached secret may have been rotated (in another isolate): check D1 once before refusing.
    project = await edgeProject(c.env, db, projectId, { fresh: true });
    if (!project || project.provider !== provider) return notFound();
    if (!(await verifies(project))) return unsigned();
  }

  const deliveryId = await deliveryIdOf(provider, c.req.raw.headers, raw);
  const classified = classify(provider, c.req.raw, decodeUtf8(raw), project);
  const payload = await encodePayload(classified.json);
  // Only a body that stays over D1's value limit even gzip-compressed lands here (real JSON does not).
  if (payload === null) return problem(413, "The webhook body is too large to store, even compressed.");

  const status: DeliveryStatus = classified.status;
  const finishedAt = status === "received" ? null : nowIso();
  const row = {
    id: newId(),
    projectId,
    provider,
    deliveryId,
    event: classified.event,
    action: classified.action,
    payload,
    status,
    processedAt: finishedAt,
    error: classified.status === "failed" ? classified.error : (classified.reason ?? null),
    bodySha256: await bodyDigest(raw),
  };
  // The hot path's one D1 round trip. Nothing written means a duplicate, or a project deleted or
  // re-keyed since `project` was read: only then is D1 read again to tell which.
  let id = await insertDeliveryIfProjectCurrent(db, row, project);
  if (id === null) {
    const current = await edgeProject(c.env, db, projectId, { fresh: true });
    if (!current || current.provider !== provider) return notFound();
    if (current.webhookSecretEnc !== project.webhookSecretEnc) {
      if (!(await verifies(current))) return unsigned();
      id = await insertDeliveryIfProjectCurrent(db, row, current);
    }
  }
  if (id === null) return c.json({ status: "duplicate" as const }, 200);
  if (classified.status === "failed" && answersBadPayloadWith2xx(provider)) {
    // GitLab disables a hook that gets 4xx answers: recorded as failed, answered 2xx, and a poll
    // fetches whatever the delivery announced.
    await requestSoonIncremental(c.env, projectId);
    return c.json({ status: "failed" as const, id }, 200);
  }
  if (classified.status === "failed") {
    return problem(400, classified.error, { errors: [{ field: classified.field, message: classified.error }] });
  }
  if (classified.status === "ignored") {
    const foreign = classified.reason;
    if (foreign) {
      c.executionCtx.waitUntil(
        noteForeignDelivery(db, projectId, deliveryId, foreign).catch((err: unknown) => {
          log.error("foreign delivery note failed", { projectId, error: errorText(err, 200) });
        }),
      );
    }
    return c.json({ status: "ignored" as const, id }, 200);
  }

  // The delivery is stored: the answer need not wait for its apply. After answering, the project's
  // Durable Object applies it at once; a failed hand-off falls back to the queue, a lost send to the
  // cron sweep (jobs/sweeps.ts) or a replay.
  c.executionCtx.waitUntil(handOffDelivery(c.env, projectId, id));
  return c.json({ status: "accepted" as const, id }, 202);
});
