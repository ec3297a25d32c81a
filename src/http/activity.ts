/**
 * The activity stream (read like a log, oldest first, resumable by cursor) and the repair routes an
 * operator uses: settle a conflict by hand, retry a failed push. The dashboard calls the same
 * functions (src/ui/).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  ACTIVITY_KINDS,
  ACTIVITY_SOURCES,
  activityAt,
  activityPosition,
  importedIssueIds,
  listActivity,
  seqBeforeTime,
  SHARD_POSITION_SPAN,
  splitPosition,
  type ActivityFilter,
} from "../db/activity";
import type { Database } from "../db/client";
import { allShardDatabases, projectDatabase, shardDatabase, shardExists, shardOfProject } from "../db/shards";
import type { Env } from "../env";
import type { ActivityRow } from "../db/schema";
import { ValidationFailed } from "../errors";
import { resolveConflict, retryCommentPush, retryPush } from "../sync/repair";
import { conflictResponse, IdParam, IsoTimestamp, jsonBody, PageLimit, jsonContent, problemResponses, ProjectIdParams } from "./common";
import { IssueSchema, issueToApi, peopleOfRows } from "./issues";
import type { AppEnv } from "./project";
import { ConflictSchema, conflictToApi } from "./sync-runs";
import { validationHook } from "./validation";

export const ActivitySchema = z
  .object({
    id: z.string().openapi({
      description: "Position in the stream (increasing within a project; unique across shards); pass the last one seen as `after`",
    }),
    projectId: z.string(),
    issueId: z.string().nullable(),
    kind: z.enum(ACTIVITY_KINDS),
    source: z.enum(ACTIVITY_SOURCES).openapi({ description: "poll (incremental run), full (reconciliation), webhook, api (API or dashboard), push (a push's answer)" }),
    actor: z.string().nullable().openapi({ description: "The API token's name for changes made through the API or dashboard (never the token)" }),
    runId: z.string().nullable(),
    deliveryId: z.string().nullable().openapi({ description: "The tracker's delivery id for webhook changes" }),
    changes: z
      .record(z.string(), z.object({ before: z.unknown(), after: z.unknown() }))
      .nullable()
      .openapi({ description: "Fields changed, before → after. A value over 1 KiB is `{ truncated: true, bytes, prefix }`" }),
    detail: z.string().nullable(),
    issueIds: z
      .array(z.string())
      .optional()
      .openapi({ description: "`issue.imported` only: the issues a first import's listing page created, one `issue.created` each (also in `detail` as JSON)" }),
    createdAt: IsoTimestamp,
  })
  .openapi("Activity");

/** `shard`: the database the row was read from (its id is shard-qualified, `activityPosition`). */
export function activityToApi(row: ActivityRow, shard = 0): z.infer<typeof ActivitySchema> {
  return {
    id: String(activityPosition(shard, row.seq)),
    projectId: row.projectId,
    issueId: row.issueId,
    kind: row.kind as (typeof ACTIVITY_KINDS)[number],
    source: row.source as (typeof ACTIVITY_SOURCES)[number],
    actor: row.actor,
    runId: row.runId,
    deliveryId: row.deliveryId,
    changes: row.changes ? (JSON.parse(row.changes) as Record<string, { before: unknown; after: unknown }>) : null,
    detail: row.detail,
    ...(row.kind === "issue.imported" ? { issueIds: importedIssueIds(row) } : {}),
    createdAt: row.createdAt,
  };
}

const ActivityList = z
  .object({
    items: z.array(ActivitySchema),
    nextCursor: z
      .string()
      .nullable()
      .openapi({
        description:
          "Pass as `after` for the next page; null at the end (the list convention): nothing more is stored after this page now. Without `projectId`, an opaque cursor holding a position per shard",
      }),
    tailCursor: z.string().nullable().openapi({
      description:
        "To follow the live tail: pass as `after` later to get only entries newer than everything seen (the last entry's `id`, or the `after` given when the page is empty); null only when nothing was ever seen",
    }),
  })
  .openapi("ActivityList");

const ActivityQuery = z.object({
  after: z
    .string()
    .max(400)
    .optional()
    .openapi({ description: "`nextCursor` or `tailCursor` (or an entry's `id`) to continue after; omitted: from the oldest kept entry" }),
  limit: PageLimit(100),
  kind: z.string().max(1000).optional().openapi({ description: "Comma-separated kinds, e.g. `issue.updated,conflict.recorded`" }),
  source: z.enum(ACTIVITY_SOURCES).optional(),
  issueId: z.string().max(64).optional(),
});

type ActivityQueryInput = z.infer<typeof ActivityQuery>;

const NOT_A_CURSOR = [{ field: "after", message: "is not a cursor this API issued" }];

function parsePosition(after: string | undefined): number | null {
  if (after === undefined || after === "") return null;
  if (!/^\d{1,15}$/.test(after)) throw new ValidationFailed(NOT_A_CURSOR);
  return Number(after);
}

/** A project's cursor is an entry id of its shard; a bare seq (an id from before sharding) is read as one. */
function parseProjectAfter(after: string | undefined, shard: number): number | null {
  const position = parsePosition(after);
  if (position === null || position < SHARD_POSITION_SPAN) return position;
  const at = splitPosition(position);
  if (at.shard !== shard) throw new ValidationFailed([{ field: "after", message: "is a position in another project's stream" }]);
  return at.seq;
}

function parseKinds(kind: string | undefined): string[] | undefined {
  if (kind === undefined || kind === "") return undefined;
  const kinds = kind.split(",").map((k) => k.trim());
  const unknown = kinds.filter((k) => !(ACTIVITY_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new ValidationFailed([{ field: "kind", message: `unknown kind ${unknown.join(", ")}; one of ${ACTIVITY_KINDS.join(", ")}` }]);
  return kinds;
}

/** One page of a project's stream: oldest first after the cursor; the cursor moves to the last entry returned. */
export async function activityPage(db: Database, shard: number, projectId: string, q: ActivityQueryInput) {
  const afterSeq = parseProjectAfter(q.after, shard);
  const filter: ActivityFilter = { projectId, kinds: parseKinds(q.kind), source: q.source, issueId: q.issueId };
  // One more than asked: whether a next page exists now.
  const rows = await listActivity(db, filter, { afterSeq, limit: q.limit + 1 });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  const tail = last ? String(activityPosition(shard, last.seq)) : afterSeq !== null ? String(activityPosition(shard, afterSeq)) : null;
  return { items: page.map((row) => activityToApi(row, shard)), nextCursor: rows.length > q.limit ? tail : null, tailCursor: tail };
}

/**
 * The cursor of the stream of every project: one read position (seq) per shard, opaque to clients
 * (`c` + base64url of `shard:seq,…`). A shard without a position is read from its oldest entry.
 */
function encodeFeedCursor(positions: ReadonlyMap<number, number>): string | null {
  if (positions.size === 0) return null;
  const text = [...positions].sort(([a], [b]) => a - b).map(([shard, seq]) => `${shard}:${seq}`).join(",");
  return `c${btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

function decodeFeedCursor(env: Env, cursor: string): Map<number, number> {
  let text: string;
  try {
    text = atob(cursor.slice(1).replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    throw new ValidationFailed(NOT_A_CURSOR);
  }
  const positions = new Map<number, number>();
  for (const part of text.split(",")) {
    const m = /^(\d{1,4}):(\d{1,13})$/.exec(part);
    if (!m) throw new ValidationFailed(NOT_A_CURSOR);
    // A shard no longer bound is skipped: its entries cannot be read anyway.
    if (shardExists(env, Number(m[1]))) positions.set(Number(m[1]), Number(m[2]));
  }
  return positions;
}

/**
 * An entry's id as the cursor of the merged stream: its shard resumes after it; every other shard
 * after what the merge (time, then shard) put before it. An entry no longer kept: its shard only.
 */
async function positionsAfterEntry(env: Env, position: number): Promise<Map<number, number>> {
  const at = splitPosition(position);
  if (!shardExists(env, at.shard)) throw new ValidationFailed([{ field: "after", message: `names shard ${at.shard}, which this deployment does not have` }]);
  const positions = new Map([[at.shard, at.seq]]);
  const entry = await activityAt(shardDatabase(env, at.shard), at.seq);
  if (!entry) return positions;
  for (const { shard, db } of allShardDatabases(env)) {
    if (shard !== at.shard) positions.set(shard, await seqBeforeTime(db, entry.createdAt, shard > at.shard));
  }
  return positions;
}

/**
 * One page of every project's stream: each shard's entries after its position in the cursor, merged
 * oldest first by time, then shard (each shard's own order kept), so a shard's position only moves
 * past entries returned: nothing is skipped or returned twice, whatever the shards' clocks.
 */
export async function allActivityPage(env: Env, q: ActivityQueryInput) {
  const after = q.after === undefined || q.after === "" ? new Map<number, number>() : q.after.startsWith("c") ? decodeFeedCursor(env, q.after) : await positionsAfterEntry(env, parsePosition(q.after)!);
  const filter: ActivityFilter = { kinds: parseKinds(q.kind), source: q.source, issueId: q.issueId };
  // One more than asked from each shard: whether a next page exists now.
  const pages = await Promise.all(
    allShardDatabases(env).map(async ({ shard, db }) => ({ shard, rows: await listActivity(db, filter, { afterSeq: after.get(shard) ?? null, limit: q.limit + 1 }), next: 0 })),
  );
  const positions = new Map(after);
  const items: z.infer<typeof ActivitySchema>[] = [];
  while (items.length < q.limit) {
    let pick: (typeof pages)[number] | undefined;
    for (const p of pages) {
      const head = p.rows[p.next];
      if (head && (!pick || head.createdAt < pick.rows[pick.next]!.createdAt)) pick = p;
    }
    if (!pick) break;
    const row = pick.rows[pick.next++]!;
    positions.set(pick.shard, row.seq);
    items.push(activityToApi(row, pick.shard));
  }
  const tail = encodeFeedCursor(positions);
  return { items, nextCursor: pages.some((p) => p.next < p.rows.length) ? tail : null, tailCursor: tail };
}

const ConflictParams = ProjectIdParams.extend({ conflictId: IdParam("conflictId") });
const IssueParams = ProjectIdParams.extend({ issueId: IdParam("issueId") });

const Resolve = z.strictObject({ keep: z.enum(["local", "tracker"]).openapi({ description: "The side whose value (as recorded in the conflict) the issue takes" }) }).openapi("ResolveConflict");

const Resolved = z
  .object({ conflict: ConflictSchema, issue: IssueSchema, pushQueued: z.boolean().openapi({ description: "True when the tracker must change too: a push was queued" }) })
  .openapi("ConflictResolved");

const routes = {
  projectActivity: createRoute({
    operationId: "listProjectActivity",
    method: "get",
    path: "/projects/{projectId}/activity",
    tags: ["activity"],
    summary: "The project's activity stream, oldest first: every change to its issues, conflicts, pushes, settings",
    request: { params: ProjectIdParams, query: ActivityQuery },
    responses: { 200: jsonContent(ActivityList, "Entries after the cursor, oldest first"), ...problemResponses },
  }),
  allActivity: createRoute({
    operationId: "listActivity",
    method: "get",
    path: "/activity",
    tags: ["activity"],
    summary: "Every project's activity stream in one, oldest first (follow it like a log)",
    request: { query: ActivityQuery.extend({ projectId: z.string().max(64).optional() }) },
    responses: { 200: jsonContent(ActivityList, "Entries after the cursor, oldest first"), ...problemResponses },
  }),
  resolve: createRoute({
    operationId: "resolveConflict",
    method: "post",
    path: "/projects/{projectId}/conflicts/{conflictId}/resolve",
    tags: ["sync"],
    summary: "Settle a conflict by hand: keep the local value or take the tracker's (pushed when the tracker must change)",
    request: { params: ConflictParams, body: jsonBody(Resolve) },
    responses: { 200: jsonContent(Resolved, "The resolved conflict and the issue as it is now"), ...problemResponses, ...conflictResponse },
  }),
  retryPush: createRoute({
    operationId: "retryIssuePush",
    method: "post",
    path: "/projects/{projectId}/issues/{issueId}/retry-push",
    tags: ["issues"],
    summary: "Queue a failed push again",
    request: { params: IssueParams },
    responses: {
      202: jsonContent(z.object({ status: z.literal("queued"), issueId: z.string() }).openapi("PushRetried"), "The push is queued"),
      ...problemResponses,
      ...conflictResponse,
    },
  }),
  retryCommentPush: createRoute({
    operationId: "retryCommentPush",
    method: "post",
    path: "/projects/{projectId}/comments/{commentId}/retry-push",
    tags: ["comments"],
    summary: "Queue a failed comment push again (refused by the tracker, or out of retries)",
    request: { params: ProjectIdParams.extend({ commentId: IdParam("commentId") }) },
    responses: {
      202: jsonContent(z.object({ status: z.literal("queued"), commentId: z.string() }).openapi("CommentPushRetried"), "The push is queued"),
      ...problemResponses,
      ...conflictResponse,
    },
  }),
};

export const activityRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.projectActivity, async (c) =>
    c.json(await activityPage(projectDatabase(c.env, c.var.project), c.var.project.shard, c.var.project.id, c.req.valid("query")), 200),
  )
  .openapi(routes.allActivity, async (c) => {
    const { projectId, ...q } = c.req.valid("query");
    if (projectId === undefined) return c.json(await allActivityPage(c.env, q), 200);
    // One project's entries are in its shard.
    const shard = await shardOfProject(c.env, projectId);
    return c.json(await activityPage(shardDatabase(c.env, shard), shard, projectId, q), 200);
  })
  .openapi(routes.resolve, async (c) => {
    const { conflictId } = c.req.valid("param");
    const { keep } = c.req.valid("json");
    const r = await resolveConflict(c.env, projectDatabase(c.env, c.var.project), c.var.project, conflictId, keep, { source: "api", actor: c.var.apiToken.name });
    return c.json({ conflict: conflictToApi(r.conflict), issue: issueToApi(r.issue, await peopleOfRows(projectDatabase(c.env, c.var.project), c.var.project, [r.issue])), pushQueued: r.pushQueued }, 200);
  })
  .openapi(routes.retryPush, async (c) => {
    const { issueId } = c.req.valid("param");
    await retryPush(c.env, projectDatabase(c.env, c.var.project), c.var.project, issueId, { source: "api", actor: c.var.apiToken.name });
    return c.json({ status: "queued" as const, issueId }, 202);
  })
  .openapi(routes.retryCommentPush, async (c) => {
    const { commentId } = c.req.valid("param");
    await retryCommentPush(c.env, projectDatabase(c.env, c.var.project), c.var.project, commentId, { source: "api", actor: c.var.apiToken.name });
    return c.json({ status: "queued" as const, commentId }, 202);
  });
