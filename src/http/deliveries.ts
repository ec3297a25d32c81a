import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { projectDatabase } from "../db/shards";
import { findDelivery, listDeliveries } from "../db/deliveries";
import { listEvents } from "../db/events";
import type { DeliveryRow, EventRow } from "../db/schema";
import { NotFound } from "../errors";
import { PROVIDERS } from "../providers/types";
import { acknowledgeDelivery, replayDelivery } from "../sync/repair";
import { conflictResponse, decodeCursor, IdParam, ProblemSchema, IsoTimestamp, jsonContent, listOf, ListQuery, pageOf, problemResponses, ProjectIdParams } from "./common";
import type { AppEnv } from "./project";
import { validationHook } from "./validation";

const DELIVERY_STATUSES = ["received", "applied", "ignored", "failed"] as const;
const EVENT_KINDS = ["issue", "pull_request", "push", "comment"] as const;

export const DeliverySchema = z
  .object({
    id: z.string(),
    projectId: z.string(),
    provider: z.enum(PROVIDERS),
    deliveryId: z.string().openapi({ description: "The tracker's delivery id (or `sha256:<hex>` of the body when it sent none)" }),
    event: z.string(),
    action: z.string().nullable(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    error: z.string().nullable(),
    receivedAt: IsoTimestamp,
    processedAt: IsoTimestamp.nullable(),
  })
  .openapi("WebhookDelivery");

export const EventSchema = z
  .object({
    id: z.string().openapi({ description: "Also the id of the delivery it came from" }),
    projectId: z.string(),
    provider: z.enum(PROVIDERS),
    deliveryId: z.string().nullable(),
    kind: z.enum(["issue", "pull_request", "push", "other", "comment"]),
    action: z.string(),
    externalId: z.string().nullable(),
    externalNumber: z.number().int().nullable(),
    data: z.record(z.string(), z.unknown()).openapi({ description: "The normalized event: { event, action, complete, issue, summary, changedFields, movedTo }" }),
    occurredAt: IsoTimestamp,
    createdAt: IsoTimestamp,
  })
  .openapi("Event");

function deliveryToApi(row: DeliveryRow): z.infer<typeof DeliverySchema> {
  return {
    id: row.id,
    projectId: row.projectId,
    provider: row.provider,
    deliveryId: row.deliveryId,
    event: row.event,
    action: row.action,
    status: row.status,
    attempts: row.attempts,
    error: row.error,
    receivedAt: row.receivedAt,
    processedAt: row.processedAt,
  };
}

function eventToApi(row: EventRow): z.infer<typeof EventSchema> {
  return {
    id: row.id,
    projectId: row.projectId,
    provider: row.provider,
    deliveryId: row.deliveryId,
    kind: row.kind,
    action: row.action,
    externalId: row.externalId,
    externalNumber: row.externalNumber,
    data: JSON.parse(row.data) as Record<string, unknown>,
    occurredAt: row.occurredAt,
    createdAt: row.createdAt,
  };
}

/** A delivery named by our `id` or by the tracker's delivery id. */
const ReplayParams = z.object({
  projectId: IdParam("projectId"),
  deliveryId: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: "deliveryId", in: "path" }, description: "The delivery's `id`, or the tracker's `deliveryId`" }),
});

const ReplayAnswer = z.object({ status: z.literal("queued"), id: z.string(), deliveryId: z.string() }).openapi("ReplayAnswer");

const routes = {
  replay: createRoute({
    operationId: "replayDelivery",
    method: "post",
    path: "/{projectId}/deliveries/{deliveryId}/replay",
    tags: ["webhooks"],
    summary: "Apply a stored delivery again (e.g. one that failed)",
    description:
      "`deliveryId` is either our delivery `id` or the tracker's delivery id. The delivery goes back to `received` and is queued; applying is idempotent, so replaying an applied delivery changes nothing the tracker has not changed since.",
    request: { params: ReplayParams },
    responses: {
      202: jsonContent(ReplayAnswer, "Queued for applying"),
      ...problemResponses,
      503: { description: "The queue refused the job; try again", content: { "application/problem+json": { schema: ProblemSchema } } },
    },
  }),
  acknowledge: createRoute({
    operationId: "acknowledgeDelivery",
    method: "post",
    path: "/{projectId}/deliveries/{deliveryId}/acknowledge",
    tags: ["webhooks"],
    summary: "Set a failed delivery aside for good (one no replay can apply): it no longer keeps the project failing",
    request: { params: ReplayParams },
    responses: { 200: jsonContent(DeliverySchema, "The delivery, now ignored, its error kept"), ...problemResponses, ...conflictResponse },
  }),
  get: createRoute({
    operationId: "getDelivery",
    method: "get",
    path: "/{projectId}/deliveries/{deliveryId}",
    tags: ["webhooks"],
    summary: "One stored delivery: status, attempts and the last error (not the payload)",
    request: { params: ReplayParams },
    responses: { 200: jsonContent(DeliverySchema, "The delivery"), ...problemResponses },
  }),
  list: createRoute({
    operationId: "listDeliveries",
    method: "get",
    path: "/{projectId}/deliveries",
    tags: ["webhooks"],
    summary: "Stored webhook deliveries, newest first",
    request: { params: ProjectIdParams, query: ListQuery.extend({ status: z.enum(DELIVERY_STATUSES).optional() }) },
    responses: { 200: jsonContent(listOf(DeliverySchema, "WebhookDeliveryList"), "Deliveries, newest first"), ...problemResponses },
  }),
  events: createRoute({
    operationId: "listEvents",
    method: "get",
    path: "/{projectId}/events",
    tags: ["webhooks"],
    summary: "The normalized event log (issue, pull request and push events), oldest first",
    request: { params: ProjectIdParams, query: ListQuery.extend({ kind: z.enum(EVENT_KINDS).optional() }) },
    responses: { 200: jsonContent(listOf(EventSchema, "EventList"), "Events, in the order they were received"), ...problemResponses },
  }),
};

export const deliveriesRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.replay, async (c) => {
    const { deliveryId } = c.req.valid("param");
    const row = await replayDelivery(c.env, projectDatabase(c.env, c.var.project), c.var.project, deliveryId, { source: "api", actor: c.var.apiToken.name });
    return c.json({ status: "queued" as const, id: row.id, deliveryId: row.deliveryId }, 202);
  })
  .openapi(routes.acknowledge, async (c) => {
    const { deliveryId } = c.req.valid("param");
    const row = await acknowledgeDelivery(projectDatabase(c.env, c.var.project), c.var.project, deliveryId, { source: "api", actor: c.var.apiToken.name });
    return c.json(deliveryToApi(row), 200);
  })
  .openapi(routes.get, async (c) => {
    const { deliveryId } = c.req.valid("param");
    const row = await findDelivery(projectDatabase(c.env, c.var.project), c.var.project.id, deliveryId);
    if (!row) throw new NotFound("delivery", deliveryId);
    return c.json(deliveryToApi(row), 200);
  })
  .openapi(routes.list, async (c) => {
    const { limit, cursor, status } = c.req.valid("query");
    const beforeId = decodeCursor(cursor);
    const rows = await listDeliveries(projectDatabase(c.env, c.var.project), c.var.project.id, { status }, { limit: limit + 1, beforeId });
    return c.json(pageOf(rows, limit, deliveryToApi), 200);
  })
  .openapi(routes.events, async (c) => {
    const { limit, cursor, kind } = c.req.valid("query");
    const afterId = decodeCursor(cursor);
    const rows = await listEvents(projectDatabase(c.env, c.var.project), c.var.project.id, { kind }, { limit: limit + 1, afterId });
    return c.json(pageOf(rows, limit, eventToApi), 200);
  });
