import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, count, desc, eq, lt } from "drizzle-orm";
import { database } from "../db/client";
import { getProject } from "../db/projects";
import { getActiveRun, getRun, lastRunOf, listRuns } from "../db/runs";
import { conflicts, issues, outbox, webhookDeliveries, type ConflictRow, type SyncRunRow } from "../db/schema";
import type { Env } from "../env";
import { unwrap } from "../jobs/consumer";
import { NotFound, StateConflict } from "../errors";
import { conflictResponse, decodeCursor, IdParam, IsoTimestamp, jsonContent, listOf, ListQuery, pageOf, problemResponses } from "./common";
import { validationHook } from "./validation";

const RunStats = z.object({
  pages: z.number().int(),
  fetched: z.number().int(),
  created: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  conflicts: z.number().int(),
  orphaned: z.number().int(),
  pushed: z.number().int(),
  requests: z.number().int().openapi({ description: "Tracker HTTP requests made (304s included)" }),
});

export const SyncRunSchema = z
  .object({
    id: z.string(),
    projectId: z.string(),
    mode: z.enum(["incremental", "full"]),
    trigger: z.enum(["cron", "api", "webhook", "resume"]),
    status: z.enum(["queued", "running", "succeeded", "failed"]),
    startedAt: IsoTimestamp.nullable(),
    finishedAt: IsoTimestamp.nullable(),
    stats: RunStats,
    error: z.string().nullable(),
    resumeAt: IsoTimestamp.nullable().openapi({ description: "When a rate-limited or failing run continues" }),
  })
  .openapi("SyncRun");

export function runToApi(r: SyncRunRow): z.infer<typeof SyncRunSchema> {
  return {
    id: r.id,
    projectId: r.projectId,
    mode: r.mode,
    trigger: r.trigger,
    status: r.status,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    stats: {
      pages: r.pages,
      fetched: r.fetched,
      created: r.created,
      updated: r.updated,
      unchanged: r.unchanged,
      conflicts: r.conflicts,
      orphaned: r.orphaned,
      pushed: r.pushed,
      requests: r.requests,
    },
    error: r.error,
    resumeAt: r.resumeAt,
  };
}

const ConflictSchema = z
  .object({
    id: z.string(),
    projectId: z.string(),
    issueId: z.string(),
    field: z.string(),
    baseValue: z.unknown(),
    localValue: z.unknown(),
    trackerValue: z.unknown(),
    resolution: z.enum(["tracker", "local"]).openapi({ description: "The side that won: the project's master" }),
    createdAt: IsoTimestamp,
  })
  .openapi("Conflict");

function conflictToApi(c: ConflictRow): z.infer<typeof ConflictSchema> {
  const parse = (v: string | null) => (v === null ? null : (JSON.parse(v) as unknown));
  return {
    id: c.id,
    projectId: c.projectId,
    issueId: c.issueId,
    field: c.field,
    baseValue: parse(c.baseValue),
    localValue: parse(c.localValue),
    trackerValue: parse(c.trackerValue),
    resolution: c.resolution,
    createdAt: c.createdAt,
  };
}

const StatusSchema = z
  .object({
    projectId: z.string(),
    syncEnabled: z.boolean(),
    syncDirection: z.enum(["inbound", "outbound", "bidirectional"]),
    cursor: IsoTimestamp.nullable().openapi({ description: "Every tracker change before this instant is stored" }),
    lagSeconds: z.number().int().nullable().openapi({ description: "Seconds between now and the cursor" }),
    lastIncrementalSyncAt: IsoTimestamp.nullable(),
    lastFullSyncAt: IsoTimestamp.nullable(),
    lastError: z.string().nullable(),
    activeRun: SyncRunSchema.nullable(),
    lastRuns: z.object({ incremental: SyncRunSchema.nullable(), full: SyncRunSchema.nullable() }),
    issues: z.object({ total: z.number().int(), orphaned: z.number().int(), error: z.number().int(), conflict: z.number().int() }),
    openConflicts: z.number().int().openapi({ description: "Issues whose last merge recorded a conflict" }),
    conflictsRecorded: z.number().int(),
    pendingPushes: z.number().int().openapi({ description: "Outbox rows waiting for the tracker" }),
    failedPushes: z.number().int(),
    failedDeliveries: z.number().int().openapi({ description: "Webhook deliveries that could not be applied" }),
  })
  .openapi("SyncStatus");

const ProjectIdParams = z.object({ projectId: IdParam("projectId") });

const routes = {
  start: createRoute({
    method: "post",
    path: "/projects/{projectId}/sync",
    tags: ["sync"],
    summary: "Start a sync run, or join the one already going (a full request upgrades an incremental run)",
    request: {
      params: ProjectIdParams,
      body: {
        required: false,
        content: { "application/json": { schema: z.strictObject({ mode: z.enum(["incremental", "full"]).default("incremental") }).openapi("StartSync") } },
      },
    },
    responses: {
      202: jsonContent(z.object({ runId: z.string(), joined: z.boolean() }).openapi("SyncStarted"), "The run that will do the work"),
      ...problemResponses,
      ...conflictResponse,
    },
  }),
  listRuns: createRoute({
    method: "get",
    path: "/projects/{projectId}/sync-runs",
    tags: ["sync"],
    request: { params: ProjectIdParams, query: ListQuery },
    responses: { 200: jsonContent(listOf(SyncRunSchema, "SyncRunList"), "Runs, newest first"), ...problemResponses },
  }),
  getRun: createRoute({
    method: "get",
    path: "/sync-runs/{runId}",
    tags: ["sync"],
    request: { params: z.object({ runId: IdParam("runId") }) },
    responses: { 200: jsonContent(SyncRunSchema, "The run with live counters"), ...problemResponses },
  }),
  status: createRoute({
    method: "get",
    path: "/projects/{projectId}/status",
    tags: ["sync"],
    summary: "Sync health: cursor, lag, last runs, conflicts, pending and failed pushes, failed deliveries",
    request: { params: ProjectIdParams },
    responses: { 200: jsonContent(StatusSchema, "Sync health"), ...problemResponses },
  }),
  conflicts: createRoute({
    method: "get",
    path: "/projects/{projectId}/conflicts",
    tags: ["sync"],
    summary: "Recorded conflicts, newest first",
    request: { params: ProjectIdParams, query: ListQuery.extend({ issueId: z.string().max(64).optional() }) },
    responses: { 200: jsonContent(listOf(ConflictSchema, "ConflictList"), "Conflicts"), ...problemResponses },
  }),
};

export const syncRouter = new OpenAPIHono<{ Bindings: Env }>({ defaultHook: validationHook })
  .openapi(routes.start, async (c) => {
    const { projectId } = c.req.valid("param");
    const mode = c.req.header("content-type") ? c.req.valid("json").mode : "incremental";
    const project = await getProject(database(c.env.DB), projectId);
    if (!project) throw new NotFound("project", projectId);
    if (!project.syncEnabled) throw new StateConflict(`sync is disabled for project ${projectId}; enable it with PATCH syncEnabled: true`);
    const stub = c.env.PROJECT_SYNC.get(c.env.PROJECT_SYNC.idFromName(projectId));
    const result = unwrap(await stub.requestRun(projectId, mode, "api"));
    return c.json(result, 202);
  })
  .openapi(routes.listRuns, async (c) => {
    const { projectId } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    const db = database(c.env.DB);
    const beforeId = decodeCursor(cursor);
    if (!(await getProject(db, projectId))) throw new NotFound("project", projectId);
    const rows = await listRuns(db, projectId, { limit: limit + 1, beforeId });
    return c.json(pageOf(rows, limit, runToApi), 200);
  })
  .openapi(routes.getRun, async (c) => {
    const { runId } = c.req.valid("param");
    const run = await getRun(database(c.env.DB), runId);
    if (!run) throw new NotFound("sync run", runId);
    return c.json(runToApi(run), 200);
  })
  .openapi(routes.status, async (c) => {
    const { projectId } = c.req.valid("param");
    const db = database(c.env.DB);
    const project = await getProject(db, projectId);
    if (!project) throw new NotFound("project", projectId);
    const [active, lastIncremental, lastFull, issueCounts, conflictCount, outboxCounts, deliveryFailures] = await Promise.all([
      getActiveRun(db, projectId),
      lastRunOf(db, projectId, "incremental"),
      lastRunOf(db, projectId, "full"),
      db.select({ state: issues.syncState, n: count() }).from(issues).where(eq(issues.projectId, projectId)).groupBy(issues.syncState).all(),
      db.select({ n: count() }).from(conflicts).where(eq(conflicts.projectId, projectId)).get(),
      db.select({ status: outbox.status, n: count() }).from(outbox).where(eq(outbox.projectId, projectId)).groupBy(outbox.status).all(),
      db
        .select({ n: count() })
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.projectId, projectId), eq(webhookDeliveries.status, "failed")))
        .get(),
    ]);
    const byState = Object.fromEntries(issueCounts.map((r) => [r.state, r.n]));
    const byOutbox = Object.fromEntries(outboxCounts.map((r) => [r.status, r.n]));
    return c.json(
      {
        projectId,
        syncEnabled: project.syncEnabled,
        syncDirection: project.syncDirection,
        cursor: project.cursor,
        lagSeconds: project.cursor ? Math.max(0, Math.round((Date.now() - Date.parse(project.cursor)) / 1000)) : null,
        lastIncrementalSyncAt: project.lastIncrementalSyncAt,
        lastFullSyncAt: project.lastFullSyncAt,
        lastError: project.lastError,
        activeRun: active ? runToApi(active) : null,
        lastRuns: { incremental: lastIncremental ? runToApi(lastIncremental) : null, full: lastFull ? runToApi(lastFull) : null },
        issues: {
          total: issueCounts.reduce((sum, r) => sum + r.n, 0),
          orphaned: byState.orphaned ?? 0,
          error: byState.error ?? 0,
          conflict: byState.conflict ?? 0,
        },
        openConflicts: byState.conflict ?? 0,
        conflictsRecorded: conflictCount?.n ?? 0,
        pendingPushes: byOutbox.pending ?? 0,
        failedPushes: byOutbox.failed ?? 0,
        failedDeliveries: deliveryFailures?.n ?? 0,
      },
      200,
    );
  })
  .openapi(routes.conflicts, async (c) => {
    const { projectId } = c.req.valid("param");
    const { limit, cursor, issueId } = c.req.valid("query");
    const db = database(c.env.DB);
    const beforeId = decodeCursor(cursor);
    if (!(await getProject(db, projectId))) throw new NotFound("project", projectId);
    const rows = await db
      .select()
      .from(conflicts)
      .where(and(eq(conflicts.projectId, projectId), issueId ? eq(conflicts.issueId, issueId) : undefined, beforeId ? lt(conflicts.id, beforeId) : undefined))
      .orderBy(desc(conflicts.id))
      .limit(limit + 1)
      .all();
    return c.json(pageOf(rows, limit, conflictToApi), 200);
  });


