import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type Database } from "../db/client";
import { projectDatabase } from "../db/shards";
import { fieldsOfRow, getIssue, listIssues } from "../db/issues";
import type { IssueRow, ProjectRow } from "../db/schema";
import { NotFound, ValidationFailed } from "../errors";
import { assigneesForUsers, peopleOf } from "../sync/identities";
import { CLOSE_REASONS, LOCAL_CLOSE_REASONS, type CloseReason } from "../sync/close-reason";
import { createLocalIssue, editIssue } from "../sync/local-edits";
import { developmentOf, type Development } from "../sync/pull-requests";
import { DevelopmentSchema } from "./pull-requests";
import { conflictResponse, decodeCursor, IdParam, IsoTimestamp, jsonBody, jsonContent, listOf, ListQuery, pageOf, problemResponses, ProblemSchema, ProjectIdParams, IdempotencyHeaders } from "./common";
import type { AppEnv } from "./project";
import { validationHook } from "./validation";

const SYNC_STATES = ["synced", "pending_push", "conflict", "orphaned", "error"] as const;

// Limits follow the strictest tracker (GitHub: 256-char titles, 65,536-char bodies, 10 assignees).
const Title = z.string().trim().min(1).max(256);
const Body = z.string().max(65_536);
const Labels = z.array(z.string().trim().min(1).max(100)).max(100);
const Assignees = z.array(z.string().trim().min(1).max(100)).max(10);
const Milestone = z.string().trim().min(1).max(255).nullable();
const AssigneeUsers = z
  .array(z.string().trim().min(1).max(200))
  .max(10)
  .openapi({ description: "Platform user ids, assigned through their identities on the project's tracker; assignees no identity maps are kept" });

const CreateIssue = z
  .strictObject({ title: Title, body: Body.optional(), labels: Labels.optional(), assignees: Assignees.optional(), assigneeUsers: AssigneeUsers.optional(), milestone: Milestone.optional() })
  .openapi("CreateIssue");

const UpdateIssue = z
  .strictObject({
    title: Title.optional(),
    body: Body.optional(),
    state: z.enum(["open", "closed"]).optional(),
    labels: Labels.optional(),
    assignees: Assignees.optional(),
    assigneeUsers: AssigneeUsers.optional(),
    milestone: Milestone.optional(),
    closeReason: z
      .enum(LOCAL_CLOSE_REASONS)
      .nullable()
      .optional()
      .openapi({ description: "Why the issue is closed (needs state closed). Sent to GitHub as `state_reason` with a state change; GitLab and Gitea keep it locally only" }),
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
    assignees: z.array(z.string()).openapi({ description: "Tracker logins, as the tracker holds them (mapped or not)" }),
    assigneeUsers: z.array(z.string()).openapi({ description: "Platform user ids of the assignees an identity maps (unmapped logins only in assignees)" }),
    milestone: z.string().nullable(),
    closeReason: z
      .enum(CLOSE_REASONS)
      .nullable()
      .openapi({ description: "GitHub's `state_reason`: completed, not_planned, duplicate (closed) or reopened (open); null when unknown. Local only on GitLab and Gitea" }),
    createdAt: IsoTimestamp,
    updatedAt: IsoTimestamp,
    external: z
      .object({ id: z.string(), number: z.number().int(), url: z.string().nullable().openapi({ description: "The tracker's page for the issue: an http(s) URL, or null" }), updatedAt: IsoTimestamp.nullable() })
      .nullable(),
    syncState: z.enum(SYNC_STATES),
    syncError: z.string().nullable().openapi({ description: "Why the last push or apply failed, when syncState is error" }),
    deletedAt: IsoTimestamp.nullable(),
    syncWarnings: z
      .array(z.object({ field: z.string(), reason: z.string(), sent: z.unknown(), tracker: z.unknown() }))
      .openapi({ description: "Fields the tracker accepted a write for but did not store (kept locally), from the last push" }),
    version: z.number().int().openapi({ description: 'Bumped by every local write; send it as `If-Match: "<version>"` on an edit to refuse a stale one (412)' }),
    development: DevelopmentSchema.optional().openapi({ description: "Pull requests, branches and commits linked to the issue (issue routes)" }),
  })
  .openapi("Issue");

/** The issues as the API shows them: assignees' platform users and each issue's development. */
async function issuesForApi(db: Database, project: ProjectRow, rows: IssueRow[]): Promise<z.infer<typeof IssueSchema>[]> {
  const [people, development] = await Promise.all([peopleOfRows(db, project, rows), developmentOf(db, project.id, rows)]);
  return rows.map((row) => issueToApi(row, people, development.get(row.id)));
}

/** `people`: login → platform user of the project's tracker (see `peopleOfRows`). */
export function issueToApi(row: IssueRow, people: ReadonlyMap<string, string> = new Map(), development?: Development): z.infer<typeof IssueSchema> {
  const fields = fieldsOfRow(row);
  return {
    ...(development ? { development } : {}),
    id: row.id,
    projectId: row.projectId,
    ...fields,
    assigneeUsers: fields.assignees.flatMap((login) => (people.has(login) ? [people.get(login)!] : [])),
    closeReason: (CLOSE_REASONS as readonly string[]).includes(row.closeReason ?? "") ? (row.closeReason as CloseReason) : null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    external:
      row.externalId !== null && row.externalNumber !== null
        ? { id: row.externalId, number: row.externalNumber, url: row.externalUrl || null, updatedAt: row.externalUpdatedAt }
        : null,
    syncState: row.syncState,
    syncError: row.syncError,
    deletedAt: row.deletedAt,
    syncWarnings: row.syncWarnings ? (JSON.parse(row.syncWarnings) as { field: string; reason: string; sent: unknown; tracker: unknown }[]) : [],
    version: row.version,
  };
}

/** The identities of every assignee of these rows, in one query. */
export async function peopleOfRows(db: Database, project: ProjectRow, rows: readonly IssueRow[]): Promise<Map<string, string>> {
  return peopleOf(db, project, rows.flatMap((r) => fieldsOfRow(r).assignees));
}

/** An edit naming platform users: their logins on the tracker, unmapped current assignees kept. */
async function withAssigneeLogins<T extends { assignees?: string[] | undefined; assigneeUsers?: string[] | undefined }>(
  db: Database,
  project: ProjectRow,
  input: T,
  current: readonly string[],
): Promise<Omit<T, "assigneeUsers">> {
  const { assigneeUsers, ...rest } = input;
  if (assigneeUsers === undefined) return rest;
  if (rest.assignees !== undefined) throw new ValidationFailed([{ field: "assigneeUsers", message: 'give either "assignees" (logins) or "assigneeUsers", not both' }]);
  return { ...rest, assignees: await assigneesForUsers(db, project, current, assigneeUsers) };
}

const IssueParams = z.object({ projectId: IdParam("projectId"), issueId: IdParam("issueId") });

/** `If-Match: "<version>"` (the `ETag` of the last read): the edit applies only to that version. */
const IfMatchHeaders = z.object({
  "if-match": z
    .string()
    .regex(/^(W\/)?"\d{1,15}"$/, 'must be the issue\'s ETag, e.g. "3"')
    .optional()
    .openapi({ description: "The issue's `ETag` (its version) as last read; a stale one answers 412" }),
});

/** The issue's version as an entity tag. */
export function etagOf(row: IssueRow): string {
  return `"${row.version}"`;
}

function expectedVersion(ifMatch: string | undefined): number | null {
  return ifMatch === undefined ? null : Number(/"(\d+)"/.exec(ifMatch)![1]);
}

const IssueListQuery = ListQuery.extend({
  state: z.enum(["open", "closed", "all"]).default("all"),
  updatedSince: z.iso.datetime({ offset: true }).optional().openapi({ description: "ISO-8601 instant; issues updated at or after it" }),
  externalNumber: z.coerce.number().int().positive().optional(),
  syncState: z.enum(SYNC_STATES).optional(),
});

const routes = {
  list: createRoute({
    operationId: "listIssues",
    method: "get",
    path: "/{projectId}/issues",
    tags: ["issues"],
    request: { params: ProjectIdParams, query: IssueListQuery },
    responses: { 200: jsonContent(listOf(IssueSchema, "IssueList"), "Issues, oldest first"), ...problemResponses },
  }),
  get: createRoute({
    operationId: "getIssue",
    method: "get",
    path: "/{projectId}/issues/{issueId}",
    tags: ["issues"],
    request: { params: IssueParams },
    responses: { 200: jsonContent(IssueSchema, "The issue"), ...problemResponses },
  }),
  create: createRoute({
    operationId: "createIssue",
    method: "post",
    path: "/{projectId}/issues",
    tags: ["issues"],
    summary: "Create a local issue and queue its tracker create (refused for inbound projects)",
    request: { params: ProjectIdParams, headers: IdempotencyHeaders, body: jsonBody(CreateIssue) },
    responses: { 201: jsonContent(IssueSchema, "The issue"), ...problemResponses, ...conflictResponse },
  }),
  update: createRoute({
    operationId: "updateIssue",
    method: "patch",
    path: "/{projectId}/issues/{issueId}",
    tags: ["issues"],
    summary: "Edit a local issue and queue the tracker update (refused for inbound projects)",
    request: { params: IssueParams, headers: IfMatchHeaders, body: jsonBody(UpdateIssue) },
    responses: {
      200: jsonContent(IssueSchema, "The issue (its `ETag` header is its new version)"),
      ...problemResponses,
      ...conflictResponse,
      412: { description: "`If-Match` names another version than the issue's: nothing was changed", content: { "application/problem+json": { schema: ProblemSchema } } },
    },
  }),
  close: createRoute({
    operationId: "closeIssue",
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
    const db = projectDatabase(c.env, c.var.project);
    const rows = await listIssues(db, c.var.project.id, { ...filter, updatedSince }, { limit: limit + 1, afterId });
    const page = pageOf(rows, limit, (row) => row);
    return c.json({ items: await issuesForApi(db, c.var.project, page.items), nextCursor: page.nextCursor }, 200);
  })
  .openapi(routes.get, async (c) => {
    const { issueId } = c.req.valid("param");
    const db = projectDatabase(c.env, c.var.project);
    const row = await getIssue(db, c.var.project.id, issueId);
    if (!row) throw new NotFound("issue", issueId);
    c.header("ETag", etagOf(row));
    return c.json((await issuesForApi(db, c.var.project, [row]))[0]!, 200);
  })
  .openapi(routes.create, async (c) => {
    const db = projectDatabase(c.env, c.var.project);
    const input = await withAssigneeLogins(db, c.var.project, c.req.valid("json"), []);
    const row = await createLocalIssue(c.env, db, c.var.project, input, { source: "api", actor: c.var.apiToken.name });
    c.header("ETag", etagOf(row));
    return c.json((await issuesForApi(db, c.var.project, [row]))[0]!, 201);
  })
  .openapi(routes.update, async (c) => {
    const { issueId } = c.req.valid("param");
    const db = projectDatabase(c.env, c.var.project);
    const input = c.req.valid("json");
    const ifMatch = c.req.valid("header")["if-match"];
    let current: string[] = [];
    if (input.assigneeUsers !== undefined) {
      const row = await getIssue(db, c.var.project.id, issueId);
      if (!row) throw new NotFound("issue", issueId);
      current = fieldsOfRow(row).assignees;
    }
    const patch = await withAssigneeLogins(db, c.var.project, input, current);
    const row = await editIssue(c.env, db, c.var.project, issueId, patch, { source: "api", actor: c.var.apiToken.name }, expectedVersion(ifMatch));
    c.header("ETag", etagOf(row));
    return c.json((await issuesForApi(db, c.var.project, [row]))[0]!, 200);
  })
  .openapi(routes.close, async (c) => {
    const { issueId } = c.req.valid("param");
    const db = projectDatabase(c.env, c.var.project);
    const row = await editIssue(c.env, db, c.var.project, issueId, { state: "closed" }, { source: "api", actor: c.var.apiToken.name });
    return c.json((await issuesForApi(db, c.var.project, [row]))[0]!, 200);
  });
