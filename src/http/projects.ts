import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { deleteProject } from "../db/projects";
import { forgetProject, listProjectsOfAllShards, projectDatabase } from "../db/shards";
import type { ProjectRow } from "../db/schema";
import { NotFound, type FieldError } from "../errors";
import { nowIso } from "../ids";
import { PROVIDERS } from "../providers/types";
import { changeProject, createProject, CreateProject, DeletionPolicy, Direction, Master, PrAutomationSchema, previewProjectChange, UpdateProject } from "../jobs/projects";
import { DryRunSchema, SettingsSchemaFields } from "../jobs/project-settings";
import { projectDeletedActivity } from "../sync/project-activity";
import { settingsOf } from "../sync/project-settings";
import { prAutomationOf } from "../sync/pull-requests";
import { conflictResponse, decodeCursor, IsoTimestamp, jsonBody, jsonContent, listOf, ListQuery, pageOf, problemResponses, ProblemSchema, ProjectIdParams, IdempotencyHeaders } from "./common";
import type { AppEnv } from "./project";
import { validationHook } from "./validation";
import { forgetEdgeProject } from "./webhook-projects";

export const ProjectSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    provider: z.enum(PROVIDERS),
    apiBaseUrl: z.string(),
    repository: z.string(),
    syncDirection: Direction,
    master: Master,
    deletionPolicy: DeletionPolicy,
    syncEnabled: z.boolean(),
    webhookUrl: z.string().openapi({ description: "Path to register in the tracker: /webhooks/<provider>/<id> (App projects: /webhooks/github-app)" }),
    installationId: z.number().int().nullable().openapi({ description: "The GitHub App installation the project is connected with; null when it uses a token" }),
    commentAttribution: z.boolean(),
    gitlabInternalNotes: z.boolean(),
    prAutomation: PrAutomationSchema,
    createdAt: IsoTimestamp,
    updatedAt: IsoTimestamp,
    lastIncrementalSyncAt: IsoTimestamp.nullable(),
    lastFullSyncAt: IsoTimestamp.nullable(),
    lastError: z.string().nullable(),
    shard: z.number().int().openapi({ description: "The D1 database holding the project's rows (0: `DB`, n: `DB_SHARD_n`)" }),
    ...SettingsSchemaFields,
  })
  .openapi("Project");

export function projectToApi(p: ProjectRow, warnings?: FieldError[]): z.infer<typeof ProjectSchema> {
  const settings = settingsOf(p);
  return {
    ...settings,
    ...(warnings && warnings.length > 0 ? { warnings } : {}),
    id: p.id,
    name: p.name,
    provider: p.provider,
    apiBaseUrl: p.apiBaseUrl,
    repository: p.repository,
    syncDirection: p.syncDirection,
    master: p.master,
    deletionPolicy: p.deletionPolicy,
    syncEnabled: p.syncEnabled,
    webhookUrl: p.installationId !== null ? "/webhooks/github-app" : `/webhooks/${p.provider}/${p.id}`,
    installationId: p.installationId,
    commentAttribution: p.commentAttribution,
    gitlabInternalNotes: p.gitlabInternalNotes,
    prAutomation: prAutomationOf(p),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    lastIncrementalSyncAt: p.lastIncrementalSyncAt,
    lastFullSyncAt: p.lastFullSyncAt,
    lastError: p.lastError,
    shard: p.shard,
  };
}

const routes = {
  create: createRoute({
    operationId: "createProject",
    method: "post",
    path: "/",
    tags: ["projects"],
    summary: "Register a project and its tracker",
    request: {
      headers: IdempotencyHeaders,
      query: z.object({
        testConnection: z
          .enum(["true", "false"])
          .optional()
          .openapi({ description: "true: read the repository with the token first; if it cannot, nothing is saved and a 422 names the field to fix and what to do (the dashboard always does)" }),
        startImport: z
          .enum(["true", "false"])
          .optional()
          .openapi({ description: "true: start the first import (a full run) at once instead of at the next cron (the dashboard always does)" }),
      }),
      body: jsonBody(CreateProject),
    },
    responses: {
      201: jsonContent(
        ProjectSchema.extend({ importRunId: z.string().optional().openapi({ description: "The first import's run, when startImport=true started one" }) }).openapi("CreatedProject"),
        "The project",
      ),
      ...problemResponses,
      422: { description: "An `installationId` project whose `apiBaseUrl` is not the GitHub App's API base (`errors` names `apiBaseUrl`), or with testConnection=true a token that cannot read the repository (`errors` names `token`, `repository` or `apiBaseUrl` and says what to do)", content: { "application/problem+json": { schema: ProblemSchema } } },
    },
  }),
  list: createRoute({
    operationId: "listProjects",
    method: "get",
    path: "/",
    tags: ["projects"],
    request: { query: ListQuery },
    responses: { 200: jsonContent(listOf(ProjectSchema, "ProjectList"), "Projects, oldest first"), ...problemResponses },
  }),
  get: createRoute({
    operationId: "getProject",
    method: "get",
    path: "/{projectId}",
    tags: ["projects"],
    request: { params: ProjectIdParams },
    responses: { 200: jsonContent(ProjectSchema, "The project"), ...problemResponses },
  }),
  update: createRoute({
    operationId: "updateProject",
    method: "patch",
    path: "/{projectId}",
    tags: ["projects"],
    summary: "Change any field; a new token or webhook secret replaces the old (with ?dryRun=true: change nothing, answer what a full run would do)",
    request: {
      params: ProjectIdParams,
      query: z.object({
        dryRun: z
          .enum(["true", "false"])
          .optional()
          .openapi({ description: "true: validate, run the decision code under the new settings with no writes, answer a DryRun" }),
        testConnection: z
          .enum(["true", "false"])
          .optional()
          .openapi({ description: "true: when the token, provider, repository or apiBaseUrl changes, read the repository with the new settings first; if it cannot, nothing is saved and a 422 names the field to fix" }),
      }),
      body: jsonBody(UpdateProject),
    },
    responses: {
      200: jsonContent(z.union([ProjectSchema, DryRunSchema]), "The project (a DryRun with ?dryRun=true)"),
      ...problemResponses,
      ...conflictResponse,
      422: { description: "The API origin changes without a new `token` (`errors` names `token`), or an `installationId` project's `apiBaseUrl` is not the GitHub App's API base (`errors` names `apiBaseUrl`)", content: { "application/problem+json": { schema: ProblemSchema } } },
    },
  }),
  remove: createRoute({
    operationId: "deleteProject",
    method: "delete",
    path: "/{projectId}",
    tags: ["projects"],
    summary: "Delete the project and its local issues, runs, deliveries and conflicts",
    request: { params: ProjectIdParams },
    responses: { 204: { description: "Deleted" }, ...problemResponses },
  }),
};

export const projectsRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.create, async (c) => {
    const options = c.req.valid("query");
    const created = await createProject(c.env, c.req.valid("json"), { source: "api", actor: c.var.apiToken.name }, {
      testConnection: options.testConnection === "true",
      startImport: options.startImport === "true",
    });
    return c.json({ ...projectToApi(created.project, created.warnings), ...(created.importRunId ? { importRunId: created.importRunId } : {}) }, 201);
  })
  .openapi(routes.list, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const rows = await listProjectsOfAllShards(c.env, { limit: limit + 1, afterId: decodeCursor(cursor) });
    return c.json(pageOf(rows, limit, projectToApi), 200);
  })
  .openapi(routes.get, async (c) => c.json(projectToApi(c.var.project), 200))
  .openapi(routes.update, async (c) => {
    const { projectId } = c.req.valid("param");
    const input = c.req.valid("json");
    const db = projectDatabase(c.env, c.var.project);
    const query = c.req.valid("query");
    if (query.dryRun === "true") return c.json({ dryRun: true as const, ...(await previewProjectChange(c.env, db, c.var.project, input)) }, 200);
    const { project, warnings } = await changeProject(c.env, db, c.var.project, input, { source: "api", actor: c.var.apiToken.name }, { testConnection: query.testConnection === "true" });
    forgetEdgeProject(projectId); // saves this isolate's webhook edge a reload; others check in the insert
    return c.json(projectToApi(project, warnings), 200);
  })
  .openapi(routes.remove, async (c) => {
    const { projectId } = c.req.valid("param");
    const deleted = await deleteProject(projectDatabase(c.env, c.var.project), projectId, projectDeletedActivity(c.var.project, { source: "api", actor: c.var.apiToken.name }, nowIso()));
    forgetEdgeProject(projectId);
    if (!deleted) throw new NotFound("project", projectId);
    await forgetProject(c.env, projectId);
    return c.body(null, 204);
  });
