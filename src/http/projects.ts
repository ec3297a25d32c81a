import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bytesToBase64Url, openProjectSecret, sealProjectSecret } from "../crypto";
import { forgetProject, listProjectsOfAllShards, placeProject, projectDatabase, shardExists, shardNumbers } from "../db/shards";
import { appRepositoryOfProject, unlinkProject } from "../db/credentials";
import { hasLinkedIssues } from "../db/issues";
import { deleteProject, insertProject, updateProject, type NewProject } from "../db/projects";
import type { ProjectRow } from "../db/schema";
import { NotFound, StateConflict, Unprocessable, ValidationFailed, type FieldError } from "../errors";
import { newId, nowIso } from "../ids";
import { APP_INSTALLATION_PROVIDERS, checkApiBaseUrl, DEFAULT_API_BASE_URL, hasInternalComments, originOf, parseInsecureHosts, repositoryFormatProblem } from "../providers";
import { PROVIDERS, type Provider } from "../providers/types";
import { projectCreatedActivity, projectDeletedActivity, projectUpdatedActivity } from "../sync/project-activity";
import { appBaseProblem, githubAppConfig, resetCredentialHealth } from "../sync/credentials";
import { conflictResponse, decodeCursor, IsoTimestamp, jsonBody, jsonContent, listOf, ListQuery, pageOf, problemResponses, ProblemSchema, ProjectIdParams, IdempotencyHeaders } from "./common";
import { prAutomationOf } from "../sync/pull-requests";
import type { AppEnv } from "./project";
import { assertSameRepository } from "../sync/repository";
import { validationHook } from "./validation";
import { checkSettings, DryRunSchema, NOT_DRY_RUNNABLE, SettingsFields, SettingsSchemaFields, settingsPatch } from "./project-settings";
import { dryRun } from "../sync/dry-run";
import { settingsColumns, settingsOf, type ProjectSettings } from "../sync/project-settings";
import { forgetEdgeProject } from "./webhook-projects";

const Direction = z.enum(["inbound", "outbound", "bidirectional"]);
const Master = z.enum(["tracker", "local"]);
const DeletionPolicy = z.enum(["orphan", "delete", "recreate"]);

const ApiBaseUrl = z
  .url({ protocol: /^https?$/ })
  .max(500)
  .openapi({ description: "Tracker API root; default for github and gitlab.com, required for gitea" });

const StatusLabel = z.string().trim().min(1).max(255);

const PrAutomationSchema = z
  .strictObject({
    closeOnMerge: z.enum(["default_branch", "any_branch", "never"]).openapi({
      description:
        "Close the local issue when the last of its closing pull requests merges: into the default branch only, into any branch, or never (default)",
    }),
    statusLabels: z
      .strictObject({ in_progress: StatusLabel.optional(), in_review: StatusLabel.optional() })
      .optional()
      .openapi({ description: "Labels kept on an issue while its development status is in_progress / in_review" }),
  })
  .openapi("PrAutomation");

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
  token: z
    .string()
    .min(1)
    .max(2000)
    // A header value cannot hold CR/LF: such a token would fail every run as a "network error".
    .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain line breaks or other control characters")
    .openapi({ description: "Tracker API token; stored encrypted, bound to the apiBaseUrl's origin, never returned" }),
  webhookSecret: z
    .string()
    // One captured delivery allows an offline guess of the secret: 20 characters or more.
    .min(20, "must be at least 20 characters")
    .max(500)
    .openapi({ description: "Webhook secret (at least 20 characters); stored encrypted, never returned" }),
  installationId: z
    .number()
    .int()
    .positive()
    .max(Number.MAX_SAFE_INTEGER)
    .openapi({ description: "GitHub only: the GitHub App installation to connect with, instead of a token" }),
  syncDirection: Direction,
  master: Master.optional(),
  deletionPolicy: DeletionPolicy.optional(),
  syncEnabled: z.boolean().optional(),
  commentAttribution: z
    .boolean()
    .optional()
    .openapi({ description: "Start comments posted with the sync's token with a line naming their local author (default false)" }),
  gitlabInternalNotes: z
    .boolean()
    .optional()
    .openapi({ description: "GitLab only: send internal comments as internal notes (default false: internal comments never leave Syndarix)" }),
  ...SettingsFields,
  prAutomation: PrAutomationSchema.optional(),
};

const CreateProject = z
  .strictObject({
    ...ProjectFields,
    token: ProjectFields.token.optional().openapi({ description: 'Tracker API token (or "installationId" for GitHub); stored encrypted, never returned' }),
    webhookSecret: ProjectFields.webhookSecret
      .optional()
      .openapi({ description: "Webhook secret (not needed with installationId: the App's webhook is used); stored encrypted, never returned" }),
    installationId: ProjectFields.installationId.optional(),
    fieldMaps: SettingsFields.fieldMaps.optional(),
    labelPolicy: SettingsFields.labelPolicy.optional(),
    milestonePolicy: SettingsFields.milestonePolicy.optional(),
    scope: SettingsFields.scope.optional(),
    fieldDirections: SettingsFields.fieldDirections.optional(),
    shard: z
      .number()
      .int()
      .min(0)
      .optional()
      .openapi({ description: "The D1 database the project's rows live in (0: `DB`, n: `DB_SHARD_n`); fixed at creation; default 0" }),
  })
  .openapi("CreateProject");
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

/** Rules that span fields, checked on the project as it would be after the write. */
function checkProjectRules(
  p: {
    provider: Provider;
    apiBaseUrl: string | undefined;
    repository: string;
    syncDirection: string;
    deletionPolicy: string;
  },
  insecureHosts: readonly string[],
): { errors: FieldError[]; apiBaseUrl: string } {
  const errors: FieldError[] = [];
  let apiBaseUrl = "";
  if (!p.apiBaseUrl) errors.push({ field: "apiBaseUrl", message: `is required for ${p.provider}` });
  else {
    const checked = checkApiBaseUrl(p.apiBaseUrl, insecureHosts);
    if (checked.ok) apiBaseUrl = checked.value;
    else errors.push({ field: "apiBaseUrl", message: checked.problem });
  }
  const repositoryProblem = repositoryFormatProblem(p.provider, p.repository);
  if (repositoryProblem) errors.push({ field: "repository", message: repositoryProblem });
  if (p.deletionPolicy === "recreate" && p.syncDirection !== "outbound") {
    errors.push({ field: "deletionPolicy", message: '"recreate" is only allowed for outbound projects' });
  }
  return { errors, apiBaseUrl };
}

/** Columns a new project row gets from their defaults (for the activity entry describing it). */
const NEW_PROJECT_DEFAULTS = {
  cursor: null,
  cursorEtag: null,
  commentCursor: null,
  commentCursorEtag: null,
  nextCreateAt: null,
  lastIncrementalSyncAt: null,
  lastFullSyncAt: null,
  lastError: null,
  trackerRepositoryId: null,
  trackerRepositoryName: null,
  accessLostAt: null,
  accessError: null,
  fieldMaps: null,
  labelPolicy: null,
  milestonePolicy: null,
  scope: null,
  fieldDirections: null,
};
/**
 * How the project authenticates after the write: exactly one of `token` and `installationId`
 * (GitHub only), and a webhook secret unless the App's webhook serves it.
 */
function checkAuthRules(
  provider: Provider,
  input: { token?: string | undefined; installationId?: number | undefined; webhookSecret?: string | undefined },
  current: ProjectRow | null,
  appConfigured: boolean,
): { errors: FieldError[]; installationId: number | null } {
  const errors: FieldError[] = [];
  if (input.token !== undefined && input.installationId !== undefined) {
    errors.push({ field: "installationId", message: 'give either "token" or "installationId", not both' });
  }
  const installationId = input.installationId ?? (input.token !== undefined ? null : (current?.installationId ?? null));
  const appCapable = APP_INSTALLATION_PROVIDERS.includes(provider);
  if (installationId !== null && !appCapable) {
    errors.push({ field: "installationId", message: `is for GitHub App installations only; ${provider} projects use "token"` });
  }
  if (input.installationId !== undefined && !appConfigured) {
    errors.push({ field: "installationId", message: "the Worker has no GitHub App configured (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY)" });
  }
  if (installationId === null && input.token === undefined && (current === null || current.tokenEnc === "")) {
    errors.push({ field: "token", message: appCapable ? 'is required (or "installationId" for a GitHub App installation)' : "is required" });
  }
  if (current === null && installationId === null && input.webhookSecret === undefined) {
    errors.push({ field: "webhookSecret", message: 'is required (unless the project uses "installationId")' });
  }
  return { errors, installationId };
}

/**
 * An App project talks only to the App's configured API base: the App's JWT (which can mint tokens
 * for every installation) is never signed for a host an API token chose. 422 naming `apiBaseUrl`.
 */
function assertAppBase(app: ReturnType<typeof githubAppConfig>, installationId: number | null, apiBaseUrl: string): void {
  if (installationId === null || !app) return;
  const problem = appBaseProblem(app, apiBaseUrl);
  if (problem) throw new Unprocessable([{ field: "apiBaseUrl", message: problem }]);
}

/** App projects need no per-project webhook: an unguessable secret keeps that endpoint shut. */
function randomSecret(): string {
  return bytesToBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

const routes = {
  create: createRoute({
    operationId: "createProject",
    method: "post",
    path: "/",
    tags: ["projects"],
    summary: "Register a project and its tracker",
    request: { headers: IdempotencyHeaders, body: jsonBody(CreateProject) },
    responses: {
      201: jsonContent(ProjectSchema, "The project"),
      ...problemResponses,
      422: { description: "An `installationId` project whose `apiBaseUrl` is not the GitHub App's API base (`errors` names `apiBaseUrl`)", content: { "application/problem+json": { schema: ProblemSchema } } },
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

/** Internal notes exist only on GitLab: the opt-in is refused for the other trackers. */
function internalNotesErrors(provider: Provider, on: boolean): FieldError[] {
  return on && !hasInternalComments(provider) ? [{ field: "gitlabInternalNotes", message: `only GitLab has internal notes; not available for ${provider}` }] : [];
}

export const projectsRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.create, async (c) => {
    const input = c.req.valid("json");
    const app = githubAppConfig(c.env);
    // An App project without apiBaseUrl talks to the App's own API base.
    const apiBaseUrl = input.apiBaseUrl ?? (input.installationId !== undefined && app ? app.apiBaseUrl : DEFAULT_API_BASE_URL[input.provider] ?? undefined);
    const deletionPolicy = input.deletionPolicy ?? "orphan";
    const auth = checkAuthRules(input.provider, input, null, app !== null);
    const checked = checkProjectRules({ ...input, apiBaseUrl, deletionPolicy }, parseInsecureHosts(c.env.ALLOW_INSECURE_TRACKER_HOSTS));
    const settings = settingsPatch(input);
    const settingsCheck = checkSettings(input.syncDirection, { ...settingsOf({}), ...settings });
    const errors = [...checked.errors, ...auth.errors, ...internalNotesErrors(input.provider, input.gitlabInternalNotes ?? false), ...settingsCheck.invalid];
    const shard = input.shard ?? 0;
    if (!shardExists(c.env, shard)) errors.push({ field: "shard", message: `no such shard; this Worker binds ${shardNumbers(c.env).join(", ")}` });
    if (errors.length) throw new ValidationFailed(errors);
    assertAppBase(app, auth.installationId, checked.apiBaseUrl);
    if (settingsCheck.unprocessable.length) throw new Unprocessable(settingsCheck.unprocessable);
    const id = newId();
    const now = nowIso();
    const origin = { source: "api" as const, actor: c.var.apiToken.name };
    // Secrets are bound to the origin they were given for (never sent anywhere else).
    const apiOrigin = originOf(checked.apiBaseUrl);
    const fields = {
      id,
      name: input.name,
      provider: input.provider,
      apiBaseUrl: checked.apiBaseUrl,
      repository: input.repository,
      syncDirection: input.syncDirection,
      master: input.master ?? "tracker",
      deletionPolicy,
      syncEnabled: input.syncEnabled ?? true,
      commentAttribution: input.commentAttribution ?? false,
      gitlabInternalNotes: input.gitlabInternalNotes ?? false,
      prAutomation: input.prAutomation ? JSON.stringify(input.prAutomation) : null,
      // App projects hold no token of their own: the installation's tokens are minted as needed.
      tokenEnc: input.token !== undefined ? await sealProjectSecret(c.env.TOKEN_ENCRYPTION_KEY, id, "token", input.token, apiOrigin) : "",
      webhookSecretEnc: await sealProjectSecret(c.env.TOKEN_ENCRYPTION_KEY, id, "webhookSecret", input.webhookSecret ?? randomSecret(), apiOrigin),
      installationId: auth.installationId,
      shard,
      ...settingsColumns(settings),
      createdAt: now,
      updatedAt: now,
    };
    // The directory entry first: a project row is never in a shard the directory does not name.
    await placeProject(c.env, id, shard);
    const row = await insertProject(projectDatabase(c.env, fields), fields, projectCreatedActivity({ ...NEW_PROJECT_DEFAULTS, ...fields }, origin, now));
    return c.json(projectToApi(row, settingsCheck.warnings), 201);
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
    const app = githubAppConfig(c.env);
    const auth = checkAuthRules(provider, input, current, app !== null);
    const checked = checkProjectRules(next, parseInsecureHosts(c.env.ALLOW_INSECURE_TRACKER_HOSTS));
    const settings = settingsPatch(input);
    const nextSettings: ProjectSettings = { ...settingsOf(current), ...settings };
    const settingsCheck = checkSettings(next.syncDirection, nextSettings);
    const errors = [
      ...checked.errors,
      ...auth.errors,
      ...internalNotesErrors(provider, input.gitlabInternalNotes ?? (input.provider !== undefined ? false : current.gitlabInternalNotes)),
      ...settingsCheck.invalid,
    ];
    if (errors.length) throw new ValidationFailed(errors);
    assertAppBase(app, auth.installationId, checked.apiBaseUrl);
    if (settingsCheck.unprocessable.length) throw new Unprocessable(settingsCheck.unprocessable);
    if (c.req.valid("query").dryRun === "true") {
      const connection = NOT_DRY_RUNNABLE.filter((f) => input[f] !== undefined);
      if (connection.length) throw new ValidationFailed(connection.map((field) => ({ field, message: "cannot be dry-run (it points the project at another tracker or credential); leave it out of a dry run" })));
      const candidate: ProjectRow = {
        ...current,
        ...(input.syncDirection !== undefined ? { syncDirection: input.syncDirection } : {}),
        ...(input.master !== undefined ? { master: input.master } : {}),
        ...settingsColumns(settings),
      };
      return c.json({ dryRun: true as const, ...(await dryRun(c.env, current, candidate)) }, 200);
    }
    // The stored token was given for the current origin: another origin needs a token given for it
    // (App projects mint their tokens for whatever apiBaseUrl they have).
    const apiOrigin = originOf(checked.apiBaseUrl);
    const originChanged = apiOrigin !== originOf(current.apiBaseUrl);
    if (originChanged && input.token === undefined && auth.installationId === null) {
      throw new Unprocessable([
        { field: "token", message: `is required when the API origin changes (to ${apiOrigin}): the stored token is never sent to another origin` },
      ]);
    }
    const pointsElsewhere = next.repository !== current.repository || checked.apiBaseUrl !== current.apiBaseUrl;
    const sameRepositoryRequired = next.provider === current.provider && pointsElsewhere && (await hasLinkedIssues(db, projectId));
    if (sameRepositoryRequired) {
      // Another name or address is fine for the same repository (a rename keeps its id); another repository is not.
      await assertSameRepository(c.env, current, { apiBaseUrl: checked.apiBaseUrl, repository: next.repository, token: input.token });
    }
    const patch: Partial<NewProject> = {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.master !== undefined ? { master: input.master } : {}),
      ...(input.syncEnabled !== undefined ? { syncEnabled: input.syncEnabled } : {}),
      ...(input.commentAttribution !== undefined ? { commentAttribution: input.commentAttribution } : {}),
      ...(input.gitlabInternalNotes !== undefined ? { gitlabInternalNotes: input.gitlabInternalNotes } : {}),
      ...(input.prAutomation !== undefined ? { prAutomation: JSON.stringify(input.prAutomation) } : {}),
      ...(provider !== "gitlab" ? { gitlabInternalNotes: false } : {}),
      provider: next.provider,
      apiBaseUrl: checked.apiBaseUrl,
      repository: next.repository,
      syncDirection: next.syncDirection,
      deletionPolicy: next.deletionPolicy,
      ...settingsColumns(settings),
    };
    // Pointing the project at another tracker or repository invalidates the incremental cursor.
    if (patch.provider !== current.provider || patch.apiBaseUrl !== current.apiBaseUrl || patch.repository !== current.repository) {
      patch.cursor = null;
      patch.cursorEtag = null;
      patch.commentCursor = null;
      patch.commentCursorEtag = null;
      // The configured name is used again (and the tracker's current name learned afresh).
      patch.trackerRepositoryName = null;
      // Without linked issues it may be another repository: its id is learned afresh.
      if (!sameRepositoryRequired) patch.trackerRepositoryId = null;
    }
    const key = c.env.TOKEN_ENCRYPTION_KEY;
    if (input.token !== undefined) patch.tokenEnc = await sealProjectSecret(key, projectId, "token", input.token, apiOrigin);
    patch.installationId = auth.installationId;
    if (auth.installationId !== null) patch.tokenEnc = "";
    if (input.webhookSecret !== undefined) {
      patch.webhookSecretEnc = await sealProjectSecret(key, projectId, "webhookSecret", input.webhookSecret, apiOrigin);
    } else if (originChanged) {
      // The webhook secret stays the same secret; only its binding follows the new origin.
      const secret = await openProjectSecret(key, projectId, "webhookSecret", current.webhookSecretEnc, originOf(current.apiBaseUrl));
      patch.webhookSecretEnc = await sealProjectSecret(key, projectId, "webhookSecret", secret, apiOrigin);
    }
    const activity = projectUpdatedActivity(
      current,
      patch,
      { token: input.token !== undefined, webhookSecret: input.webhookSecret !== undefined },
      { source: "api", actor: c.var.apiToken.name },
      nowIso(),
    );
    const row = await updateProject(db, projectId, patch, activity);
    forgetEdgeProject(projectId); // saves this isolate's webhook edge a reload; others check in the insert
    if (!row) throw new NotFound("project", projectId);
    // Another repository or installation: the App link is learned again (by name, then by id).
    if (row.installationId !== current.installationId || row.repository !== current.repository || row.apiBaseUrl !== current.apiBaseUrl) {
      // Only the installation changed, to the one the linked repository is in now (a transfer): the link stays.
      const linked = row.repository === current.repository && row.apiBaseUrl === current.apiBaseUrl ? await appRepositoryOfProject(db, projectId) : undefined;
      if (row.installationId === null || linked?.installationId !== row.installationId) await unlinkProject(db, projectId);
    }
    // A new token (or installation) given by hand: whatever refused the old one, try this one.
    if (input.token !== undefined || input.installationId !== undefined) await resetCredentialHealth(c.env, db, row);
    return c.json(projectToApi(row, settingsCheck.warnings), 200);
  })
  .openapi(routes.remove, async (c) => {
    const { projectId } = c.req.valid("param");
    const deleted = await deleteProject(projectDatabase(c.env, c.var.project), projectId, projectDeletedActivity(c.var.project, { source: "api", actor: c.var.apiToken.name }, nowIso()));
    forgetEdgeProject(projectId);
    if (!deleted) throw new NotFound("project", projectId);
    await forgetProject(c.env, projectId);
    return c.body(null, 204);
  });
