/**
 * Installation access tokens: what a GitHub App sends on every repository request instead of a
 * person's token, and the App's own identity (`GET /app` → `<slug>[bot]`).
 * https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app
 * - `POST /app/installations/{installation_id}/access_tokens` with `Authorization: Bearer <App JWT>`
 *   answers 201 `{ token, expires_at, permissions, repository_selection }`; the token lasts one hour.
 * - 401: the JWT was refused (wrong key, wrong App id, clock drift); 404: no such installation (the
 *   App was uninstalled); 403 "This installation has been suspended"; 422: permissions asked for
 *   that the installation does not grant. Rate limits answer 403/429 like every GitHub call.
 * Messages never hold the JWT, the key or the minted token.
 */
import { z } from "zod";
import { redactSecrets } from "../../redact";
import { readStreamLimited } from "../../streams";
import { rateLimitRetryAt } from "../http";
import { toUtcIso } from "../timestamps";
import { RateLimitedError, TrackerError } from "../types";
import { signAppJwt } from "./app-jwt";

/** Refresh a cached installation token when less than this is left (tokens last one hour). */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * What the sync needs and nothing more (least privilege): GitHub scopes the minted token down to
 * these, so a token that leaks cannot touch code even if the App was later granted more.
 */
export const INSTALLATION_TOKEN_PERMISSIONS = { issues: "write", metadata: "read" } as const;

const DEFAULT_TIMEOUT_MS = 20_000;
/** An App endpoint's answer is a few hundred bytes; anything far larger is not GitHub's. */
export const MAX_APP_ANSWER_BYTES = 64 * 1024;
/** Where App JWTs go unless GITHUB_APP_API_BASE_URL says otherwise. */
export const DEFAULT_GITHUB_APP_API_BASE_URL = "https://api.github.com";
const GITHUB_API_VERSION = "2022-11-28";

export interface AppAuthInput {
  /**
   * The App's configured API base (GITHUB_APP_API_BASE_URL), e.g. `https://api.github.com` or
   * `https://ghe.example/api/v3`: the one host the App's JWT is ever sent to.
   */
  apiBaseUrl: string;
  appId: string | number;
  privateKeyPem: string;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Clock in epoch milliseconds (JWT claims, rate-limit retry times); defaults to `Date.now`. */
  now?: () => number;
  /** Per request, body included. Default 20 s. */
  timeoutMs?: number;
}

export interface MintInstallationTokenInput extends AppAuthInput {
  installationId: number;
}

export interface InstallationToken {
  token: string;
  /** ISO-8601 UTC with milliseconds, like every timestamp we store. */
  expiresAt: string;
}

/** Base of the App authentication refusals: never retried as is, each needs someone to act. */
export abstract class AppAuthError extends Error {
  readonly retryable = false;
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** 401: GitHub refused the App's JWT — wrong private key, wrong App id, or a clock far off. */
export class AppCredentialsRejected extends AppAuthError {
  override readonly name = "AppCredentialsRejected";
}

/** 404: the installation does not exist (any more): the App was uninstalled from that account. */
export class InstallationGone extends AppAuthError {
  override readonly name = "InstallationGone";
  constructor(
    message: string,
    readonly installationId: number,
  ) {
    super(message, 404);
  }
}

/** 403: the account suspended the installation; unsuspending it (an `installation` event) resumes. */
export class InstallationSuspended extends AppAuthError {
  override readonly name = "InstallationSuspended";
  constructor(
    message: string,
    readonly installationId: number,
  ) {
    super(message, 403);
  }
}

const installationTokenSchema = z.object({
  token: z.string().min(1),
  expires_at: z.string().min(1),
});

const appSchema = z.object({ slug: z.string().min(1) });

const errorBodySchema = z.object({ message: z.string() });

/** Mints an installation token. Throws the `AppAuthError`s above, `RateLimitedError` or `TrackerError`. */
export async function mintInstallationToken(input: MintInstallationTokenInput): Promise<InstallationToken> {
  const { installationId } = input;
  if (!Number.isSafeInteger(installationId) || installationId <= 0) {
    throw new TrackerError("github installation id must be a positive integer", null, false);
  }
  const path = `/app/installations/${installationId}/access_tokens`;
  const res = await appRequest(input, "POST", path, { permissions: INSTALLATION_TOKEN_PERMISSIONS });
  const what = `github POST ${path}`;
  if (res.status === 201) {
    const parsed = installationTokenSchema.safeParse(res.body);
    const expiresAt = parsed.success ? parseTimestamp(parsed.data.expires_at) : null;
    if (!parsed.success || expiresAt === null) {
      throw new TrackerError(`${what} answered 201 without a token and a readable expires_at`, 201, false);
    }
    return { token: parsed.data.token, expiresAt };
  }
  if (res.status === 401) {
    throw new AppCredentialsRejected(`${what} refused the App's JWT (401)${res.message}; check GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY`, 401);
  }
  if (res.status === 404) {
    throw new InstallationGone(`github App installation ${installationId} does not exist (404): the App was uninstalled from that account, or the id is wrong`, installationId);
  }
  if (res.status === 403 && /suspended/i.test(res.message)) {
    throw new InstallationSuspended(`github App installation ${installationId} is suspended (403)${res.message}`, installationId);
  }
  throw unexpected(what, res);
}

const installationSchema = z.object({ id: z.number(), suspended_at: z.string().nullish() });

/**
 * What GitHub says of an installation now (`GET /app/installations/{installation_id}`, App JWT):
 * 200 with `suspended_at` null (active) or set (suspended), 404 when it does not exist (uninstalled).
 * https://docs.github.com/en/rest/apps/apps#get-an-installation-for-the-authenticated-app
 * An App delivery that would pause projects is confirmed with this first.
 */
export async function fetchInstallationState(input: MintInstallationTokenInput): Promise<"active" | "suspended" | "gone"> {
  const { installationId } = input;
  if (!Number.isSafeInteger(installationId) || installationId <= 0) {
    throw new TrackerError("github installation id must be a positive integer", null, false);
  }
  const path = `/app/installations/${installationId}`;
  const res = await appRequest(input, "GET", path);
  if (res.status === 404) return "gone";
  if (res.status === 200) {
    const parsed = installationSchema.safeParse(res.body);
    if (!parsed.success || parsed.data.id !== installationId) throw new TrackerError(`github GET ${path} answered 200 without the installation`, 200, false);
    return parsed.data.suspended_at ? "suspended" : "active";
  }
  if (res.status === 401) {
    throw new AppCredentialsRejected(`github GET ${path} refused the App's JWT (401)${res.message}; check GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY`, 401);
  }
  throw unexpected(`github GET ${path}`, res);
}

/** The App's slug from `GET /app`; the App acts on GitHub as `appBotLogin(slug)`. */
export async function fetchAppSlug(input: AppAuthInput): Promise<string> {
  const res = await appRequest(input, "GET", "/app");
  if (res.status === 200) {
    const parsed = appSchema.safeParse(res.body);
    if (!parsed.success) throw new TrackerError("github GET /app answered without the App's slug", 200, false);
    return parsed.data.slug;
  }
  if (res.status === 401) {
    throw new AppCredentialsRejected(`github GET /app refused the App's JWT (401)${res.message}; check GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY`, 401);
  }
  throw unexpected("github GET /app", res);
}

/** The login GitHub shows for what the App does (issue authors, `creator` filters). */
export function appBotLogin(slug: string): string {
  return `${slug}[bot]`;
}

/** True when a cached token is missing, unreadable, expired or has less than five minutes left. */
export function tokenNeedsRefresh(expiresAt: string | null | undefined, nowMs: number): boolean {
  if (!expiresAt) return true;
  const at = Date.parse(expiresAt);
  return Number.isNaN(at) || at - nowMs < TOKEN_REFRESH_MARGIN_MS;
}

// ---------- one App-authenticated request ----------

interface AppResponse {
  status: number;
  body: unknown;
  /** `: <GitHub's message>` (shortened) or "", ready to append to an error message. */
  message: string;
}

async function appRequest(input: AppAuthInput, method: "GET" | "POST", path: string, json?: unknown): Promise<AppResponse> {
  const now = input.now ?? Date.now;
  const jwt = await signAppJwt({ appId: input.appId, privateKeyPem: input.privateKeyPem, now });
  const url = `${input.apiBaseUrl.replace(/\/+$/, "")}${path}`;
  const headers: Record<string, string> = {
    Authorization: `Bearer ${jwt}`,
    Accept: "application/vnd.github+json",
    "X-GitHub-Api-Version": GITHUB_API_VERSION,
    "User-Agent": "syndarix-sync",
  };
  // Never followed: a redirect would carry the JWT (and what the next host answers) elsewhere.
  const init: RequestInit = { method, headers, redirect: "manual", signal: AbortSignal.timeout(input.timeoutMs ?? DEFAULT_TIMEOUT_MS) };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const fetchImpl = input.fetch ?? ((request, requestInit) => fetch(request, requestInit));
  let res: Response;
  let text: string;
  try {
    res = await fetchImpl(url, init);
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      throw new TrackerError(`github ${method} ${path} answered ${res.status}, a redirect not followed (App requests go only to ${input.apiBaseUrl})`, res.status, false);
    }
    const bytes = await readStreamLimited(res.body, MAX_APP_ANSWER_BYTES);
    if (bytes === "too_large") throw new TrackerError(`github ${method} ${path} answered ${res.status} with a body over ${MAX_APP_ANSWER_BYTES} bytes`, res.status, false);
    text = new TextDecoder().decode(bytes);
  } catch (err) {
    if (err instanceof TrackerError) throw err;
    // A minted token is worth nothing unseen; minting again later is harmless, so report retryable.
    const reason = err instanceof Error && err.name === "TimeoutError" ? "timed out" : "network error";
    throw new TrackerError(`github ${method} ${path} failed: ${reason}`, null, true);
  }
  const body = parseJson(text);
  const githubMessage = errorBodySchema.safeParse(body).success ? (body as { message: string }).message : "";
  const retryAt = rateLimitRetryAt({ forbiddenMayBeRateLimit: true }, res.status, res.headers, githubMessage, now());
  if (retryAt) throw new RateLimitedError(retryAt, res.status);
  return { status: res.status, body, message: githubMessage ? `: ${redactSecrets(githubMessage, [jwt]).slice(0, 200)}` : "" };
}

function unexpected(what: string, res: AppResponse): TrackerError {
  return new TrackerError(`${what} answered ${res.status}${res.message}`, res.status, res.status >= 500);
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function parseTimestamp(value: string): string | null {
  try {
    return toUtcIso(value);
  } catch {
    return null;
  }
}
