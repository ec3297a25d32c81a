import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { sealProjectSecret } from "../crypto";
import { database } from "../db/client";
import { hasLinkedIssues } from "../db/issues";
import { deleteProject, insertProject, listProjects, updateProject, type NewProject } from "../db/projects";
import type { ProjectRow } from "../db/schema";
import { NotFound, StateConflict, ValidationFailed, type FieldError } from "../errors";
import { newId, nowIso } from "../ids";
import { DEFAULT_API_BASE_URL, repositoryFormatProblem } from "../providers";
import { PROVIDERS, type Provider } from "../providers/types";
import { conflictResponse, decodeCursor, IsoTimestamp, jsonBody, jsonContent, listOf, ListQuery, pageOf, problemResponses, ProjectIdParams } from "./common";
import type { AppEnv } from "./project";
import { assertSameRepository } from "../sync/repository";
import { validationHook } from "./validation";

const Direction = z.enum(["inbound", "outbound", "bidirectional"]);
const Master = z.enum(["tracker", "local"]);
const DeletionPolicy = z.enum(["orphan", "delete", "recreate"]);

const ApiBaseUrl = z
  .url({ protocol: /^https?$/ })
  .max(500)
  .openapi({ description: "Tracker API root; default for github and gitlab.com, required for gitea" });

const ProjectFields = {
  name: z.string().trim().min(1).max(200),
  provider: z.enum(PROVIDERS),
  apiBaseUrl: ApiBaseUrl.optional(),
  repository: z
    .string()
    .trim()
    .min(1)
    .max(300)
    .openapi({ description: '"owner/name"; GitLab: "group/sub/project" or the numeric id' }),
  token: z.string().min(1).max(2000).openapi({ description: "Tracker API token; stored encrypted, never returned" }),
  webhookSecret: z.string().min(8).max(500).openapi({ description: "Webhook secret; stored encrypted, never returned" }),
  syncDirection: Direction,
  master: Master.optional(),
  deletionPolicy: DeletionPolicy.optional(),
  syncEnabled: z.boolean().optional(),
};

const CreateProject = z.strictObject(ProjectFields).openapi("CreateProject");
const UpdateProject = z.strictObject(ProjectFields).partial().openapi("UpdateProject");

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
    webhookUrl: z.string().openapi({ description: "Path to register in the tracker: /webhooks/<provider>/<id>" }),
    createdAt: IsoTimestamp,
    updatedAt: IsoTimestamp,
    lastIncrementalSyncAt: IsoTimestamp.nullable(),
    lastFullSyncAt: IsoTimestamp.nullable(),
    lastError: z.string().nullable(),
  })
  .openapi("Project");

export function projectToApi(p: ProjectRow): z.infer<typeof ProjectSchema> {
  return {
    id: p.id,
    name: p.name,
    provider: p.provider,
    apiBaseUrl: p.apiBaseUrl,
    repository: p.repository,
    syncDirection: p.syncDirection,
    master: p.master,
    deletionPolicy: p.deletionPolicy,
    syncEnabled: p.syncEnabled,
    webhookUrl: `/webhooks/${p.provider}/${p.id}`,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    lastIncrementalSyncAt: p.lastIncrementalSyncAt,
    lastFullSyncAt: p.lastFullSyncAt,
    lastError: p.lastError,
  };
}

/** Rules that span fields, checked on the project as it would be after the write. */
function checkProjectRules(p: {
  provider: Provider;
  apiBaseUrl: string | undefined;
  repository: string;
  syncDirection: string;
  deletionPolicy: string;
}): FieldError[] {
  const errors: FieldError[] = [];
  if (!p.apiBaseUrl) errors.push({ field: "apiBaseUrl", message: `is required for ${p.provider}` });
  const repositoryProblem = repositoryFormatProblem(p.provider, p.repository);
  if (repositoryProblem) errors.push({ field: "repository", message: repositoryProblem });
  if (p.deletionPolicy === "recreate" && p.syncDirection !== "outbound") {
    errors.push({ field: "deletionPolicy", message: '"recreate" is only allowed for outbound projects' });
  }
  return errors;
}


const routes = {
  create: createRoute({
    method: "post",
    path: "/",
    tags: ["projects"],
    summary: "Register a project and its tracker",
    request: { body: jsonBody(CreateProject) },
    responses: { 201: jsonContent(ProjectSchema, "The project"), ...problemResponses },
  }),
  list: createRoute({
    method: "get",
    path: "/",
    tags: ["projects"],
    request: { query: ListQuery },
    responses: { 200: jsonContent(listOf(ProjectSchema, "ProjectList"), "Projects, oldest first"), ...problemResponses },
  }),
  get: createRoute({
    method: "get",
    path: "/{projectId}",
    tags: ["projects"],
    request: { params: ProjectIdParams },
    responses: { 200: jsonContent(ProjectSchema, "The project"), ...problemResponses },
  }),
  update: createRoute({
    method: "patch",
    path: "/{projectId}",
    tags: ["projects"],
    summary: "Change any field; a new token or webhook secret replaces the old",
    request: { params: ProjectIdParams, body: jsonBody(UpdateProject) },
    responses: { 200: jsonContent(ProjectSchema, "The project"), ...problemResponses, ...conflictResponse },
  }),
  remove: createRoute({
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
    const input = c.req.valid("json");
    const apiBaseUrl = input.apiBaseUrl ?? DEFAULT_API_BASE_URL[input.provider] ?? undefined;
    const deletionPolicy = input.deletionPolicy ?? "orphan";
    const errors = checkProjectRules({ ...input, apiBaseUrl, deletionPolicy });
    if (errors.length) throw new ValidationFailed(errors);
    const id = newId();
    const now = nowIso();
    const row = await insertProject(database(c.env.DB), {
      id,
      name: input.name,
      provider: input.provider,
      apiBaseUrl: apiBaseUrl!.replace(/\/+$/, ""),
      repository: input.repository,
      syncDirection: input.syncDirection,
      master: input.master ?? "tracker",
      deletionPolicy,
      syncEnabled: input.syncEnabled ?? true,
      tokenEnc: await sealProjectSecret(c.env.TOKEN_ENCRYPTION_KEY, id, "token", input.token),
      webhookSecretEnc: await sealProjectSecret(c.env.TOKEN_ENCRYPTION_KEY, id, "webhookSecret", input.webhookSecret),
      createdAt: now,
      updatedAt: now,
    });
    return c.json(projectToApi(row), 201);
  })
  .openapi(routes.list, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const rows = await listProjects(database(c.env.DB), { limit: limit + 1, afterId: decodeCursor(cursor) });
    return c.json(pageOf(rows, limit, projectToApi), 200);
  })
  .openapi(routes.get, async (c) => c.json(projectToApi(c.var.project), 200))
  .openapi(routes.update, async (c) => {
    const { projectId } = c.req.valid("param");
    const input = c.req.valid("json");
    const db = database(c.env.DB);
    const current = c.var.project;
    // Issue mappings hold the tracker's ids: they mean nothing on another tracker. A renamed or moved
    // repository (new `repository` or `apiBaseUrl`) keeps its issue ids, so that stays allowed.
    if (input.provider !== undefined && input.provider !== current.provider && (await hasLinkedIssues(db, projectId))) {
      throw new StateConflict(`project ${projectId} has issues linked to ${current.provider}; create a new project for another tracker`);
    }
    const provider = input.provider ?? current.provider;
    const apiBaseUrl =
      input.apiBaseUrl ?? (input.provider && input.provider !== current.provider ? DEFAULT_API_BASE_URL[provider] ?? undefined : current.apiBaseUrl);
    const next = {
      provider,
      apiBaseUrl,
      repository: input.repository ?? current.repository,
      syncDirection: input.syncDirection ?? current.syncDirection,
      deletionPolicy: input.deletionPolicy ?? current.deletionPolicy,
    };
    const errors = checkProjectRules(next);
    if (errors.length) throw new ValidationFailed(errors);
    const pointsElsewhere = next.repository !== current.repository || next.apiBaseUrl!.replace(/\/+$/, "") !== current.apiBaseUrl;
    const sameRepositoryRequired = next.provider === current.provider && pointsElsewhere && (await hasLinkedIssues(db, projectId));
    if (sameRepositoryRequired) {
      // Another name or address is fine for the same repository (a rename keeps its id); another repository is not.
      await assertSameRepository(c.env, current, { apiBaseUrl: next.apiBaseUrl!.replace(/\/+$/, ""), repository: next.repository, token: input.token });
    }
    const patch: Partial<NewProject> = {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.master !== undefined ? { master: input.master } : {}),
      ...(input.syncEnabled !== undefined ? { syncEnabled: input.syncEnabled } : {}),
      provider: next.provider,
      apiBaseUrl: next.apiBaseUrl!.replace(/\/+$/, ""),
      repository: next.repository,
      syncDirection: next.syncDirection,
      deletionPolicy: next.deletionPolicy,
    };
    // Pointing the project at another tracker or repository invalidates the incremental cursor.
    if (patch.provider !== current.provider || patch.apiBaseUrl !== current.apiBaseUrl || patch.repository !== current.repository) {
      patch.cursor = null;
      patch.cursorEtag = null;
      // The configured name is used again (and the tracker's current name learned afresh).
      patch.trackerRepositoryName = null;
      // Without linked issues it may be another repository: its id is learned afresh.
      if (!sameRepositoryRequired) patch.trackerRepositoryId = null;
    }
    if (input.token !== undefined) patch.tokenEnc = await sealProjectSecret(c.env.TOKEN_ENCRYPTION_KEY, projectId, "token", input.token);
    if (input.webhookSecret !== undefined) {
      patch.webhookSecretEnc = await sealProjectSecret(c.env.TOKEN_ENCRYPTION_KEY, projectId, "webhookSecret", input.webhookSecret);
    }
    const row = await updateProject(db, projectId, patch);
    if (!row) throw new NotFound("project", projectId);
    return c.json(projectToApi(row), 200);
  })
  .openapi(routes.remove, async (c) => {
    const { projectId } = c.req.valid("param");
    const deleted = await deleteProject(database(c.env.DB), projectId);
    if (!deleted) throw new NotFound("project", projectId);
    return c.body(null, 204);
  });
