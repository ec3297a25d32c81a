/**
 * Creating and changing a project: the one implementation behind `POST/PATCH /api/v1/projects` and
 * the dashboard's project forms (new project, settings, pause/resume). Both parse their input with
 * the schemas below and get the same field errors (ValidationFailed 400 / Unprocessable 422, each
 * naming its field); nothing here knows about HTTP.
 */
import { z } from "@hono/zod-openapi";
import { bytesToBase64Url, openProjectSecret, sealProjectSecret } from "../crypto";
import type { ActivityOrigin } from "../db/activity";
import type { Database } from "../db/client";
import { appRepositoryOfProject, unlinkProject } from "../db/credentials";
import { hasLinkedIssues } from "../db/issues";
import { insertProject, updateProject, type NewProject } from "../db/projects";
import { placeProject, projectDatabase, shardExists, shardNumbers } from "../db/shards";
import type { ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { NotFound, StateConflict, Unprocessable, ValidationFailed, type FieldError } from "../errors";
import { newId, nowIso } from "../ids";
import { APP_INSTALLATION_PROVIDERS, checkApiBaseUrl, DEFAULT_API_BASE_URL, hasInternalComments, originOf, parseInsecureHosts, repositoryFormatProblem } from "../providers";
import { PROVIDERS, type Provider } from "../providers/types";
import { testConnection, testProjectConnection, type ConnectionResult } from "../sync/connection";
import { appBaseProblem, githubAppConfig, resetCredentialHealth } from "../sync/credentials";
import { dryRun, type DryRunReport } from "../sync/dry-run";
import { projectCreatedActivity, projectUpdatedActivity } from "../sync/project-activity";
import { settingsColumns, settingsOf, type ProjectSettings } from "../sync/project-settings";
import { assertSameRepository } from "../sync/repository";
import { startSync } from "./project-actions";
import { checkSettings, NOT_DRY_RUNNABLE, SettingsFields, settingsPatch } from "./project-settings";

export const Direction = z.enum(["inbound", "outbound", "bidirectional"]);
export const Master = z.enum(["tracker", "local"]);
export const DeletionPolicy = z.enum(["orphan", "delete", "recreate"]);

const ApiBaseUrl = z
  .url({ protocol: /^https?$/ })
  .max(500)
  .openapi({ description: "Tracker API root; default for github and gitlab.com, required for gitea" });

const StatusLabel = z.string().trim().min(1).max(255);

export const PrAutomationSchema = z
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

export const CreateProject = z
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
export const UpdateProject = z.strictObject(ProjectFields).partial().openapi("UpdateProject");

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
  pullRequestCursor: null,
  pullRequestPhaseError: null,
  pullRequestPhaseErrorAt: null,
  commentPhaseError: null,
  commentPhaseErrorAt: null,
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

/** Internal notes exist only on GitLab: the opt-in is refused for the other trackers. */
function internalNotesErrors(provider: Provider, on: boolean): FieldError[] {
  return on && !hasInternalComments(provider) ? [{ field: "gitlabInternalNotes", message: `only GitLab has internal notes; not available for ${provider}` }] : [];
}


export type CreateProjectInput = z.infer<typeof CreateProject>;
export type UpdateProjectInput = z.infer<typeof UpdateProject>;

export interface CreateOptions {
  /** Read the repository with the token before saving; a failure is a 422 naming the field to fix. */
  testConnection?: boolean;
  /** Start the first import at once instead of at the next cron. */
  startImport?: boolean;
}

/** The project as saved, the settings warnings, and the first import's run when one was started. */
export interface CreatedProject {
  project: ProjectRow;
  warnings: FieldError[];
  importRunId: string | null;
}

/** A failed connection test as the field error of the field to fix. */
async function assertConnects(input: { provider: Provider; apiBaseUrl: string; repository: string; token: string }): Promise<void> {
  const result = await testConnection(input);
  if (!result.ok) throw new Unprocessable([{ field: result.field ?? "token", message: result.problem }]);
}

/** Registers a project (validation, secrets sealed to their origin, the activity entry). */
export async function createProject(env: Env, input: CreateProjectInput, origin: ActivityOrigin, options: CreateOptions = {}): Promise<CreatedProject> {
  const app = githubAppConfig(env);
  // An App project without apiBaseUrl talks to the App's own API base.
  const apiBaseUrl = input.apiBaseUrl ?? (input.installationId !== undefined && app ? app.apiBaseUrl : DEFAULT_API_BASE_URL[input.provider] ?? undefined);
  const deletionPolicy = input.deletionPolicy ?? "orphan";
  const auth = checkAuthRules(input.provider, input, null, app !== null);
  const checked = checkProjectRules({ ...input, apiBaseUrl, deletionPolicy }, parseInsecureHosts(env.ALLOW_INSECURE_TRACKER_HOSTS));
  const settings = settingsPatch(input);
  const settingsCheck = checkSettings(input.syncDirection, { ...settingsOf({}), ...settings });
  const errors = [...checked.errors, ...auth.errors, ...internalNotesErrors(input.provider, input.gitlabInternalNotes ?? false), ...settingsCheck.invalid];
  const shard = input.shard ?? 0;
  if (!shardExists(env, shard)) errors.push({ field: "shard", message: `no such shard; this Worker binds ${shardNumbers(env).join(", ")}` });
  if (errors.length) throw new ValidationFailed(errors);
  assertAppBase(app, auth.installationId, checked.apiBaseUrl);
  if (settingsCheck.unprocessable.length) throw new Unprocessable(settingsCheck.unprocessable);
  // An App installation's tokens are minted per request: only a given token can be tested here.
  if (options.testConnection && input.token !== undefined) {
    await assertConnects({ provider: input.provider, apiBaseUrl: checked.apiBaseUrl, repository: input.repository, token: input.token });
  }
  const id = newId();
  const now = nowIso();
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
    tokenEnc: input.token !== undefined ? await sealProjectSecret(env.TOKEN_ENCRYPTION_KEY, id, "token", input.token, apiOrigin) : "",
    webhookSecretEnc: await sealProjectSecret(env.TOKEN_ENCRYPTION_KEY, id, "webhookSecret", input.webhookSecret ?? randomSecret(), apiOrigin),
    installationId: auth.installationId,
    shard,
    ...settingsColumns(settings),
    createdAt: now,
    updatedAt: now,
  };
  // The directory entry first: a project row is never in a shard the directory does not name.
  await placeProject(env, id, shard);
  const row = await insertProject(projectDatabase(env, fields), fields, projectCreatedActivity({ ...NEW_PROJECT_DEFAULTS, ...fields }, origin, now));
  const importRunId = options.startImport && row.syncEnabled ? (await startSync(env, row, "full")).runId : null;
  return { project: row, warnings: settingsCheck.warnings, importRunId };
}

/** The checks of a change, shared by the change and its dry run: the project as it would be. */
async function checkChange(env: Env, db: Database, current: ProjectRow, input: UpdateProjectInput) {
  const projectId = current.id;
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
  const app = githubAppConfig(env);
  const auth = checkAuthRules(provider, input, current, app !== null);
  const checked = checkProjectRules(next, parseInsecureHosts(env.ALLOW_INSECURE_TRACKER_HOSTS));
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
  return { provider, next, auth, checked, settings, warnings: settingsCheck.warnings };
}

/**
 * What a full run would do under the changed settings (`PATCH ?dryRun=true`, the dashboard's
 * Preview): the same checks as the change, the decision code with no writes here or on the tracker.
 */
export async function previewProjectChange(env: Env, db: Database, current: ProjectRow, input: UpdateProjectInput): Promise<DryRunReport & { warnings?: FieldError[] }> {
  const { settings, warnings } = await checkChange(env, db, current, input);
  const connection = NOT_DRY_RUNNABLE.filter((f) => input[f] !== undefined);
  if (connection.length) throw new ValidationFailed(connection.map((field) => ({ field, message: "cannot be dry-run (it points the project at another tracker or credential); leave it out of a dry run" })));
  const candidate: ProjectRow = {
    ...current,
    ...(input.syncDirection !== undefined ? { syncDirection: input.syncDirection } : {}),
    ...(input.master !== undefined ? { master: input.master } : {}),
    ...settingsColumns(settings),
  };
  const report = await dryRun(env, current, candidate);
  // What a save would warn about (a scope no issue can match), said before saving too.
  return warnings.length ? { ...report, warnings } : report;
}

/** Changes any field of a project; a new token or webhook secret replaces the old. */
export async function changeProject(
  env: Env,
  db: Database,
  current: ProjectRow,
  input: UpdateProjectInput,
  origin: ActivityOrigin,
  options: { testConnection?: boolean } = {},
): Promise<{ project: ProjectRow; warnings: FieldError[] }> {
  const projectId = current.id;
  const { provider, next, auth, checked, settings, warnings } = await checkChange(env, db, current, input);
  // The stored token was given for the current origin: another origin needs a token given for it
  // (App projects mint their tokens for whatever apiBaseUrl they have).
  const apiOrigin = originOf(checked.apiBaseUrl);
  const originChanged = apiOrigin !== originOf(current.apiBaseUrl);
  if (originChanged && input.token === undefined && auth.installationId === null) {
    throw new Unprocessable([
      { field: "token", message: `is required when the API origin changes (to ${apiOrigin}): the stored token is never sent to another origin` },
    ]);
  }
  const reconnects = input.token !== undefined || next.provider !== current.provider || next.repository !== current.repository || checked.apiBaseUrl !== current.apiBaseUrl;
  if (options.testConnection && reconnects && auth.installationId === null) {
    if (input.token !== undefined) await assertConnects({ provider: next.provider, apiBaseUrl: checked.apiBaseUrl, repository: next.repository, token: input.token });
    else {
      // The stored token, at the new address (its origin is unchanged: another origin needs a new token).
      const result = await testProjectConnection(env, db, { ...current, provider: next.provider, apiBaseUrl: checked.apiBaseUrl, repository: next.repository, trackerRepositoryName: null });
      if (!result.ok) throw new Unprocessable([{ field: result.field ?? "token", message: result.problem }]);
    }
  }
  const pointsElsewhere = next.repository !== current.repository || checked.apiBaseUrl !== current.apiBaseUrl;
  const sameRepositoryRequired = next.provider === current.provider && pointsElsewhere && (await hasLinkedIssues(db, projectId));
  if (sameRepositoryRequired) {
    // Another name or address is fine for the same repository (a rename keeps its id); another repository is not.
    await assertSameRepository(env, current, { apiBaseUrl: checked.apiBaseUrl, repository: next.repository, token: input.token });
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
    patch.pullRequestCursor = null;
    // A stuck phase of the old repository says nothing about the new one.
    patch.commentPhaseError = null;
    patch.commentPhaseErrorAt = null;
    patch.pullRequestPhaseError = null;
    patch.pullRequestPhaseErrorAt = null;
    // The configured name is used again (and the tracker's current name learned afresh).
    patch.trackerRepositoryName = null;
    // Without linked issues it may be another repository: its id is learned afresh.
    if (!sameRepositoryRequired) patch.trackerRepositoryId = null;
  }
  const key = env.TOKEN_ENCRYPTION_KEY;
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
  const activity = projectUpdatedActivity(current, patch, { token: input.token !== undefined, webhookSecret: input.webhookSecret !== undefined }, origin, nowIso());
  const row = await updateProject(db, projectId, patch, activity);
  if (!row) throw new NotFound("project", projectId);
  // Another repository or installation: the App link is learned again (by name, then by id).
  if (row.installationId !== current.installationId || row.repository !== current.repository || row.apiBaseUrl !== current.apiBaseUrl) {
    // Only the installation changed, to the one the linked repository is in now (a transfer): the link stays.
    const linked = row.repository === current.repository && row.apiBaseUrl === current.apiBaseUrl ? await appRepositoryOfProject(db, projectId) : undefined;
    if (row.installationId === null || linked?.installationId !== row.installationId) await unlinkProject(db, projectId);
  }
  // A new token (or installation) given by hand: whatever refused the old one, try this one.
  if (input.token !== undefined || input.installationId !== undefined) await resetCredentialHealth(env, db, row);
  return { project: row, warnings };
}

/** Pause or resume: the same change as `PATCH {syncEnabled}` (validation and activity entry included). */
export async function setSyncEnabled(env: Env, db: Database, project: ProjectRow, enabled: boolean, origin: ActivityOrigin): Promise<ProjectRow> {
  return (await changeProject(env, db, project, { syncEnabled: enabled }, origin)).project;
}

/** zod issues as field errors named the way the API names them ("fieldMaps.labels.0.local"). */
function fieldErrorsOf(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => ({ field: [path, key].filter(Boolean).join("."), message: issue.message }));
    return [{ field: path || "(body)", message: issue.message }];
  });
}

/** A create body from another front end (the dashboard's form): the API's schema, the API's 400. */
export function parseCreateInput(raw: unknown): CreateProjectInput {
  const parsed = CreateProject.safeParse(raw);
  if (!parsed.success) throw new ValidationFailed(fieldErrorsOf(parsed.error));
  return parsed.data;
}

/** An update body from another front end: the API's schema, the API's 400. */
export function parseUpdateInput(raw: unknown): UpdateProjectInput {
  const parsed = UpdateProject.safeParse(raw);
  if (!parsed.success) throw new ValidationFailed(fieldErrorsOf(parsed.error));
  return parsed.data;
}

/**
 * Test connection before saving (`POST /api/v1/test-connection`, the new-project form's button):
 * the address and repository are checked as a create checks them, then the repository is read.
 */
export async function testNewConnection(env: Env, input: { provider: Provider; apiBaseUrl?: string | undefined; repository: string; token: string }): Promise<ConnectionResult> {
  const errors: FieldError[] = [];
  const raw = input.apiBaseUrl ?? DEFAULT_API_BASE_URL[input.provider] ?? null;
  let apiBaseUrl = "";
  if (!raw) errors.push({ field: "apiBaseUrl", message: `is required for ${input.provider}` });
  else {
    const checked = checkApiBaseUrl(raw, parseInsecureHosts(env.ALLOW_INSECURE_TRACKER_HOSTS));
    if (checked.ok) apiBaseUrl = checked.value;
    else errors.push({ field: "apiBaseUrl", message: checked.problem });
  }
  const repositoryProblem = repositoryFormatProblem(input.provider, input.repository);
  if (repositoryProblem) errors.push({ field: "repository", message: repositoryProblem });
  if (errors.length) throw new ValidationFailed(errors);
  return testConnection({ provider: input.provider, apiBaseUrl, repository: input.repository, token: input.token });
}

/** The fields a connection test needs, parsed by the create schema's own rules for them. */
export function parseConnectionInput(raw: Record<string, unknown>): { provider: Provider; apiBaseUrl?: string | undefined; repository: string; token: string } {
  const parsed = CreateProject.pick({ provider: true, apiBaseUrl: true, repository: true, token: true }).safeParse({
    provider: raw.provider,
    apiBaseUrl: raw.apiBaseUrl,
    repository: raw.repository,
    token: raw.token,
  });
  if (!parsed.success) throw new ValidationFailed(fieldErrorsOf(parsed.error));
  const { token, ...rest } = parsed.data;
  if (token === undefined) throw new ValidationFailed([{ field: "token", message: "is required to test the connection" }]);
  return { ...rest, token };
}
