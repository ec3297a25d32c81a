/**
 * The credential a project talks to its tracker with, shared by every project that uses it: a GitHub
 * App installation (its installation token minted once an hour, cached encrypted in D1 for every
 * isolate and in memory for this one), or a token (identified by a hash, never stored twice).
 *
 * Every tracker request of a project goes through the credential's gate (`CredentialSession.fetch`):
 * - it puts the current installation token into the request (the adapter holds a placeholder), and on
 *   a 401 mints a fresh one and sends the request once more;
 * - it reads the rate-limit headers of each answer into the credential's row, so when one project
 *   learns the budget is spent (remaining 0, a 403/429 limit), the others hold their requests until
 *   the same reset instead of spending them into refusals;
 * - a 401 that a fresh token does not cure marks the credential "rejected" with the time: every
 *   project on it stops (paused) until a PATCH brings a new token.
 * The gate answers in the tracker's stead (429 + Retry-After, 401, 503) so the adapters and the
 * run/push logic handle it as they handle the tracker's own answers. Tokens never reach a log line.
 */
import { decryptSecret, encryptSecret, hmacHex, isOriginBound, openProjectSecret, sealProjectSecret, SecretOriginMismatch } from "../crypto";
import type { ActivityKind } from "../db/activity";
import { type Database } from "../db/client";
import { projectDatabase } from "../db/shards";
import { readStreamLimited } from "../streams";
import { rebindProjectToken } from "../db/projects";
import {
  appRepositoryOfProject,
  dropAccessToken,
  ensureCredential,
  findAppRepositoryByName,
  getCredential,
  linkProject,
  recordBudget,
  recordTokenExpiry,
  setCredentialHealth,
  storeAccessToken,
  type NewCredential,
} from "../db/credentials";
import type { CredentialRow, GitHubAppRepositoryRow, ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { ConfigurationError } from "../errors";
import { checkApiBaseUrl, DEFAULT_GITHUB_APP_API_BASE_URL, originOf, parseInsecureHosts } from "../providers";
import { nowIso } from "../ids";
import { errorText, log } from "../log";
import {
  AppCredentialsRejected,
  AppIdInvalid,
  appBotLogin,
  AppPrivateKeyInvalid,
  budgetSpentResponse,
  credentialRefusedResponse,
  credentialUnavailableResponse,
  fetchAppSlug,
  InstallationGone,
  InstallationSuspended,
  isCredentialRefusal,
  mintInstallationToken,
  observeBudget,
  RateLimitedError,
  tokenNeedsRefresh,
  TrackerError,
  type Tracker,
} from "../providers";

/** What the adapter of an App project holds instead of a token; the gate swaps the real one in. */
export const INSTALLATION_TOKEN_PLACEHOLDER = "syndarix-installation-token-placeholder";
/** A budget that is not spent is written to D1 at most this often per credential and isolate. */
const BUDGET_WRITE_INTERVAL_MS = 10_000;
/** A token's expiry date is read again at most once a day. */
const EXPIRY_CHECK_INTERVAL_MS = 24 * 3600_000;
/** GitLab tokens must expire: status warns this long before. */
export const TOKEN_EXPIRY_WARNING_MS = 14 * 24 * 3600_000;

export interface GitHubAppConfig {
  appId: string;
  privateKeyPem: string;
  /** The one API base the App's JWT is sent to (GITHUB_APP_API_BASE_URL, normalised); App projects must use it. */
  apiBaseUrl: string;
}

/** The App's id and key from the Worker secrets, or null when the Worker has no App configured. */
export function githubAppConfig(env: Env): GitHubAppConfig | null {
  const appId = env.GITHUB_APP_ID?.trim();
  const privateKeyPem = env.GITHUB_APP_PRIVATE_KEY;
  return appId && privateKeyPem ? { appId, privateKeyPem, apiBaseUrl: githubAppApiBaseUrl(env) } : null;
}

/**
 * GITHUB_APP_API_BASE_URL (default https://api.github.com), normalised like a project's apiBaseUrl.
 * The App's JWT can mint tokens for every installation of the App: it is signed only for this base,
 * whatever a project (or the API token that wrote it) says.
 */
export function githubAppApiBaseUrl(env: Env): string {
  const raw = env.GITHUB_APP_API_BASE_URL?.trim() || DEFAULT_GITHUB_APP_API_BASE_URL;
  const checked = checkApiBaseUrl(raw, parseInsecureHosts(env.ALLOW_INSECURE_TRACKER_HOSTS));
  if (!checked.ok) throw new ConfigurationError(`GITHUB_APP_API_BASE_URL ${checked.problem}`);
  return checked.value;
}

/** Why an App project's apiBaseUrl may not be used with the App, or null when it is the App's base. */
export function appBaseProblem(app: GitHubAppConfig, apiBaseUrl: string): string | null {
  return apiBaseUrl === app.apiBaseUrl
    ? null
    : `must be the GitHub App's API base ${app.apiBaseUrl} (GITHUB_APP_API_BASE_URL) for a project with installationId`;
}

export interface CredentialSession {
  readonly id: string;
  readonly kind: CredentialRow["kind"];
  /** Why the project may not talk to its tracker now (credential refused, installation suspended…), or null. */
  readonly pausedReason: string | null;
  /** What the adapter sends as its token (a placeholder for App projects). */
  readonly token: string;
  /** The gate every tracker request goes through. */
  readonly fetch: typeof fetch;
  /** App projects: the bot login the App acts as. */
  readonly actorLogin?: () => Promise<string>;
  /** True when the token's own expiry was not read in the last day. */
  readonly expiryCheckDue: boolean;
}

interface CachedToken {
  token: string;
  enc: string;
  expiresAt: string;
}

/** Per isolate, per credential: what every project of this isolate on that credential shares. */
interface CredentialMemory {
  token: CachedToken | null;
  minting: Promise<CachedToken> | null;
  limitedUntil: string | null;
  lastBudgetWriteMs: number;
}

const memory = new Map<string, CredentialMemory>();
const botLogins = new Map<string, Promise<string> | undefined>();

function memoryOf(id: string): CredentialMemory {
  let m = memory.get(id);
  if (!m) {
    m = { token: null, minting: null, limitedUntil: null, lastBudgetWriteMs: 0 };
    memory.set(id, m);
  }
  return m;
}

/** Forgets this isolate's cached tokens and budgets, as a fresh isolate starts (D1 keeps them). */
export function forgetIsolateCredentials(): void {
  memory.clear();
  botLogins.clear();
}

/** The credential row of a GitHub App installation. */
export function installationCredential(apiBaseUrl: string, installationId: number): NewCredential {
  return { id: `app:${apiBaseUrl}#${installationId}`, kind: "installation", provider: "github", apiBaseUrl, installationId };
}

/** The credential row's id and what it is, without reading D1. */
export async function credentialOf(env: Env, project: ProjectRow): Promise<NewCredential & { token: string | null }> {
  if (project.installationId !== null) {
    return { ...installationCredential(project.apiBaseUrl, project.installationId), provider: project.provider, token: null };
  }
  const token = await openTrackerToken(env, projectDatabase(env, project), project);
  return {
    // Keyed: an unsalted hash of a token would let anyone who reads the table test guesses offline.
    id: `token:${await hmacHex(env.TOKEN_ENCRYPTION_KEY, "credential-id", `${project.provider}\n${project.apiBaseUrl}\n${token}`)}`,
    kind: "token",
    provider: project.provider,
    apiBaseUrl: project.apiBaseUrl,
    installationId: null,
    token,
  };
}

/** Opens the project's credential: reads its row (creating it), its health and, for App projects, its repository link. */
export async function openCredential(env: Env, db: Database, project: ProjectRow, now: () => number = Date.now): Promise<CredentialSession> {
  const credential = await credentialOf(env, project);
  const row = await ensureCredential(db, credential);
  const mem = memoryOf(row.id);
  if (row.limitedUntil && (!mem.limitedUntil || row.limitedUntil > mem.limitedUntil)) mem.limitedUntil = row.limitedUntil;
  const repository = project.installationId !== null ? await linkedRepository(db, project) : null;
  const pausedReason = pausedReasonOf(row, repository ?? null);

  if (credential.kind === "token") {
    const expiryCheckDue = !row.tokenExpiryCheckedAt || now() - Date.parse(row.tokenExpiryCheckedAt) >= EXPIRY_CHECK_INTERVAL_MS;
    return { id: row.id, kind: "token", pausedReason, token: credential.token!, fetch: gate({ env, db, row, mem, now, app: null, projectId: project.id }), expiryCheckDue };
  }
  const app = githubAppConfig(env);
  if (!app) throw new ConfigurationError("the project uses a GitHub App installation, but GITHUB_APP_ID or GITHUB_APP_PRIVATE_KEY is not set");
  // A row written before the rule (or by hand) pointing elsewhere: nothing is minted or sent for it.
  const baseProblem = appBaseProblem(app, project.apiBaseUrl);
  return {
    id: row.id,
    kind: "installation",
    pausedReason: baseProblem ? `apiBaseUrl ${baseProblem}; PATCH the project's apiBaseUrl to resume` : pausedReason,
    token: INSTALLATION_TOKEN_PLACEHOLDER,
    fetch: baseProblem ? async () => credentialRefusedResponse(`apiBaseUrl ${baseProblem}`) : gate({ env, db, row, mem, now, app, projectId: project.id }),
    actorLogin: () => botLogin(app, now),
    // Installation tokens are minted hourly; their expiry is handled, not shown.
    expiryCheckDue: false,
  };
}

/** The project's repository as the App knows it; linked by name the first time it is known. */
async function linkedRepository(db: Database, project: ProjectRow): Promise<GitHubAppRepositoryRow | null> {
  const linked = await appRepositoryOfProject(db, project.id);
  if (linked) return linked;
  const byName = await findAppRepositoryByName(db, project.installationId!, project.repository);
  if (!byName) return null;
  await linkProject(db, project.id, byName.repositoryId);
  return byName;
}

export function pausedReasonOf(row: Pick<CredentialRow, "health" | "healthAt" | "healthReason" | "installationId">, repository: GitHubAppRepositoryRow | null): string | null {
  const since = row.healthAt ? ` since ${row.healthAt}` : "";
  switch (row.health) {
    case "rejected":
      return `credentials rejected${since}: ${row.healthReason ?? "the tracker refused them"}; PATCH the project with a new token to resume`;
    case "suspended":
      return `GitHub App installation ${row.installationId} is suspended${since}; it resumes when the installation is unsuspended`;
    case "removed":
      return `GitHub App installation ${row.installationId} was uninstalled${since}; install the App again or connect the project with a token`;
    case "ok":
      break;
  }
  if (repository && row.installationId !== null && repository.installationId !== row.installationId) {
    // Transferred to another account, or the App installed again: deliveries from there are not this project's.
    return `repository ${repository.fullName} is now in GitHub App installation ${repository.installationId}, not in the project's installation ${row.installationId}; PATCH the project's installationId to ${repository.installationId} to resume`;
  }
  if (repository?.removedAt) {
    return `repository ${repository.fullName} was removed from GitHub App installation ${repository.installationId} since ${repository.removedAt}; add it to the installation again to resume`;
  }
  return null;
}

// ---------- the gate ----------

interface GateContext {
  env: Env;
  db: Database;
  row: CredentialRow;
  mem: CredentialMemory;
  now: () => number;
  app: GitHubAppConfig | null;
  /** The project whose request learned the credential's new state: its activity entry says so. */
  projectId: string;
}

type Outcome = { token: string } | { answer: Response };

function gate(ctx: GateContext): typeof fetch {
  // Once refused within this session, no further request is sent.
  let refused: string | null = null;
  const send = async (input: RequestInfo | URL, init: RequestInit | undefined, token: string | null) => {
    const res = await fetch(input, token === null ? init : { ...init, headers: withToken(init?.headers, token) });
    return token === null ? res : withoutToken(res, token);
  };

  return async (input, init) => {
    if (refused) return credentialRefusedResponse(refused);
    const limitedUntil = ctx.mem.limitedUntil;
    if (limitedUntil && Date.parse(limitedUntil) > ctx.now()) return budgetSpentResponse(limitedUntil);

    let token: string | null = null;
    if (ctx.app) {
      const outcome = await installationToken(ctx, null);
      if ("answer" in outcome) return outcome.answer;
      token = outcome.token;
    }
    let res = await send(input, init, token);
    await observe(ctx, res);
    if (!isCredentialRefusal(res.status)) return res;

    if (ctx.app && token !== null) {
      // Expired or revoked before its time: mint a fresh one and send the request once more.
      const outcome = await installationToken(ctx, token);
      if ("answer" in outcome) return outcome.answer;
      res = await send(input, init, outcome.token);
      await observe(ctx, res);
      if (!isCredentialRefusal(res.status)) return res;
    }
    refused = `the tracker refused the ${ctx.app ? "GitHub App installation token" : "token"} (401) at ${nowIso(ctx.now())}`;
    await markRefused(ctx, refused, init?.method ?? (input instanceof Request ? input.method : "GET"));
    return res;
  };
}

/**
 * An error answer that echoes the installation token (a proxy or plugin quoting the request) gets
 * it replaced before the adapter reads it: the adapter only knows the placeholder, and its error
 * text ends up in runs, issues and `lastError`, which read tokens can see. Success answers pass as they are.
 */
async function withoutToken(res: Response, token: string): Promise<Response> {
  if (res.status < 400) return res;
  // Error answers are small; a huge one is cut (its message is not worth buffering).
  const bytes = await readStreamLimited(res.body, 1024 * 1024);
  const text = bytes === "too_large" ? "" : new TextDecoder().decode(bytes);
  return new Response(text.split(token).join("[redacted]"), { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** Headers with the placeholder replaced by the token (the adapter's auth header holds the placeholder). */
function withToken(headers: HeadersInit | undefined, token: string): Headers {
  const out = new Headers(headers);
  for (const [name, value] of out) {
    if (value.includes(INSTALLATION_TOKEN_PLACEHOLDER)) out.set(name, value.split(INSTALLATION_TOKEN_PLACEHOLDER).join(token));
  }
  return out;
}

async function observe(ctx: GateContext, res: Response): Promise<void> {
  const message = res.status === 403 || res.status === 429 ? messageOf(await res.clone().text()) : "";
  const nowMs = ctx.now();
  const budget = observeBudget(ctx.row.provider, res.status, res.headers, message, nowMs);
  if (!budget) return;
  if (budget.limitedUntil) ctx.mem.limitedUntil = budget.limitedUntil;
  // Spent budgets are shared at once; the rest is bookkeeping for the status page.
  if (budget.limitedUntil || nowMs - ctx.mem.lastBudgetWriteMs >= BUDGET_WRITE_INTERVAL_MS) {
    ctx.mem.lastBudgetWriteMs = nowMs;
    await recordBudget(ctx.db, ctx.row.id, budget, nowIso(nowMs));
    if (budget.limitedUntil) log.info("credential budget spent; its projects wait", { credential: publicId(ctx.row.id), until: budget.limitedUntil });
  }
}

/**
 * The credential's new health, with a `credential.*` activity entry for the project that learned it
 * (recorded only if the health changed). Its source: a refused write was a push, a read a poll.
 */
async function setHealth(ctx: GateContext, health: "rejected" | "suspended" | "removed", reason: string, method = "GET"): Promise<void> {
  const at = nowIso(ctx.now());
  const kind: ActivityKind = health === "rejected" ? "credential.rejected" : health === "suspended" ? "credential.suspended" : "credential.removed";
  const source = method.toUpperCase() === "GET" ? ("poll" as const) : ("push" as const);
  await setCredentialHealth(ctx.db, ctx.row.id, health, reason, at, [
    { projectId: ctx.projectId, kind, origin: { source }, createdAt: at, detail: `${reason}; every project on this credential is paused` },
  ]);
}

async function markRefused(ctx: GateContext, reason: string, method: string): Promise<void> {
  ctx.mem.token = null;
  await setHealth(ctx, "rejected", reason, method);
  log.error("credential rejected; its projects stop until a new token", { credential: publicId(ctx.row.id), provider: ctx.row.provider });
}

// ---------- installation tokens ----------

/**
 * The installation token to send: this isolate's, else the one another isolate stored in D1, else a
 * fresh mint (one at a time per isolate; two isolates minting at the same instant is rare and
 * harmless — both tokens are valid). `refusedToken`: the tracker just refused it, so never reuse it.
 */
async function installationToken(ctx: GateContext, refusedToken: string | null): Promise<Outcome> {
  const { mem, db, row } = ctx;
  const nowMs = ctx.now();
  const cached = mem.token;
  if (cached && cached.token !== refusedToken && !tokenNeedsRefresh(cached.expiresAt, nowMs)) return { token: cached.token };
  if (refusedToken !== null && mem.token) {
    await dropAccessToken(db, row.id, mem.token.enc);
    mem.token = null;
  }
  try {
    if (!mem.minting) {
      mem.minting = (async () => {
        const stored = await getCredential(db, row.id);
        if (stored?.accessTokenEnc && stored.accessTokenExpiresAt && !tokenNeedsRefresh(stored.accessTokenExpiresAt, nowMs)) {
          const token = await decryptSecret(ctx.env.TOKEN_ENCRYPTION_KEY, stored.accessTokenEnc, tokenContext(row.id));
          if (token !== refusedToken) return { token, enc: stored.accessTokenEnc, expiresAt: stored.accessTokenExpiresAt };
        }
        return mint(ctx);
      })().finally(() => {
        mem.minting = null;
      });
    }
    mem.token = await mem.minting;
    return { token: mem.token.token };
  } catch (err) {
    return { answer: await mintRefusal(ctx, err) };
  }
}

async function mint(ctx: GateContext): Promise<CachedToken> {
  const minted = await mintInstallationToken({
    apiBaseUrl: ctx.app!.apiBaseUrl,
    appId: ctx.app!.appId,
    privateKeyPem: ctx.app!.privateKeyPem,
    installationId: ctx.row.installationId!,
    now: ctx.now,
  });
  const enc = await encryptSecret(ctx.env.TOKEN_ENCRYPTION_KEY, minted.token, tokenContext(ctx.row.id));
  await storeAccessToken(ctx.db, ctx.row.id, enc, minted.expiresAt, nowIso(ctx.now()));
  log.info("github app installation token minted", { installationId: ctx.row.installationId, expiresAt: minted.expiresAt });
  return { token: minted.token, enc, expiresAt: minted.expiresAt };
}

/** What a failed mint means for the credential, and the answer the adapter gets instead. */
async function mintRefusal(ctx: GateContext, err: unknown): Promise<Response> {
  const at = nowIso(ctx.now());
  if (err instanceof RateLimitedError) {
    ctx.mem.limitedUntil = err.retryAt;
    await recordBudget(ctx.db, ctx.row.id, { remaining: 0, resetAt: err.retryAt, limitedUntil: err.retryAt }, at);
    return budgetSpentResponse(err.retryAt);
  }
  if (err instanceof InstallationSuspended) {
    await setHealth(ctx, "suspended", err.message);
    return credentialRefusedResponse(err.message);
  }
  if (err instanceof InstallationGone) {
    await setHealth(ctx, "removed", err.message);
    return credentialRefusedResponse(err.message);
  }
  if (err instanceof AppCredentialsRejected || (err instanceof TrackerError && !err.retryable)) {
    await setHealth(ctx, "rejected", err.message);
    return credentialRefusedResponse(err.message);
  }
  if (err instanceof AppPrivateKeyInvalid || err instanceof AppIdInvalid || err instanceof ConfigurationError) {
    // The Worker's configuration, not the credential: nothing to record, fixed by a deploy.
    log.error("github app is misconfigured", { error: err.message });
    return credentialRefusedResponse(`GitHub App configuration: ${err.message}`);
  }
  log.error("github app token mint failed; retried later", { installationId: ctx.row.installationId, error: errorText(err) });
  return credentialUnavailableResponse(err instanceof Error ? err.message : "installation token mint failed");
}

async function botLogin(app: GitHubAppConfig, now: () => number): Promise<string> {
  const key = `${app.apiBaseUrl}#${app.appId}`;
  let login = botLogins.get(key);
  if (!login) {
    login = fetchAppSlug({ apiBaseUrl: app.apiBaseUrl, appId: app.appId, privateKeyPem: app.privateKeyPem, now }).then(appBotLogin);
    botLogins.set(key, login);
    // A failed look-up is not cached: the next create that needs the login asks again.
    login.catch(() => botLogins.set(key, undefined));
  }
  return login;
}

/**
 * Reads when the project's token expires (GitLab), at most once a day per credential, for status to
 * warn two weeks ahead. Best effort: a failure leaves the last known date.
 */
export async function refreshTokenExpiry(db: Database, session: CredentialSession, tracker: Tracker, now: () => number = Date.now): Promise<void> {
  if (!session.expiryCheckDue || !tracker.credentialExpiresAt || session.pausedReason) return;
  try {
    await recordTokenExpiry(db, session.id, await tracker.credentialExpiresAt(), nowIso(now()));
  } catch (err) {
    log.info("token expiry could not be read", { credential: publicId(session.id), error: errorText(err) });
  }
}

// ---------- status ----------

export interface CredentialStatus {
  kind: CredentialRow["kind"];
  installationId: number | null;
  health: CredentialRow["health"];
  healthAt: string | null;
  healthReason: string | null;
  rateLimit: { remaining: number | null; resetAt: string | null; limitedUntil: string | null };
  tokenExpiresAt: string | null;
  warning: string | null;
  pausedReason: string | null;
}

/** The project's credential as status shows it (nothing secret). */
export async function credentialStatus(env: Env, db: Database, project: ProjectRow, nowMs: number = Date.now()): Promise<CredentialStatus> {
  const credential = await credentialOf(env, project);
  const row = (await getCredential(db, credential.id)) ?? null;
  const repository = project.installationId !== null ? ((await appRepositoryOfProject(db, project.id)) ?? null) : null;
  return credentialStatusOf(credential, row, repository, nowMs);
}

/** The status of a credential from its row (null: never used yet) and, for App projects, its repository link. */
export function credentialStatusOf(
  credential: Pick<NewCredential, "kind"> & { installationId?: number | null | undefined },
  row: CredentialRow | null,
  repository: GitHubAppRepositoryRow | null,
  nowMs: number,
): CredentialStatus {
  const health = row?.health ?? "ok";
  const limitedUntil = row?.limitedUntil && Date.parse(row.limitedUntil) > nowMs ? row.limitedUntil : null;
  const tokenExpiresAt = row?.tokenExpiresAt ?? null;
  let warning: string | null = null;
  if (tokenExpiresAt) {
    const left = Date.parse(tokenExpiresAt) - nowMs;
    if (left <= 0) warning = `the token expired on ${tokenExpiresAt}; PATCH the project with a new token`;
    else if (left <= TOKEN_EXPIRY_WARNING_MS) warning = `the token expires on ${tokenExpiresAt}; PATCH the project with a new token before then`;
  }
  return {
    kind: credential.kind,
    installationId: credential.installationId ?? null,
    health,
    healthAt: row?.healthAt ?? null,
    healthReason: row?.healthReason ?? null,
    rateLimit: { remaining: row?.rateRemaining ?? null, resetAt: row?.rateResetAt ?? null, limitedUntil },
    tokenExpiresAt,
    warning,
    pausedReason: row ? pausedReasonOf(row, repository) : pausedReasonOf({ health: "ok", healthAt: null, healthReason: null, installationId: null }, repository),
  };
}

/** After a PATCH that brings a token or an installation: that credential is healthy again until refused. */
export async function resetCredentialHealth(env: Env, db: Database, project: ProjectRow): Promise<void> {
  const credential = await credentialOf(env, project);
  const row = await getCredential(db, credential.id);
  if (row && row.health !== "ok") await setCredentialHealth(db, row.id, "ok", null, nowIso());
  // This isolate starts over with the credential (other isolates read the row's health anew).
  memory.set(credential.id, { token: null, minting: null, limitedUntil: null, lastBudgetWriteMs: 0 });
}

// ---------- helpers ----------

function tokenContext(credentialId: string): string {
  return `${credentialId}:accessToken`;
}

/** Credential ids of tokens are hashes; logs get a short prefix only. */
function publicId(id: string): string {
  return id.startsWith("token:") ? `${id.slice(0, 14)}…` : id;
}

function messageOf(text: string): string {
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === "object" && typeof (body as { message?: unknown }).message === "string") return (body as { message: string }).message;
  } catch {
    // Not JSON.
  }
  return "";
}


/**
 * The project's tracker token, opened for the origin of its `apiBaseUrl`: a token stored for another
 * origin does not open, so it can never be sent there. A token stored before origins were bound is
 * bound now to the origin it is used with.
 */
export async function openTrackerToken(env: Env, db: Database, project: ProjectRow): Promise<string> {
  const origin = originOf(project.apiBaseUrl);
  let token: string;
  try {
    token = await openProjectSecret(env.TOKEN_ENCRYPTION_KEY, project.id, "token", project.tokenEnc, origin);
  } catch (err) {
    if (!(err instanceof SecretOriginMismatch)) throw err;
    throw new TrackerError(`the stored token was not given for ${origin}; set a new token for this apiBaseUrl`, null, false);
  }
  if (!isOriginBound(project.tokenEnc)) {
    const sealed = await sealProjectSecret(env.TOKEN_ENCRYPTION_KEY, project.id, "token", token, origin);
    await rebindProjectToken(db, project.id, project.tokenEnc, sealed);
  }
  return token;
}
