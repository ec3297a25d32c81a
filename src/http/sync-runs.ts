import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { findInShards, projectDatabase } from "../db/shards";
import { listConflicts } from "../db/conflicts";
import type { ConflictRow, SyncRunRow } from "../db/schema";
import { getRun, listRuns } from "../db/sync-runs";
import { startSync } from "../jobs/project-actions";
import { NotFound, ValidationFailed } from "../errors";
import { dryRun } from "../sync/dry-run";
import { DryRunSchema } from "../jobs/project-settings";
import { kickSubscriptions } from "../durable/events-client";
import type { SyncStatus } from "../sync/status";
import { syncStatus } from "../sync/status";
import { chipOf, chipReasonOf, CHIPS } from "../sync/status-chip";
import { credentialStatus, type CredentialStatus } from "../sync/credentials";
import { conflictResponse, decodeCursor, IdParam, IsoTimestamp, jsonContent, listOf, ListQuery, pageOf, problemResponses, ProjectIdParams } from "./common";
import type { AppEnv } from "./project";
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
    total: z.number().int().nullable().openapi({
      description: "Issues the tracker counts for the run's listing (GitLab X-Total, Gitea X-Total-Count, from its first page); null when it gives none (GitHub, GitLab past 10,000)",
    }),
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
    total: r.total ?? null,
  };
}

export const ConflictSchema = z
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
    resolvedAt: IsoTimestamp.nullable().openapi({ description: "When an operator settled it by hand (POST …/resolve)" }),
    resolvedKeep: z.enum(["tracker", "local"]).nullable().openapi({ description: "The side the operator kept" }),
    resolvedBy: z.string().nullable().openapi({ description: "The API token's name that resolved it" }),
    commentId: z.string().nullable().openapi({ description: 'The comment the conflict is about (field "comment.body"), else null' }),
  })
  .openapi("Conflict");

export function conflictToApi(c: ConflictRow): z.infer<typeof ConflictSchema> {
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
    resolvedAt: c.resolvedAt,
    resolvedKeep: c.resolvedKeep,
    resolvedBy: c.resolvedBy,
    commentId: c.commentId,
  };
}

const CredentialStatusSchema = z
  .object({
    kind: z.enum(["installation", "token"]).openapi({ description: "A GitHub App installation, or a token (shared by every project using it)" }),
    installationId: z.number().int().nullable(),
    health: z.enum(["ok", "rejected", "suspended", "removed"]),
    healthAt: IsoTimestamp.nullable().openapi({ description: "When the tracker refused the credential (or the installation was suspended/removed)" }),
    healthReason: z.string().nullable(),
    rateLimit: z.object({
      remaining: z.number().int().nullable().openapi({ description: "Requests left, as the tracker's last answer said (shared by the credential's projects)" }),
      resetAt: IsoTimestamp.nullable(),
      limitedUntil: IsoTimestamp.nullable().openapi({ description: "Set while the budget is spent: every project on the credential waits until then" }),
    }),
    tokenExpiresAt: z.string().nullable().openapi({ description: "GitLab: when the token expires, when known" }),
    warning: z.string().nullable().openapi({ description: "Set two weeks before the token expires" }),
  })
  .openapi("CredentialStatus");

const FreshnessSchema = z
  .object({
    count: z.number().int().openapi({ description: "Changes applied" }),
    p50Ms: z.number().int().nullable().openapi({ description: "Median lag, ms (upper bound of its histogram bin); null when none" }),
    p95Ms: z.number().int().nullable().openapi({ description: "95th percentile lag, ms (upper bound of its histogram bin)" }),
    maxMs: z.number().int().nullable(),
  })
  .openapi("Freshness");

const StatusSchema = z
  .object({
    projectId: z.string(),
    syncEnabled: z.boolean(),
    syncDirection: z.enum(["inbound", "outbound", "bidirectional"]),
    cursor: IsoTimestamp.nullable().openapi({ description: "Every tracker change before this instant is stored" }),
    lagSeconds: z.number().int().nullable().openapi({
      description: "How far the local store is behind the tracker: seconds since the oldest webhook delivery received and not applied yet, else since the last successful run; null before the first one",
    }),
    lagSince: IsoTimestamp.nullable().openapi({ description: "The instant lagSeconds counts from" }),
    chip: z.enum(CHIPS).openapi({ description: "The dashboard's one-word health (rules in docs/activity-and-dashboard.md)" }),
    chipReason: z.string().nullable().openapi({ description: "Why the chip holds and what to do, for the chips that need a word" }),
    lastIncrementalSyncAt: IsoTimestamp.nullable(),
    lastFullSyncAt: IsoTimestamp.nullable(),
    lastError: z.string().nullable(),
    activeRun: SyncRunSchema.nullable(),
    lastRuns: z.object({ incremental: SyncRunSchema.nullable(), full: SyncRunSchema.nullable() }),
    issues: z.object({ total: z.number().int(), orphaned: z.number().int(), error: z.number().int(), conflict: z.number().int() }),
    openConflicts: z.number().int().openapi({ description: "Conflicts recorded and not yet settled (keep local / take tracker), issue fields and comment bodies" }),
    conflictsRecorded: z.number().int(),
    pendingPushes: z.number().int().openapi({ description: "Outbox rows waiting for the tracker" }),
    failedPushes: z.number().int(),
    retryingPushes: z.number().int().openapi({ description: "Pending pushes of issues and comments that failed at least once and wait for their next attempt" }),
    unappliedDeliveries: z.number().int().openapi({ description: "Webhook deliveries received and not applied yet" }),
    failedDeliveries: z.number().int().openapi({ description: "Webhook deliveries that could not be applied" }),
    trackerRepository: z
      .object({
        id: z.string().nullable().openapi({ description: "The repository's id on the tracker, learned the first time it is read" }),
        name: z.string().nullable().openapi({ description: "Its current name as the tracker answers it; differs from `repository` after a rename" }),
        renamed: z.boolean().openapi({ description: "True when the tracker answers another name than the configured `repository`" }),
      })
      .openapi({ description: "The repository as the tracker identifies it" }),
    accessLost: z
      .object({ since: IsoTimestamp, reason: z.string().nullable() })
      .nullable()
      .openapi({ description: "Set while the tracker answers 404 for the repository itself: the token lost access; nothing is deleted meanwhile" }),
    paused: z.string().nullable().openapi({
      description: "Why the project sends nothing to its tracker now (credentials rejected, App installation suspended or removed, repository removed), or null",
    }),
    credential: CredentialStatusSchema,
    issuesWithSyncWarnings: z.number().int().openapi({ description: "Issues whose last push had fields the tracker refused silently (kept locally; see the issue's syncWarnings)" }),
    comments: z
      .object({
        total: z.number().int(),
        internal: z.number().int(),
        deleted: z.number().int(),
        error: z.number().int(),
        waitingForIssue: z.number().int().openapi({ description: "Tracker comments whose issue is not imported yet" }),
        commentCursor: IsoTimestamp.nullable(),
        phaseError: z.string().nullable().openapi({ description: "Why the last comment phase failed (its cursor stayed; issues and pull requests were synced), null once one completes" }),
        phaseErrorAt: IsoTimestamp.nullable().openapi({ description: "Since when the comment phase has failed (the first failure in a row)" }),
      })
      .openapi({ description: "Comment sync" }),
    pullRequests: z
      .object({
        cursor: IsoTimestamp.nullable().openapi({ description: "PR listing cursor (GitLab merge requests, Gitea pulls; GitHub lists PRs with its issues)" }),
        phaseError: z.string().nullable().openapi({ description: "Why the last PR phase failed (its cursor stayed; issues and comments were synced), null once one completes" }),
        phaseErrorAt: IsoTimestamp.nullable().openapi({ description: "Since when the PR phase has failed (the first failure in a row)" }),
      })
      .openapi({ description: "Pull request (merge request) listing: its own phase and cursor" }),
    pendingCommentPushes: z.number().int().openapi({ description: "Comment outbox rows waiting for the tracker" }),
    failedCommentPushes: z.number().int(),
    freshness: z
      .object({ webhook: FreshnessSchema, poll: FreshnessSchema, full: FreshnessSchema })
      .openapi({
        description:
          "Last 24 hours: how long tracker changes took to be stored here (the tracker's updated_at → our write), by how they arrived. A first import is not counted",
      }),
  })
  .openapi("SyncStatus");

function statusToApi(s: SyncStatus, credential: CredentialStatus, now: number): z.infer<typeof StatusSchema> {
  const { pausedReason, ...shown } = credential;
  const chip = chipOf(s, now, pausedReason);
  return {
    lagSince: s.lagSince,
    chip,
    chipReason: chipReasonOf(chip, s, now, pausedReason),
    retryingPushes: s.health.pushes.retrying + s.health.commentPushes.retrying,
    unappliedDeliveries: s.health.unappliedDeliveries,
    projectId: s.project.id,
    syncEnabled: s.project.syncEnabled,
    syncDirection: s.project.syncDirection,
    cursor: s.project.cursor,
    lagSeconds: s.lagSeconds,
    lastIncrementalSyncAt: s.project.lastIncrementalSyncAt,
    lastFullSyncAt: s.project.lastFullSyncAt,
    lastError: s.project.lastError,
    trackerRepository: {
      id: s.project.trackerRepositoryId,
      name: s.project.trackerRepositoryName,
      renamed: s.project.trackerRepositoryName !== null && s.project.trackerRepositoryName.toLowerCase() !== s.project.repository.toLowerCase(),
    },
    accessLost: s.project.accessLostAt ? { since: s.project.accessLostAt, reason: s.project.accessError } : null,
    activeRun: s.activeRun ? runToApi(s.activeRun) : null,
    lastRuns: {
      incremental: s.lastRuns.incremental ? runToApi(s.lastRuns.incremental) : null,
      full: s.lastRuns.full ? runToApi(s.lastRuns.full) : null,
    },
    issues: s.issues,
    openConflicts: s.openConflicts,
    conflictsRecorded: s.conflictsRecorded,
    pendingPushes: s.pendingPushes,
    failedPushes: s.failedPushes,
    failedDeliveries: s.failedDeliveries,
    paused: pausedReason,
    credential: shown,
    issuesWithSyncWarnings: s.issuesWithSyncWarnings,
    comments: {
      total: s.comments.total,
      internal: s.comments.internal,
      deleted: s.comments.deleted,
      error: s.comments.error,
      waitingForIssue: s.comments.waitingForIssue,
      commentCursor: s.project.commentCursor,
      phaseError: s.project.commentPhaseError,
      phaseErrorAt: s.project.commentPhaseErrorAt,
    },
    pullRequests: { cursor: s.project.pullRequestCursor, phaseError: s.project.pullRequestPhaseError, phaseErrorAt: s.project.pullRequestPhaseErrorAt },
    pendingCommentPushes: s.comments.pendingPushes,
    failedCommentPushes: s.comments.failedPushes,
    freshness: s.freshness,
  };
}


const routes = {
  start: createRoute({
    operationId: "startSync",
    method: "post",
    path: "/projects/{projectId}/sync",
    tags: ["sync"],
    summary: "Start a sync run, or join the one already going (a full request upgrades an incremental run)",
    request: {
      params: ProjectIdParams,
      body: {
        required: false,
        content: {
          "application/json": {
            schema: z
              .strictObject({
                mode: z.enum(["incremental", "full"]).default("incremental"),
                dryRun: z.boolean().optional().openapi({ description: 'With mode "full": start nothing, answer what a full run would do (200 DryRun)' }),
              })
              .openapi("StartSync"),
          },
        },
      },
    },
    responses: {
      200: jsonContent(DryRunSchema, "Dry run (dryRun: true): what a full run would do; nothing was changed"),
      202: jsonContent(z.object({ runId: z.string(), joined: z.boolean() }).openapi("SyncStarted"), "The run that will do the work"),
      ...problemResponses,
      ...conflictResponse,
    },
  }),
  listRuns: createRoute({
    operationId: "listSyncRuns",
    method: "get",
    path: "/projects/{projectId}/sync-runs",
    tags: ["sync"],
    request: { params: ProjectIdParams, query: ListQuery },
    responses: { 200: jsonContent(listOf(SyncRunSchema, "SyncRunList"), "Runs, newest first"), ...problemResponses },
  }),
  getRun: createRoute({
    operationId: "getSyncRun",
    method: "get",
    path: "/sync-runs/{runId}",
    tags: ["sync"],
    request: { params: z.object({ runId: IdParam("runId") }) },
    responses: { 200: jsonContent(SyncRunSchema, "The run with live counters"), ...problemResponses },
  }),
  status: createRoute({
    operationId: "getProjectStatus",
    method: "get",
    path: "/projects/{projectId}/status",
    tags: ["sync"],
    summary: "Sync health: cursor, lag, last runs, conflicts, pending and failed pushes, failed deliveries",
    request: { params: ProjectIdParams },
    responses: { 200: jsonContent(StatusSchema, "Sync health"), ...problemResponses },
  }),
  conflicts: createRoute({
    operationId: "listConflicts",
    method: "get",
    path: "/projects/{projectId}/conflicts",
    tags: ["sync"],
    summary: "Recorded conflicts, newest first",
    request: { params: ProjectIdParams, query: ListQuery.extend({ issueId: z.string().max(64).optional() }) },
    responses: { 200: jsonContent(listOf(ConflictSchema, "ConflictList"), "Conflicts"), ...problemResponses },
  }),
};

export const syncRunsRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.start, async (c) => {
    const project = c.var.project;
    const body = c.req.header("content-type") ? c.req.valid("json") : { mode: "incremental" as const, dryRun: undefined };
    const mode = body.mode;
    if (body.dryRun) {
      if (mode !== "full") throw new ValidationFailed([{ field: "dryRun", message: 'needs mode "full" (a dry run reads the whole listing)' }]);
      return c.json({ dryRun: true as const, ...(await dryRun(c.env, project, project)) }, 200);
    }
    const result = await startSync(c.env, project, mode);
    // Event subscriptions watch the stream while the run writes (never delays the answer).
    c.executionCtx.waitUntil(kickSubscriptions(c.env));
    return c.json(result, 202);
  })
  .openapi(routes.listRuns, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const beforeId = decodeCursor(cursor);
    const rows = await listRuns(projectDatabase(c.env, c.var.project), c.var.project.id, { limit: limit + 1, beforeId });
    return c.json(pageOf(rows, limit, runToApi), 200);
  })
  .openapi(routes.getRun, async (c) => {
    const { runId } = c.req.valid("param");
    // Named without its project: looked up in every shard (run ids are unique across them).
    const run = await findInShards(c.env, (db) => getRun(db, runId));
    if (!run) throw new NotFound("sync run", runId);
    return c.json(runToApi(run), 200);
  })
  .openapi(routes.status, async (c) => {
    const db = projectDatabase(c.env, c.var.project);
    const now = Date.now();
    const [status, credential] = await Promise.all([syncStatus(db, c.var.project, now), credentialStatus(c.env, db, c.var.project, now)]);
    return c.json(statusToApi(status, credential, now), 200);
  })
  .openapi(routes.conflicts, async (c) => {
    const { limit, cursor, issueId } = c.req.valid("query");
    const beforeId = decodeCursor(cursor);
    const rows = await listConflicts(projectDatabase(c.env, c.var.project), c.var.project.id, { issueId }, { limit: limit + 1, beforeId });
    return c.json(pageOf(rows, limit, conflictToApi), 200);
  });
