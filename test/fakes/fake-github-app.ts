/**
 * GitHub's App endpoints as the fake serves them: `GET /app` and
 * `POST /app/installations/{installation_id}/access_tokens`, authenticated with an RS256 App JWT that
 * is verified against the App's public key, exactly as GitHub checks it.
 *
 *   const app = new FakeGitHubApp({ appId: 1234, slug: "syndarix-sync", publicKey });
 *   app.addInstallation({ id: 77, account: { login: "acme", id: 9 }, repositories: [...] });
 *   const res = await app.handle(request); // null when the path is not an App path
 *
 * Documented behaviour followed (quoted messages are GitHub's own answers):
 * - JWT: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
 *   RS256 only; `iss` is the App id or client id; `exp` at most 10 minutes after `iat`; `iat` may be
 *   back-dated (60 s is the advice) but not in the future. Every refusal is a 401.
 * - Installation tokens: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app
 *   201 `{ token, expires_at (one hour), permissions, repository_selection }`; permissions asked for
 *   must be granted to the installation (422 otherwise); 404 for an installation that does not exist;
 *   403 "This installation has been suspended" for a suspended one.
 * - `GET /app/installations/{installation_id}` (App JWT): 200 with the installation, `suspended_at`
 *   null or the time it was suspended; 404 once uninstalled.
 *   https://docs.github.com/en/rest/apps/apps#get-an-installation-for-the-authenticated-app
 * Erasable TypeScript with `.ts` imports and no imports from src, like the other fakes.
 */
import { user } from "./fake-github.ts";
import { isoSeconds, json } from "./fake-store.ts";

const DOCS = "https://docs.github.com/rest";
const MINT_DOCS = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";
/** Installation tokens expire one hour after they are created. */
export const INSTALLATION_TOKEN_LIFETIME_MS = 60 * 60_000;
/** GitHub's ceiling on a JWT's lifetime. */
const MAX_JWT_LIFETIME_SECONDS = 600;
/** How far in the future an `iat` may lie before GitHub calls it invalid (clock drift). */
const IAT_SKEW_SECONDS = 60;

export interface FakeAppInstallation {
  id: number;
  account: { login: string; id: number; type?: "User" | "Organization" };
  suspended?: boolean;
  repositories: Array<{ id: number; fullName: string }>;
  /** What the account granted; default `{ issues: "write", metadata: "read" }`. */
  permissions?: Record<string, "read" | "write" | "admin">;
  /** "all" when installed on every repository of the account; default "selected". */
  repositorySelection?: "all" | "selected";
}

export interface FakeGitHubAppOptions {
  appId: number;
  /** The App's client id, also accepted as `iss`. Default `Iv23li` + the app id. */
  clientId?: string;
  slug: string;
  name?: string;
  /** The public half of the App's private key (RSASSA-PKCS1-v1_5, SHA-256). */
  publicKey: CryptoKey;
  /** The API base the fake answers under. Default `https://api.github.com`. */
  apiBaseUrl?: string;
  /** The base clock (epoch ms) before `advance`. Default `Date.now`, so a Worker's real JWTs verify. */
  now?: () => number;
}

export type FakeTokenState = "valid" | "expired" | "unknown";

export interface FakeAppRequest {
  method: string;
  /** Path below the API base. */
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON body, or null. */
  body: unknown;
}

interface IssuedToken {
  installationId: number;
  expiresAtMs: number;
}

type RateLimitKind = "primary" | "secondary";

export interface FakeAppDelivery {
  headers: Record<string, string>;
  body: string;
  rawBody: Uint8Array;
  payload: Record<string, unknown>;
}

export class FakeGitHubApp {
  readonly appId: number;
  readonly clientId: string;
  readonly slug: string;
  readonly name: string;
  readonly apiBaseUrl: string;
  /** Every App request handled, in order (headers lower-cased). */
  readonly requests: FakeAppRequest[] = [];

  private readonly publicKey: CryptoKey;
  private readonly baseClock: () => number;
  private readonly basePath: string;
  private offsetMs = 0;
  private readonly installations = new Map<number, FakeAppInstallation>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly mints = new Map<number, number>();
  private readonly pendingRateLimits: RateLimitKind[] = [];
  /** A host between us and GitHub answering App requests with a redirect (see `redirectAppRequestsTo`). */
  private redirectTo: string | null = null;

  constructor(options: FakeGitHubAppOptions) {
    this.appId = options.appId;
    this.clientId = options.clientId ?? `Iv23li${options.appId}`;
    this.slug = options.slug;
    this.name = options.name ?? options.slug;
    this.publicKey = options.publicKey;
    this.apiBaseUrl = (options.apiBaseUrl ?? "https://api.github.com").replace(/\/+$/, "");
    this.basePath = new URL(this.apiBaseUrl).pathname.replace(/\/+$/, "");
    this.baseClock = options.now ?? Date.now;
  }

  // ---------- the test's side ----------

  /** The fake's clock, epoch ms. */
  now(): number {
    return this.baseClock() + this.offsetMs;
  }

  /** Moves the fake's clock forward: tokens and JWTs expire as time passes on GitHub's side. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  addInstallation(installation: FakeAppInstallation): void {
    this.installations.set(installation.id, { ...installation, repositories: [...installation.repositories] });
  }

  /** Suspends (or with `false` unsuspends) an installation, as the account owner can. */
  setSuspended(installationId: number, suspended = true): void {
    this.installation(installationId).suspended = suspended;
  }

  /** The App is uninstalled: the installation is gone and its tokens stop working. */
  removeInstallation(installationId: number): void {
    this.installations.delete(installationId);
    for (const [token, issued] of this.tokens) if (issued.installationId === installationId) this.tokens.delete(token);
  }

  installation(installationId: number): FakeAppInstallation {
    const found = this.installations.get(installationId);
    if (!found) throw new Error(`fake GitHub App: no installation ${installationId}`);
    return found;
  }

  /** Installation tokens minted so far for one installation. */
  mintCount(installationId: number): number {
    return this.mints.get(installationId) ?? 0;
  }

  /** Installation tokens minted so far, all installations. */
  get totalMints(): number {
    let total = 0;
    for (const count of this.mints.values()) total += count;
    return total;
  }

  /** Whether a token the tracker receives is a live installation token (the tracker answers 401 otherwise). */
  isValidToken(token: string): FakeTokenState {
    const issued = this.tokens.get(token);
    if (!issued) return "unknown";
    return issued.expiresAtMs > this.now() ? "valid" : "expired";
  }

  /** The installation a token was minted for, or null for a token this App never issued. */
  installationOfToken(token: string): number | null {
    return this.tokens.get(token)?.installationId ?? null;
  }

  /** Expires every token issued so far without moving the clock (JWTs signed on real time stay valid). */
  expireAllTokens(): void {
    const now = this.now();
    for (const issued of this.tokens.values()) issued.expiresAtMs = Math.min(issued.expiresAtMs, now);
  }

  /**
   * The next `count` App requests are refused for rate limiting: "primary" as GitHub answers a spent
   * budget (403, `x-ratelimit-remaining: 0`, `x-ratelimit-reset`), "secondary" as its abuse limit
   * (429 with `retry-after`).
   */
  rateLimitNext(kind: RateLimitKind = "primary", count = 1): void {
    for (let i = 0; i < count; i++) this.pendingRateLimits.push(kind);
  }

  /**
   * A delivery as GitHub sends it to the App's one webhook URL: signed with the App's webhook secret
   * (`X-Hub-Signature-256`), `X-GitHub-Hook-Installation-Target-Type: integration` with the App id.
   * The payload carries `installation` (and, for repository events, `repository`) as GitHub's do.
   */
  async delivery(event: string, payload: Record<string, unknown>, webhookSecret: string, deliveryId: string = crypto.randomUUID()): Promise<FakeAppDelivery> {
    const body = JSON.stringify(payload);
    const rawBody = new TextEncoder().encode(body);
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(webhookSecret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const signature = [...new Uint8Array(await crypto.subtle.sign("HMAC", key, rawBody))].map((b) => b.toString(16).padStart(2, "0")).join("");
    return {
      body,
      rawBody,
      payload,
      headers: {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/f1aa6a4",
        "x-github-event": event,
        "x-github-delivery": deliveryId,
        "x-github-hook-id": "1",
        "x-github-hook-installation-target-type": "integration",
        "x-github-hook-installation-target-id": String(this.appId),
        "x-hub-signature-256": `sha256=${signature}`,
      },
    };
  }

  /** Every following App request is answered `307 Location: <url>` (a proxy or a hostile host would). */
  redirectAppRequestsTo(url: string | null): void {
    this.redirectTo = url;
  }

  // ---------- the HTTP side ----------

  /** Answers an App request, or null when the path is not one of the App endpoints. */
  async handle(request: Request): Promise<Response | null> {
    const url = new URL(request.url);
    if (!url.pathname.startsWith(`${this.basePath}/app`)) return null;
    const path = url.pathname.slice(this.basePath.length);
    const mint = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    const getInstallation = /^\/app\/installations\/(\d+)$/.exec(path);
    const isApp = path === "/app";
    if (!mint && !isApp && !getInstallation) return null;

    const text = request.method === "GET" ? "" : await request.text();
    let body: unknown = null;
    let bodyParses = true;
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        bodyParses = false;
      }
    }
    this.requests.push({ method: request.method, path, headers: Object.fromEntries(request.headers), body });

    if (this.redirectTo) return new Response(null, { status: 307, headers: { location: this.redirectTo } });
    const limit = this.pendingRateLimits.shift();
    if (limit) return this.rateLimited(limit);

    if (isApp && request.method !== "GET") return json(404, notFound(DOCS));
    if (mint && request.method !== "POST") return json(404, notFound(DOCS));

    const refusal = await this.refuseJwt(request.headers.get("authorization"));
    if (refusal) return refusal;
    if (isApp) return json(200, this.appBody());
    if (getInstallation) {
      if (request.method !== "GET") return json(404, notFound(DOCS));
      const installation = this.installations.get(Number(getInstallation[1]));
      if (!installation) return json(404, notFound(DOCS));
      return json(200, {
        id: installation.id,
        account: { login: installation.account.login, id: installation.account.id, type: installation.account.type ?? "Organization" },
        app_id: this.appId,
        app_slug: this.slug,
        target_type: installation.account.type ?? "Organization",
        repository_selection: installation.repositorySelection ?? "selected",
        permissions: installation.permissions ?? { issues: "write", metadata: "read" },
        events: ["issues", "issue_comment"],
        suspended_at: installation.suspended ? isoSeconds(this.now()) : null,
        suspended_by: null,
      });
    }

    if (!bodyParses) return json(400, { message: "Problems parsing JSON", documentation_url: MINT_DOCS, status: "400" });
    return this.mint(Number(mint?.[1]), body);
  }

  /**
   * Null when the `Authorization: Bearer <jwt>` verifies; otherwise GitHub's 401. A wrong App id with
   * a well-signed JWT gets "A JSON web token could not be decoded" too (octokit/auth-app.js#375).
   */
  private async refuseJwt(authorization: string | null): Promise<Response | null> {
    const undecodable = unauthorized("A JSON web token could not be decoded");
    const jwt = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
    const parts = jwt?.split(".");
    if (!parts || parts.length !== 3) return undecodable;
    const [headerPart = "", claimsPart = "", signaturePart = ""] = parts;
    const header = decodeJsonPart(headerPart);
    const claims = decodeJsonPart(claimsPart);
    const signature = decodeBase64Url(signaturePart);
    if (!isRecord(header) || header.alg !== "RS256" || !isRecord(claims) || !signature) return undecodable;
    const signed = new TextEncoder().encode(`${headerPart}.${claimsPart}`);
    const verified = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", this.publicKey, signature, signed);
    if (!verified) return undecodable;
    if (claims.iss !== this.appId && claims.iss !== this.clientId) return undecodable;

    const now = Math.floor(this.now() / 1000);
    const { iat, exp } = claims;
    if (!Number.isInteger(iat) || (iat as number) > now + IAT_SKEW_SECONDS) {
      return unauthorized("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued");
    }
    if (typeof exp !== "number" || exp <= now) {
      return unauthorized("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires");
    }
    // Measured from `iat` and from GitHub's own clock: a signer whose clock runs fast trips the second.
    if (exp - (iat as number) > MAX_JWT_LIFETIME_SECONDS || exp - now > MAX_JWT_LIFETIME_SECONDS) {
      return unauthorized("'Expiration time' claim ('exp') is too far in the future");
    }
    return null;
  }

  private mint(installationId: number, body: unknown): Response {
    const installation = this.installations.get(installationId);
    if (!installation) return json(404, notFound(MINT_DOCS));
    if (installation.suspended) {
      return json(403, { message: "This installation has been suspended", documentation_url: MINT_DOCS, status: "403" });
    }
    const granted = installation.permissions ?? { issues: "write", metadata: "read" };
    let permissions: Record<string, string> = granted;
    if (body !== null) {
      if (!isRecord(body)) return json(400, { message: "Problems parsing JSON", documentation_url: MINT_DOCS, status: "400" });
      if (body.permissions !== undefined) {
        if (!isRecord(body.permissions) || !permissionsWithin(body.permissions, granted)) {
          return json(422, {
            message: "The permissions requested are not granted to this installation.",
            documentation_url: MINT_DOCS,
            status: "422",
          });
        }
        permissions = body.permissions as Record<string, string>;
      }
    }

    const expiresAtMs = Math.floor((this.now() + INSTALLATION_TOKEN_LIFETIME_MS) / 1000) * 1000;
    const token = `ghs_${randomToken(36)}`;
    this.tokens.set(token, { installationId, expiresAtMs });
    this.mints.set(installationId, this.mintCount(installationId) + 1);
    // `repositories` is listed only when the request narrowed the token to some; ours never does.
    return json(201, {
      token,
      expires_at: isoSeconds(expiresAtMs),
      permissions,
      repository_selection: installation.repositorySelection ?? "selected",
    });
  }

  private appBody(): Record<string, unknown> {
    const owner = { login: "syndarix", id: 900_001 };
    const created = isoSeconds(Date.UTC(2024, 0, 1));
    return {
      id: this.appId,
      slug: this.slug,
      node_id: `A_${this.appId}`,
      client_id: this.clientId,
      owner: { ...user(this.apiBaseUrl, owner), type: "Organization" },
      name: this.name,
      description: "Keeps issues in step between Syndarix and GitHub",
      external_url: "https://syndarix.example",
      html_url: `https://github.com/apps/${this.slug}`,
      created_at: created,
      updated_at: created,
      permissions: { issues: "write", metadata: "read" },
      events: ["installation", "installation_repositories", "issue_comment", "issues"],
      installations_count: this.installations.size,
    };
  }

  private rateLimited(kind: RateLimitKind): Response {
    const nowSeconds = Math.floor(this.now() / 1000);
    if (kind === "secondary") {
      return json(
        429,
        { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: DOCS, status: "429" },
        { "retry-after": "60" },
      );
    }
    return json(
      403,
      { message: `API rate limit exceeded for app ID ${this.appId}.`, documentation_url: DOCS, status: "403" },
      {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "5000",
        "x-ratelimit-reset": String(nowSeconds + 1800),
        "x-ratelimit-resource": "core",
      },
    );
  }
}

/** Requested levels must not exceed what was granted (read < write < admin). */
function permissionsWithin(requested: Record<string, unknown>, granted: Record<string, string>): boolean {
  const rank: Record<string, number> = { read: 1, write: 2, admin: 3 };
  return Object.entries(requested).every(([name, level]) => {
    const have = granted[name];
    return typeof level === "string" && have !== undefined && (rank[level] ?? 99) <= (rank[have] ?? 0);
  });
}

function unauthorized(message: string): Response {
  return json(401, { message, documentation_url: DOCS, status: "401" });
}

function notFound(documentationUrl: string): Record<string, string> {
  return { message: "Not Found", documentation_url: documentationUrl, status: "404" };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function decodeBase64Url(part: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) return null;
  try {
    const binary = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

function decodeJsonPart(part: string): unknown {
  const bytes = decodeBase64Url(part);
  if (!bytes) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return null;
  }
}

function randomToken(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}
