import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { database, type Database } from "../db/client";
import { fieldsOfRow, getIssue, listIssues } from "../db/issues";
import type { IssueRow } from "../db/schema";
import { NotFound } from "../errors";
import { createLocalIssue, editIssue } from "../sync/local-edits";
import { developmentOf, type Development } from "../sync/pull-requests";
import { DevelopmentSchema } from "./pull-requests";
import { conflictResponse, decodeCursor, IdParam, IsoTimestamp, jsonBody, jsonContent, listOf, ListQuery, pageOf, problemResponses, ProjectIdParams } from "./common";
import type { AppEnv } from "./project";
import { validationHook } from "./validation";

const SYNC_STATES = ["synced", "pending_push", "conflict", "orphaned", "error"] as const;

// Limits follow the strictest tracker (GitHub: 256-char titles, 65,536-char bodies, 10 assignees).
const Title = z.string().trim().min(1).max(256);
const Body = z.string().max(65_536);
const Labels = z.array(z.string().trim().min(1).max(100)).max(100);
const Assignees = z.array(z.string().trim().min(1).max(100)).max(10);
const Milestone = z.string().trim().min(1).max(255).nullable();

const CreateIssue = z
  .strictObject({ title: Title, body: Body.optional(), labels: Labels.optional(), assignees: Assignees.optional(), milestone: Milestone.optional() })
  .openapi("CreateIssue");

const UpdateIssue = z
  .strictObject({
    title: Title.optional(),
    body: Body.optional(),
    state: z.enum(["open", "closed"]).optional(),
    labels: Labels.optional(),
    assignees: Assignees.optional(),
    milestone: Milestone.optional(),
  })
  .openapi("UpdateIssue");

export const IssueSchema = z
  .object({
    id: z.string(),
    projectId: z.string(),
    title: z.string(),
    body: z.string(),
    state: z.enum(["open", "closed"]),
    labels: z.array(z.string()),
    assignees: z.array(z.string()),
    milestone: z.string().nullable(),
    createdAt: IsoTimestamp,
    updatedAt: IsoTimestamp,
    external: z
      .object({ id: z.string(), number: z.number().int(), url: z.string(), updatedAt: IsoTimestamp.nullable() })
      .nullable(),
    syncState: z.enum(SYNC_STATES),
    syncError: z.string().nullable().openapi({ description: "Why the last push or apply failed, when syncState is error" }),
    deletedAt: IsoTimestamp.nullable(),
    syncWarnings: z
      .array(z.object({ field: z.string(), reason: z.string(), sent: z.unknown(), tracker: z.unknown() }))
      .openapi({ description: "Fields the tracker accepted a write for but did not store (kept locally), from the last push" }),
    development: DevelopmentSchema.optional().openapi({ description: "Pull requests, branches and commits linked to the issue (issue routes)" }),
  })
  .openapi("Issue");

/** The issues as the API shows them, each with its development. */
async function issuesWithDevelopment(db: Database, projectId: string, rows: IssueRow[]): Promise<z.infer<typeof IssueSchema>[]> {
  const development = await developmentOf(db, projectId, rows);
  return rows.map((row) => issueToApi(row, development.get(row.id)));
}

export function issueToApi(row: IssueRow, development?: Development): z.infer<typeof IssueSchema> {
  return {
    ...(development ? { development } : {}),
    id: row.id,
    projectId: row.projectId,
    ...fieldsOfRow(row),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    external:
      row.externalId !== null && row.externalNumber !== null
        ? { id: row.externalId, number: row.externalNumber, url: row.externalUrl ?? "", updatedAt: row.externalUpdatedAt }
        : null,
    syncState: row.syncState,
    syncError: row.syncError,
    deletedAt: row.deletedAt,
    syncWarnings: row.syncWarnings ? (JSON.parse(row.syncWarnings) as { field: string; reason: string; sent: unknown; tracker: unknown }[]) : [],
  };
}

const IssueParams = z.object({ projectId: IdParam("projectId"), issueId: IdParam("issueId") });

const IssueListQuery = ListQuery.extend({
  state: z.enum(["open", "closed", "all"]).default("all"),
  updatedSince: z.iso.datetime({ offset: true }).optional().openapi({ description: "ISO-8601 instant; issues updated at or after it" }),
  externalNumber: z.coerce.number().int().positive().optional(),
  syncState: z.enum(SYNC_STATES).optional(),
});

const routes = {
  list: createRoute({
    method: "get",
    path: "/{projectId}/issues",
    tags: ["issues"],
    request: { params: ProjectIdParams, query: IssueListQuery },
    responses: { 200: jsonContent(listOf(IssueSchema, "IssueList"), "Issues, oldest first"), ...problemResponses },
  }),
  get: createRoute({
    method: "get",
    path: "/{projectId}/issues/{issueId}",
    tags: ["issues"],
    request: { params: IssueParams },
    responses: { 200: jsonContent(IssueSchema, "The issue"), ...problemResponses },
  }),
  create: createRoute({
    method: "post",
    path: "/{projectId}/issues",
    tags: ["issues"],
    summary: "Create a local issue and queue its tracker create (refused for inbound projects)",
    request: { params: ProjectIdParams, body: jsonBody(CreateIssue) },
    responses: { 201: jsonContent(IssueSchema, "The issue"), ...problemResponses, ...conflictResponse },
  }),
  update: createRoute({
    method: "patch",
    path: "/{projectId}/issues/{issueId}",
    tags: ["issues"],
    summary: "Edit a local issue and queue the tracker update (refused for inbound projects)",
    request: { params: IssueParams, body: jsonBody(UpdateIssue) },
    responses: { 200: jsonContent(IssueSchema, "The issue"), ...problemResponses, ...conflictResponse },
  }),
  close: createRoute({
    method: "post",
    path: "/{projectId}/issues/{issueId}/close",
    tags: ["issues"],
    summary: "Close a local issue (same as PATCH state closed)",
    request: { params: IssueParams },
    responses: { 200: jsonContent(IssueSchema, "The issue"), ...problemResponses, ...conflictResponse },
  }),
};

export const issuesRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.list, async (c) => {
    const { limit, cursor, ...filter } = c.req.valid("query");
    const afterId = decodeCursor(cursor);
    const updatedSince = filter.updatedSince ? new Date(filter.updatedSince).toISOString() : undefined;
    const db = database(c.env.DB);
    const rows = await listIssues(db, c.var.project.id, { ...filter, updatedSince }, { limit: limit + 1, afterId });
    const page = pageOf(rows, limit, (row) => row);
    return c.json({ items: await issuesWithDevelopment(db, c.var.project.id, page.items), nextCursor: page.nextCursor }, 200);
  })
  .openapi(routes.get, async (c) => {
    const { issueId } = c.req.valid("param");
    const db = database(c.env.DB);
    const row = await getIssue(db, c.var.project.id, issueId);
    if (!row) throw new NotFound("issue", issueId);
    return c.json((await issuesWithDevelopment(db, c.var.project.id, [row]))[0]!, 200);
  })
  .openapi(routes.create, async (c) => {
    const db = database(c.env.DB);
    const row = await createLocalIssue(c.env, db, c.var.project, c.req.valid("json"), { source: "api", actor: c.var.apiToken.name });
    return c.json((await issuesWithDevelopment(db, c.var.project.id, [row]))[0]!, 201);
  })
  .openapi(routes.update, async (c) => {
    const { issueId } = c.req.valid("param");
    const db = database(c.env.DB);
    const row = await editIssue(c.env, db, c.var.project, issueId, c.req.valid("json"), { source: "api", actor: c.var.apiToken.name });
    return c.json((await issuesWithDevelopment(db, c.var.project.id, [row]))[0]!, 200);
  })
  .openapi(routes.close, async (c) => {
    const { issueId } = c.req.valid("param");
    const db = database(c.env.DB);
    const row = await editIssue(c.env, db, c.var.project, issueId, { state: "closed" }, { source: "api", actor: c.var.apiToken.name });
    return c.json((await issuesWithDevelopment(db, c.var.project.id, [row]))[0]!, 200);
  });
