/**
 * The HTTP client every adapter shares: bounded retries for 5xx and network errors, a per-request
 * timeout, rate limits turned into data (`RateLimitedError`, never a sleep) and `Link` parsing.
 * What differs per tracker (auth headers, whether a 403 can be a rate limit) comes in as a
 * `TrackerHttpDialect` from the tracker's own client. Reading answers into issues and pages is
 * `issue-responses.ts`.
 * Error messages name the method, path and status, never the token or the request body.
 *
 * Where the token may go (issue 17): only to the API base's origin, only to paths below the base
 * that the adapter allowed (its own repository or project, plus the few others it needs, e.g.
 * `/user`), and redirects are followed by hand under the same two rules — the runtime would follow
 * a cross-origin redirect carrying GitLab's `PRIVATE-TOKEN`. Answers are read up to a size limit.
 */
import { redactSecrets } from "../redact";
import { readStreamLimited } from "../streams";
import { fromEpochSeconds } from "./timestamps";
import { RateLimitedError, TrackerError, type Provider, type TrackerConfig } from "./types";

/** The HTTP facts of one tracker, supplied by its client. */
export interface TrackerHttpDialect {
  /** Headers that carry the token, plus any the tracker wants on every call. */
  authHeaders(token: string): Record<string, string>;
  /** GitHub refuses some rate-limited requests with 403 rather than 429. */
  forbiddenMayBeRateLimit: boolean;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface TrackerRequestOptions {
  /** Extra request headers, e.g. `If-None-Match`. */
  headers?: Record<string, string>;
  /** Sent as a JSON body. */
  json?: unknown;
  /** Non-2xx statuses handed back to the caller instead of thrown (rate limits are still thrown). */
  accept?: readonly number[];
  /**
   * A redirect the client may not follow (another origin, or a path outside the repository) is
   * handed back as the answer instead of thrown: GitHub's 301 for a transferred issue is the
   * answer itself. Redirects within the repository (a rename) are still followed.
   */
  manualRedirect?: boolean;
}

/** True when a path below the API base (e.g. `/repos/acme/widgets/issues`) may be requested. */
export type PathRule = (pathBelowBase: string) => boolean;

/** A rule allowing `prefix` itself and everything below it (`prefix/...`), nothing beside it. */
export function underPath(prefix: string): PathRule {
  return (path) => path === prefix || path.startsWith(`${prefix}/`);
}

/** A rule allowing exactly `path`. */
export function exactPath(exact: string): PathRule {
  return (path) => path === exact;
}

export interface TrackerResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null for an empty body (304, 204). */
  body: unknown;
  /** The URL that gave this answer: the requested one, or where the redirects it followed led. */
  url: string;
}

export type QueryValue = string | number | boolean | null | undefined;

const DEFAULT_MAX_ATTEMPTS = 3;
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 4_000;
/** Per request, body included. Trackers answer in well under this; a hung connection does not. */
const DEFAULT_TIMEOUT_MS = 20_000;
/** GitHub's advice when a limit answer names no reset time: wait at least a minute. */
const UNKNOWN_RESET_WAIT_MS = 60_000;
/** A reset already past (clock skew) still waits this long: retrying at once only meets the limit again. */
export const MIN_RATE_LIMIT_WAIT_MS = 5_000;
/** Bound for helper listings (labels, milestones, own issues): never walk a tracker forever. */
const MAX_HELPER_PAGES = 50;
/** Redirects followed for one request before giving up (GitHub's rename answers need one). */
const MAX_REDIRECTS = 5;
/** Largest tracker answer read: a page of 100 issues at GitHub's 65,536-character body limit fits. */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** POST creates are not idempotent: a retry after a lost answer is how duplicates happen. */
const IDEMPOTENT: ReadonlySet<HttpMethod> = new Set(["GET", "PUT", "PATCH", "DELETE"]);

export class TrackerHttp {
  readonly provider: Provider;
  readonly baseUrl: string;
  private readonly origin: string;
  /** The API base's path ("/api/v3"), which every request path must start with. */
  private readonly basePath: string;
  private pathRules: readonly PathRule[] = [];
  /** Same-origin paths outside the API base the token may also go to (GitHub Enterprise's `/api/graphql`). */
  private absolutePaths: readonly string[] = [];
  private readonly token: string;
  private readonly dialect: TrackerHttpDialect;
  private readonly fetchImpl: typeof fetch;
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private requests = 0;
  /** Maps a tracker's next-page link onto the API base before it is followed (Gitea's `ROOT_URL`). */
  rebaseLink: ((link: string) => string) | null = null;
  /**
   * Asked about a same-origin URL (a redirect, a next-page link) the path rules refuse: true when the
   * adapter confirmed from the repository itself that it points into this repository (under a new
   * name, or by its id) and its path rules now admit it. Every tracker call so follows a rename
   * (Gitea answers 307 on every old path), and only ever into this repository.
   */
  confirmOwnPath: ((target: URL, via: "link" | "redirect") => Promise<boolean>) | null = null;

  constructor(config: TrackerConfig, dialect: TrackerHttpDialect) {
    this.provider = config.provider;
    this.dialect = dialect;
    this.baseUrl = config.apiBaseUrl.replace(/\/+$/, "");
    this.origin = new URL(this.baseUrl).origin;
    this.basePath = new URL(this.baseUrl).pathname.replace(/\/+$/, "");
    this.token = config.token;
    // Resolved per call, not captured: tests replace globalThis.fetch after adapters exist.
    this.fetchImpl = config.fetch ?? ((input, init) => fetch(input, init));
    this.maxAttempts = Math.max(1, config.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.sleep = config.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = config.now ?? Date.now;
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** HTTP requests made so far, every attempt and every 304 included. */
  get requestCount(): number {
    return this.requests;
  }

  /** An absolute URL under the API base; `undefined`/`null` query values are left out. */
  url(path: string, query: Record<string, QueryValue> = {}): string {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  /**
   * Limits every later request to paths below the API base that one of `rules` allows. The adapter
   * calls it once, with its repository's or project's path and the few others it needs.
   */
  restrictPaths(rules: readonly PathRule[]): void {
    this.pathRules = rules;
  }

  /** Allows one exact same-origin path outside the API base (GitHub Enterprise serves GraphQL at `/api/graphql` beside `/api/v3`). */
  allowAbsolutePath(path: string): void {
    this.absolutePaths = [...this.absolutePaths, path];
  }

  /** Why the token must not go to `target`, or null when it may. */
  private refusal(target: URL): string | null {
    // A Link URL is followed verbatim, but never to another host: that would hand it our token.
    if (target.origin !== this.origin) return `refused to send credentials to ${target.origin}`;
    if (this.absolutePaths.includes(target.pathname)) return null;
    // `new URL()` has already resolved any dot segment: this is the path that would be sent.
    const path = target.pathname;
    const below = path.startsWith(`${this.basePath}/`) ? path.slice(this.basePath.length) : null;
    if (below === null || !this.pathRules.some((allowed) => allowed(below))) {
      return `refused to send credentials to ${path}: not under the project's repository`;
    }
    return null;
  }

  async request(method: HttpMethod, url: string, options: TrackerRequestOptions = {}): Promise<TrackerResponse> {
    const target = new URL(url);
    let refused = this.refusal(target);
    if (refused && target.origin === this.origin && (await this.ownPathConfirmed(target, "link"))) refused = this.refusal(target);
    if (refused) throw new TrackerError(`${this.provider} ${refused}`, null, false);
    const what = `${this.provider} ${method} ${target.pathname}`;
    const attempts = IDEMPOTENT.has(method) ? this.maxAttempts : 1;
    let lastError: TrackerError | null = null;

    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await this.sleep(backoffMs(attempt - 1));
      let res: Response;
      let answeredBy: URL;
      try {
        ({ res, url: answeredBy } = await this.fetchFollowing(method, target, options, what));
      } catch (err) {
        if (err instanceof TrackerError) throw err;
        lastError = new TrackerError(`${what} failed: ${networkReason(err)}`, null, true);
        continue;
      }

      const text = await readText(res, MAX_RESPONSE_BYTES);
      if (text === TOO_LARGE) {
        throw new TrackerError(`${what} answered ${res.status} with a body over ${MAX_RESPONSE_BYTES} bytes`, res.status, false);
      }
      if (text === null) {
        lastError = new TrackerError(`${what} answered ${res.status} with an unreadable body`, res.status, true);
        continue;
      }
      const retryAt = rateLimitRetryAt(this.dialect, res.status, res.headers, messageOf(text), this.now());
      if (retryAt) throw new RateLimitedError(retryAt, res.status);

      const accepted = res.ok || res.status === 304 || (options.accept ?? []).includes(res.status);
      if (!accepted) {
        const error = new TrackerError(
          `${what} answered ${res.status}${this.describe(text)}`,
          res.status,
          res.status >= 500,
        );
        if (res.status >= 500) {
          lastError = error;
          continue;
        }
        throw error;
      }

      if (text.trim() === "") return { status: res.status, headers: res.headers, body: null, url: answeredBy.toString() };
      try {
        return { status: res.status, headers: res.headers, body: JSON.parse(text) as unknown, url: answeredBy.toString() };
      } catch {
        // A cut-off body is a transport fault like a dropped connection: retry, then report retryable.
        lastError = new TrackerError(`${what} answered ${res.status} with a body that is not JSON`, res.status, true);
      }
    }
    throw lastError ?? new TrackerError(`${what} failed`, null, true);
  }

  /**
   * One request with redirects followed by hand: only within the origin and the allowed paths,
   * at most MAX_REDIRECTS hops. 307/308 repeat the method and body; 303, and 301/302 after a POST,
   * continue as a GET without a body (RFC 9110 §15.4); other 301/302 keep the method.
   */
  private async fetchFollowing(method: HttpMethod, target: URL, options: TrackerRequestOptions, what: string): Promise<{ res: Response; url: URL }> {
    let url = target;
    let currentMethod: HttpMethod = method;
    let json = options.json;
    for (let hop = 0; ; hop++) {
      this.requests++;
      const res = await this.fetchImpl(url.toString(), this.init(currentMethod, { ...options, json }));
      const location = res.headers.get("location");
      if (!REDIRECTS.has(res.status) || location === null) return { res, url };
      const next = new URL(location, url);
      let refused = this.refusal(next);
      if (refused && !options.manualRedirect && next.origin === this.origin && (await this.ownPathConfirmed(next, "redirect"))) refused = this.refusal(next);
      // GitHub's 301 for an issue transferred to another repository is the answer itself.
      if (refused && options.manualRedirect) return { res, url };
      await res.body?.cancel();
      if (refused) throw new TrackerError(`${what} answered ${res.status}, a redirect not followed: ${refused}`, res.status, false);
      if (hop >= MAX_REDIRECTS) throw new TrackerError(`${what} was redirected more than ${MAX_REDIRECTS} times`, res.status, false);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && currentMethod === "POST")) {
        currentMethod = "GET";
        json = undefined;
      }
      url = next;
    }
  }

  private confirming = false;

  /** One confirmation at a time: the adapter's own repository read never asks again. */
  private async ownPathConfirmed(target: URL, via: "link" | "redirect"): Promise<boolean> {
    if (!this.confirmOwnPath || this.confirming) return false;
    this.confirming = true;
    try {
      return await this.confirmOwnPath(target, via);
    } finally {
      this.confirming = false;
    }
  }

  /** GET that must answer 2xx with JSON. */
  async getJson(url: string): Promise<unknown> {
    return (await this.request("GET", url)).body;
  }

  /**
   * Every item of a small helper listing (labels, milestones, one user's recent issues), following
   * `Link: rel="next"`. Bounded: these listings are never the issue walk itself.
   */
  async getAllPages(url: string): Promise<unknown[]> {
    const items: unknown[] = [];
    let next: string | null = this.rebaseLink ? this.rebaseLink(url) : url;
    for (let page = 0; next && page < MAX_HELPER_PAGES; page++) {
      const res = await this.request("GET", next);
      if (!Array.isArray(res.body)) {
        throw new TrackerError(`${this.provider} GET ${new URL(next).pathname} did not answer a list`, res.status, false);
      }
      items.push(...(res.body as unknown[]));
      next = nextPageUrl(res.url, res.headers, res.body.length);
      if (next !== null && this.rebaseLink) next = this.rebaseLink(next);
    }
    return items;
  }

  private init(method: HttpMethod, options: TrackerRequestOptions): RequestInit {
    const headers: Record<string, string> = {
      Accept: "application/json",
      "User-Agent": "syndarix-sync",
      ...this.dialect.authHeaders(this.token),
      ...options.headers,
    };
    // A tracker that stops answering must not hold the project's Durable Object: the timeout turns
    // it into a network error (retried for idempotent methods, ambiguous for creates).
    // Redirects are never left to the runtime: it would follow them to any origin (fetchFollowing).
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(this.timeoutMs), redirect: "manual" };
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    }
    return init;
  }

  /** The tracker's own error message, shortened, with the token scrubbed in case it was echoed. */
  private describe(text: string): string {
    const message = messageOf(text);
    if (!message) return "";
    const scrubbed = redactSecrets(message, [this.token]);
    return `: ${scrubbed.slice(0, 200)}`;
  }
}

/**
 * When a response is a rate-limit refusal, the ISO instant to retry at; null otherwise.
 * GitHub answers 403 or 429: a 403 is a rate limit only with `x-ratelimit-remaining: 0`, a
 * `retry-after` (secondary limits) or a message saying so; any other 403 is a permission error.
 * GitLab answers 429 with `RateLimit-Reset` (epoch seconds) and `Retry-After`; a proxy in front
 * of Gitea may answer 429 with `Retry-After` in seconds or as an HTTP date.
 */
export function rateLimitRetryAt(
  dialect: Pick<TrackerHttpDialect, "forbiddenMayBeRateLimit">,
  status: number,
  headers: Headers,
  message: string,
  nowMs: number,
): string | null {
  if (status !== 429 && !(dialect.forbiddenMayBeRateLimit && status === 403)) return null;
  const retryAfter = headers.get("retry-after");
  const remaining = headers.get("x-ratelimit-remaining") ?? headers.get("ratelimit-remaining");
  const reset = headers.get("x-ratelimit-reset") ?? headers.get("ratelimit-reset");
  const limited =
    status === 429 || retryAfter !== null || remaining === "0" || /rate limit/i.test(message);
  if (!limited) return null;
  if (retryAfter !== null) {
    const at = retryAfterAt(retryAfter, nowMs);
    if (at) return at;
  }
  if (reset !== null && /^\d+$/.test(reset.trim())) {
    const value = Number(reset);
    // Epoch seconds (GitHub, GitLab); small values are the IETF draft's delta seconds.
    const atMs = value > 1_000_000_000 ? value * 1000 : nowMs + value * 1000;
    return fromEpochSeconds((atMs > nowMs ? atMs : nowMs + MIN_RATE_LIMIT_WAIT_MS) / 1000);
  }
  return new Date(nowMs + UNKNOWN_RESET_WAIT_MS).toISOString();
}

/** `Retry-After` as delay seconds or an HTTP date; null when unreadable. */
export function retryAfterAt(value: string, nowMs: number): string | null {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return new Date(nowMs + Number(trimmed) * 1000).toISOString();
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : new Date(date > nowMs ? date : nowMs + MIN_RATE_LIMIT_WAIT_MS).toISOString();
}

/** `Link` header → rel → URL, URLs kept verbatim. */
/**
 * The next page of a listing, however the tracker says it: `Link: rel="next"` (GitHub, Gitea's issue
 * listings), `X-Next-Page` (GitLab), or only a count (`X-Total-Count`; Gitea's repository-wide
 * comment listing sends no `Link`, routers/api/v1/repo/issue_comment.go) from which the next page
 * number follows. Null after the last page.
 */
export function nextPageUrl(current: string, headers: Headers, itemsOnPage: number): string | null {
  const link = parseLinkHeader(headers.get("link")).next;
  if (link) return link;
  const url = new URL(current);
  const nextPage = headers.get("x-next-page")?.trim();
  if (nextPage) {
    url.searchParams.set("page", nextPage);
    return url.toString();
  }
  if (headers.has("x-next-page")) return null; // GitLab: present and empty on the last page
  const total = Number(headers.get("x-total-count") ?? headers.get("x-total") ?? Number.NaN);
  if (!Number.isFinite(total) || itemsOnPage === 0) return null;
  const page = Number(url.searchParams.get("page") ?? "1") || 1;
  const size = Number(url.searchParams.get("limit") ?? url.searchParams.get("per_page") ?? "") || itemsOnPage;
  if (page * size >= total) return null;
  url.searchParams.set("page", String(page + 1));
  return url.toString();
}

export function parseLinkHeader(value: string | null): Record<string, string> {
  const links: Record<string, string> = {};
  if (!value) return links;
  for (const match of value.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const url = match[1] ?? "";
    const rel = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(match[2] ?? "")?.[1];
    if (!rel) continue;
    for (const name of rel.trim().split(/\s+/)) links[name.toLowerCase()] ??= url;
  }
  return links;
}

function backoffMs(retry: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (retry - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const TOO_LARGE = Symbol("too large");

/** The body as text, TOO_LARGE past `limit` bytes (counted while reading), null when unreadable. */
async function readText(res: Response, limit: number): Promise<string | null | typeof TOO_LARGE> {
  const declared = Number(res.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel();
    return TOO_LARGE;
  }
  let bytes: Uint8Array | "too_large";
  try {
    bytes = await readStreamLimited(res.body, limit);
  } catch {
    return null;
  }
  if (bytes === "too_large") return TOO_LARGE;
  return new TextDecoder().decode(bytes);
}

/** GitHub/Gitea `{message}`, GitLab `{message}` (sometimes an object) or `{error}`. */
function messageOf(text: string): string {
  if (!text) return "";
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === "object") {
      const record = body as Record<string, unknown>;
      const message = record.message ?? record.error;
      if (typeof message === "string") return message;
      if (message !== undefined) return JSON.stringify(message);
    }
  } catch {
    // Not JSON: an HTML error page from a proxy says nothing we want in a log line.
  }
  return "";
}

function networkReason(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 120) : "network error";
}
