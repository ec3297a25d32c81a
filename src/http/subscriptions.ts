/**
 * Event subscriptions (API.md "Event subscriptions"): dependent services register an endpoint and
 * receive every matching change as a signed Standard Webhooks POST. Admin tokens write; read tokens
 * list (the auth middleware refuses other methods to them). The secret is returned only by create
 * and rotate-secret.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { catalogDatabase } from "../db/shards";
import type { EventAttemptRow, EventDeliveryRow, SubscriptionRow } from "../db/schema";
import { getDelivery, listAttempts, listDeliveries, listSubscriptions } from "../db/subscriptions";
import { eventDispatcher } from "../durable/events-client";
import type { Env } from "../env";
import { NotFound } from "../errors";
import {
  changeSubscription,
  createSubscription,
  enableSubscription,
  queuePing,
  redeliver,
  removeSubscription,
  replay,
  requireSubscription,
  rotateSecret,
} from "../events/subscriptions";
import { EVENT_TYPES } from "../events/types";
import { decodeCursor, IdParam, ProblemSchema, IsoTimestamp, jsonBody, jsonContent, listOf, ListQuery, pageOf, problemResponses } from "./common";
import type { AppEnv } from "./project";
import { validationHook } from "./validation";

const problem422 = { 422: { description: "A field breaks a rule (URL, event type); `errors` names it", content: { "application/problem+json": { schema: ProblemSchema } } } } as const;
const problem409 = { 409: { description: "The subscription is disabled", content: { "application/problem+json": { schema: ProblemSchema } } } } as const;

const EventTypePattern = z
  .string()
  .min(1)
  .max(100)
  .openapi({ description: `An event type (${EVENT_TYPES.join(", ")}) or a family such as \`issue.*\`` });

const SubscriptionSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()),
    projectIds: z.array(z.string()).nullable().openapi({ description: "null: every project" }),
    payload: z.enum(["full", "thin"]),
    enabled: z.boolean(),
    disabledReason: z.enum(["manual", "gone", "failing"]).nullable(),
    disabledAt: IsoTimestamp.nullable(),
    position: z.number().int().openapi({ description: "The last activity position of shard 0 read into deliveries (other shards keep their own, docs/events.md \"Shards\")" }),
    failingSince: IsoTimestamp.nullable(),
    lastSuccessAt: IsoTimestamp.nullable(),
    lastFailureAt: IsoTimestamp.nullable(),
    previousSecretExpiresAt: IsoTimestamp.nullable().openapi({ description: "Until then the previous secret signs too (after a rotation)" }),
    createdAt: IsoTimestamp,
    updatedAt: IsoTimestamp,
  })
  .openapi("Subscription");

const WithSecret = SubscriptionSchema.extend({
  secret: z.string().openapi({ description: "`whsec_<base64>`: shown only now; store it to verify signatures" }),
}).openapi("SubscriptionWithSecret");

function list(json: string | null): string[] | null {
  return json === null ? null : (JSON.parse(json) as string[]);
}

function subscriptionToApi(row: SubscriptionRow): z.infer<typeof SubscriptionSchema> {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: list(row.eventTypes) ?? [],
    projectIds: list(row.projectIds),
    payload: row.payload,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    disabledAt: row.disabledAt,
    position: row.cursor,
    failingSince: row.failingSince,
    lastSuccessAt: row.lastSuccessAt,
    lastFailureAt: row.lastFailureAt,
    previousSecretExpiresAt: row.previousSecretExpiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

const AttemptSchema = z
  .object({
    attemptedAt: IsoTimestamp,
    status: z.number().int().nullable().openapi({ description: "The answer's HTTP status; null when there was none (timeout, network error, URL refused)" }),
    durationMs: z.number().int(),
    response: z.string().nullable().openapi({ description: "The answer's first 1 KiB" }),
    error: z.string().nullable(),
  })
  .openapi("EventAttempt");

const DeliverySchema = z
  .object({
    id: z.string(),
    subscriptionId: z.string(),
    eventId: z.string().openapi({ description: "The `webhook-id` header: the same on every retry, redelivery and replay" }),
    eventType: z.string(),
    origin: z.string().openapi({ description: "`stream` (read from the activity stream), `ping`, or the replay's id" }),
    projectId: z.string().nullable(),
    issueId: z.string().nullable(),
    position: z.number().int(),
    status: z.enum(["pending", "succeeded", "failed"]),
    attempts: z.number().int().openapi({ description: "Attempts in the current round (a redelivery starts a new one)" }),
    nextAttemptAt: IsoTimestamp.nullable(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: IsoTimestamp,
    updatedAt: IsoTimestamp,
    attemptLog: z.array(AttemptSchema).optional().openapi({ description: "Every attempt, oldest first (on the single-delivery route)" }),
    body: z.string().optional().openapi({ description: "The JSON body sent (on the single-delivery route)" }),
  })
  .openapi("EventDelivery");

function deliveryToApi(row: EventDeliveryRow, attempts?: EventAttemptRow[]): z.infer<typeof DeliverySchema> {
  return {
    id: row.id,
    subscriptionId: row.subscriptionId,
    eventId: row.eventId,
    eventType: row.eventType,
    origin: row.origin,
    projectId: row.projectId,
    issueId: row.issueId,
    position: row.position,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    lastStatus: row.lastStatus,
    lastError: row.lastError,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(attempts
      ? {
          body: row.body,
          attemptLog: attempts.map((a) => ({ attemptedAt: a.attemptedAt, status: a.status, durationMs: a.durationMs, response: a.response, error: a.error })),
        }
      : {}),
  };
}

const CreateSubscription = z
  .strictObject({
    url: z.string().min(1).max(2_000),
    description: z.string().max(500).nullable().optional(),
    eventTypes: z.array(EventTypePattern).min(1).max(50),
    projectIds: z.array(z.string().min(1).max(64)).max(500).nullable().optional(),
    payload: z.enum(["full", "thin"]).optional(),
    enabled: z.boolean().optional(),
  })
  .openapi("CreateSubscription");

const UpdateSubscription = CreateSubscription.partial().openapi("UpdateSubscription");

const Replay = z
  .strictObject({
    after: z.string().max(20).optional().openapi({ description: "Replay events after this position (an event's data.position)" }),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    eventTypes: z.array(EventTypePattern).max(50).optional(),
  })
  .openapi("ReplayEvents");

const SubParams = z.object({ subscriptionId: IdParam("subscriptionId") });
const DeliveryParams = SubParams.extend({ deliveryId: IdParam("deliveryId") });
const DeliveryQuery = ListQuery.extend({ status: z.enum(["pending", "succeeded", "failed"]).optional() });

const routes = {
  create: createRoute({
    operationId: "createSubscription",
    method: "post",
    path: "/subscriptions",
    tags: ["subscriptions"],
    summary: "Subscribe an endpoint to events (the signing secret is returned once)",
    request: { body: jsonBody(CreateSubscription) },
    responses: { 201: jsonContent(WithSecret, "The subscription and its secret"), ...problemResponses, ...problem422 },
  }),
  list: createRoute({
    operationId: "listSubscriptions",
    method: "get",
    path: "/subscriptions",
    tags: ["subscriptions"],
    request: { query: ListQuery },
    responses: { 200: jsonContent(listOf(SubscriptionSchema, "SubscriptionList"), "Subscriptions, oldest first"), ...problemResponses },
  }),
  get: createRoute({
    operationId: "getSubscription",
    method: "get",
    path: "/subscriptions/{subscriptionId}",
    tags: ["subscriptions"],
    request: { params: SubParams },
    responses: { 200: jsonContent(SubscriptionSchema, "The subscription"), ...problemResponses },
  }),
  update: createRoute({
    operationId: "updateSubscription",
    method: "patch",
    path: "/subscriptions/{subscriptionId}",
    tags: ["subscriptions"],
    request: { params: SubParams, body: jsonBody(UpdateSubscription) },
    responses: { 200: jsonContent(SubscriptionSchema, "The subscription as changed"), ...problemResponses, ...problem422 },
  }),
  remove: createRoute({
    operationId: "deleteSubscription",
    method: "delete",
    path: "/subscriptions/{subscriptionId}",
    tags: ["subscriptions"],
    request: { params: SubParams },
    responses: { 204: { description: "Deleted with its deliveries" }, ...problemResponses },
  }),
  rotate: createRoute({
    operationId: "rotateSubscriptionSecret",
    method: "post",
    path: "/subscriptions/{subscriptionId}/rotate-secret",
    tags: ["subscriptions"],
    summary: "A new signing secret; for 24 h both sign (two v1 signatures)",
    request: { params: SubParams },
    responses: { 200: jsonContent(WithSecret, "The subscription and its new secret"), ...problemResponses },
  }),
  test: createRoute({
    operationId: "testSubscription",
    method: "post",
    path: "/subscriptions/{subscriptionId}/test",
    tags: ["subscriptions"],
    summary: "Send a webhook.ping event",
    request: { params: SubParams },
    responses: { 202: jsonContent(DeliverySchema, "The ping's delivery, queued"), ...problemResponses, ...problem409 },
  }),
  deliveries: createRoute({
    operationId: "listSubscriptionDeliveries",
    method: "get",
    path: "/subscriptions/{subscriptionId}/deliveries",
    tags: ["subscriptions"],
    request: { params: SubParams, query: DeliveryQuery },
    responses: { 200: jsonContent(listOf(DeliverySchema, "EventDeliveryList"), "Deliveries, newest first"), ...problemResponses },
  }),
  delivery: createRoute({
    operationId: "getSubscriptionDelivery",
    method: "get",
    path: "/subscriptions/{subscriptionId}/deliveries/{deliveryId}",
    tags: ["subscriptions"],
    request: { params: DeliveryParams },
    responses: { 200: jsonContent(DeliverySchema, "The delivery with each attempt"), ...problemResponses },
  }),
  redeliver: createRoute({
    operationId: "redeliverSubscriptionDelivery",
    method: "post",
    path: "/subscriptions/{subscriptionId}/deliveries/{deliveryId}/redeliver",
    tags: ["subscriptions"],
    summary: "Send a delivery again (a new round of attempts, same event id)",
    request: { params: DeliveryParams },
    responses: { 202: jsonContent(DeliverySchema, "The delivery, pending again"), ...problemResponses },
  }),
  replay: createRoute({
    operationId: "replaySubscription",
    method: "post",
    path: "/subscriptions/{subscriptionId}/replay",
    tags: ["subscriptions"],
    summary: "Send past events again from the activity stream (same event ids, in order per issue)",
    request: { params: SubParams, body: jsonBody(Replay) },
    responses: {
      202: jsonContent(
        z
          .object({
            replayId: z.string(),
            events: z.number().int(),
            continueAfter: z.string().nullable().openapi({ description: "Set when the window held more than one call replays (5,000 activity entries): call again with this as `after`" }),
          })
          .openapi("ReplayQueued"),
        "How many events were queued",
      ),
      ...problemResponses,
      ...problem422,
    },
  }),
  enable: createRoute({
    operationId: "enableSubscription",
    method: "post",
    path: "/subscriptions/{subscriptionId}/enable",
    tags: ["subscriptions"],
    summary: "Turn a disabled subscription back on (pending deliveries resume)",
    request: { params: SubParams },
    responses: { 200: jsonContent(SubscriptionSchema, "The subscription, enabled"), ...problemResponses },
  }),
};

/** After a write that queued something: the dispatcher runs a round soon (the cron sweep is the net). */
async function wake(env: Env, id: string): Promise<void> {
  await eventDispatcher(env, id).wake();
}

export const subscriptionsRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.create, async (c) => {
    const { row, secret } = await createSubscription(c.env, c.req.valid("json"));
    return c.json({ ...subscriptionToApi(row), secret }, 201);
  })
  .openapi(routes.list, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const rows = await listSubscriptions(catalogDatabase(c.env), { limit: limit + 1, afterId: decodeCursor(cursor) });
    return c.json(pageOf(rows, limit, subscriptionToApi), 200);
  })
  .openapi(routes.get, async (c) => c.json(subscriptionToApi(await requireSubscription(c.env, c.req.valid("param").subscriptionId)), 200))
  .openapi(routes.update, async (c) => {
    const { subscriptionId } = c.req.valid("param");
    const row = await changeSubscription(c.env, subscriptionId, c.req.valid("json"));
    if (row.enabled) await wake(c.env, subscriptionId);
    return c.json(subscriptionToApi(row), 200);
  })
  .openapi(routes.remove, async (c) => {
    await removeSubscription(c.env, c.req.valid("param").subscriptionId);
    return c.body(null, 204);
  })
  .openapi(routes.rotate, async (c) => {
    const { row, secret } = await rotateSecret(c.env, c.req.valid("param").subscriptionId);
    return c.json({ ...subscriptionToApi(row), secret }, 200);
  })
  .openapi(routes.test, async (c) => {
    const { subscriptionId } = c.req.valid("param");
    const row = await queuePing(c.env, subscriptionId);
    await wake(c.env, subscriptionId);
    return c.json(deliveryToApi(row), 202);
  })
  .openapi(routes.deliveries, async (c) => {
    const { subscriptionId } = c.req.valid("param");
    const { limit, cursor, status } = c.req.valid("query");
    await requireSubscription(c.env, subscriptionId);
    const rows = await listDeliveries(catalogDatabase(c.env), subscriptionId, { status }, { limit: limit + 1, beforeId: decodeCursor(cursor) });
    return c.json(pageOf(rows, limit, (r) => deliveryToApi(r)), 200);
  })
  .openapi(routes.delivery, async (c) => {
    const { subscriptionId, deliveryId } = c.req.valid("param");
    const db = catalogDatabase(c.env);
    const row = await getDelivery(db, subscriptionId, deliveryId);
    if (!row) throw new NotFound("delivery", deliveryId);
    const attempts = await listAttempts(db, [row.id]);
    return c.json(deliveryToApi(row, attempts.get(row.id) ?? []), 200);
  })
  .openapi(routes.redeliver, async (c) => {
    const { subscriptionId, deliveryId } = c.req.valid("param");
    const row = await redeliver(c.env, subscriptionId, deliveryId);
    await wake(c.env, subscriptionId);
    return c.json(deliveryToApi(row), 202);
  })
  .openapi(routes.replay, async (c) => {
    const { subscriptionId } = c.req.valid("param");
    const result = await replay(c.env, subscriptionId, c.req.valid("json"));
    await wake(c.env, subscriptionId);
    return c.json(result, 202);
  })
  .openapi(routes.enable, async (c) => {
    const { subscriptionId } = c.req.valid("param");
    const row = await enableSubscription(c.env, subscriptionId);
    await wake(c.env, subscriptionId);
    return c.json(subscriptionToApi(row), 200);
  });
