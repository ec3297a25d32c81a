/**
 * An in-memory GitHub, GitLab or Gitea, one shape for all three:
 *
 *   const gh = new FakeTracker("github", { baseUrl: "https://api.github.com" });
 *   gh.seed(250, { pullRequestEvery: 5 });
 *   const res = await gh.handle(new Request("https://api.github.com/repos/acme/widgets/issues"));
 *
 * It serves the endpoints the adapters use as each tracker documents them, and gives tests the
 * tracker side: seed, edit, delete and transfer issues under a controllable clock; inject faults
 * for the next N matching requests; drop the answer of a create after performing it; read the
 * request log and counters; build webhook deliveries signed as the real tracker signs them.
 * Erasable TypeScript with `.ts` imports and only `import type` from src, so Node 22 runs it as is.
 */
import type { Provider } from "../../src/providers/types.ts";
import { gitlabIssuePayload, gitlabNotePayload, issue as gitlabIssue, moveGitLab, routeGitLab } from "./fake-gitlab.ts";
import { githubCommentPayload, githubIssuePayload, issue as githubIssue, routeGitHub, transferGitHub } from "./fake-github.ts";
import { giteaCommentPayload, giteaEventType, giteaIssuePayload, issue as giteaIssue, routeGitea } from "./fake-gitea.ts";
import type { FakeGitHubApp } from "./fake-github-app.ts";
import {
  FakeStore,
  json,
  type FakeComment,
  type FakeIssue,
  type FakeRequest,
  type FakeWebhook,
  type IssueEdit,
  type IssueSeed,
  type WebhookOptions,
} from "./fake-store.ts";

export type { FakeComment, FakeIssue, FakeWebhook, IssueEdit, IssueSeed, WebhookOptions } from "./fake-store.ts";

export interface FakeTrackerOptions {
  /** The API base the fake answers under, e.g. `https://api.github.com`, `https://gitlab.example/api/v4`. */
  baseUrl: string;
  /** Largest page served for issue lists (default: the tracker's maximum, 100 / 100 / 50). */
  perPage?: number;
  /** "owner/name" (GitLab: the project's full path; its numeric id is 4242). Default "acme/widgets". */
  repository?: string;
  /** The only token accepted. Default "test-token". */
  token?: string;
  /** The secret webhooks are signed with. Default "webhook-secret-for-tests-0001" (the API requires 20 characters or more). */
  webhookSecret?: string;
  /** The clock at start. Default 2024-01-01T00:00:00Z. */
  startTime?: string;
  /** Clock step after each mutation, ms. Default 1000. */
  tickMs?: number;
}

export type FaultKind =
  | "server_error"
  | "rate_limit"
  | "secondary_rate_limit"
  | "forbidden"
  | "truncated_json"
  | "invalid_json"
  | "network"
  /** 422 whose message quotes the request's credential header, as a misconfigured proxy or tracker plugin can. */
  | "echo_credential"
  /** A create answered 201 with an existing issue (`number`) instead of a new one: a broken proxy cache or a hostile tracker. */
  | "answer_existing";

export interface FaultSpec {
  kind: FaultKind;
  /** Substring of `"METHOD /path?query"` (path below the API base), or a RegExp on it. Default: any. */
  match?: string | RegExp;
  /** How many matching requests fail. Default 1. */
  times?: number;
  /** Status for `server_error` (default 502) or GitHub `rate_limit` (403 or 429, default 403). */
  status?: number;
  /** Perform the request, then fail its answer: the change happened, the client never hears. */
  afterHandling?: boolean;
  /** Seconds from the fake's clock until the rate limit resets. Default 60. */
  resetInSeconds?: number;
  /** `answer_existing`: the issue whose JSON answers the create. */
  number?: number;
}

/**
 * A redirect answered instead of the request (nothing is performed). GitHub after a repository
 * rename answers 301 for reads and 307 for writes, `Location` on the same host under
 * `/repositories/<id>/…` (PROVIDERS.md); a proxy or a moved GitLab instance may answer 302 to
 * another origin, which a client must not follow with its `PRIVATE-TOKEN` (issue 17).
 */
export interface RedirectSpec {
  /** Substring of `"METHOD /path?query"` (below the API base), or a RegExp on it. */
  match: string | RegExp;
  status: 301 | 302 | 303 | 307 | 308;
  /** Absolute URL, or a function of the path below the API base returning one. */
  location: string | ((path: string) => string);
  /** How many matching requests are redirected. Default: every one. */
  times?: number;
}

export interface RequestRecord {
  method: string;
  /** Below the API base, with the query: `/repos/acme/widgets/issues?state=all`. */
  path: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  status: number | "network_error";
  fault: FaultKind | null;
}

export interface FakeStats {
  requests: number;
  byRoute: Record<string, number>;
  notModified: number;
  faults: number;
  issues: number;
}

const DEFAULT_PAGE_MAX: Record<Provider, number> = { github: 100, gitlab: 100, gitea: 50 };

export class FakeTracker {
  readonly provider: Provider;
  readonly baseUrl: string;
  readonly store: FakeStore;
  readonly requests: RequestRecord[] = [];
  token: string;
  webhookSecret: string;
  private readonly faults: (FaultSpec & { remaining: number })[] = [];
  /** Called for every request before it is answered (awaited): a test's hook into "while the tracker is answering". */
  beforeAnswer: ((record: RequestRecord) => void | Promise<void>) | null = null;
  private readonly redirects: (RedirectSpec & { remaining: number })[] = [];
  private faultCount = 0;
  /** GitHub: the App whose installation tokens are accepted too (see `useApp`). */
  private app: { app: FakeGitHubApp; installationId: number } | null = null;
  /** Called with each request once recorded and answered: lets a test act between a run's requests. */
  onRequest: ((record: RequestRecord) => void) | null = null;

  constructor(provider: Provider, options: FakeTrackerOptions) {
    this.provider = provider;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.token = options.token ?? "test-token";
    this.webhookSecret = options.webhookSecret ?? "webhook-secret-for-tests-0001";
    this.store = new FakeStore({
      provider,
      repository: options.repository ?? "acme/widgets",
      startTime: options.startTime ?? "2024-01-01T00:00:00Z",
      tickMs: options.tickMs ?? 1000,
      perPage: options.perPage ?? DEFAULT_PAGE_MAX[provider],
    });
  }

  // ---------- serving ----------

  async handle(request: Request): Promise<Response> {
    // The App's own endpoints (`/app`, token mint) live on the same API host.
    const appAnswer = this.app ? await this.app.app.handle(request.clone()) : null;
    if (appAnswer) return appAnswer;
    const url = new URL(request.url);
    const basePath = new URL(this.baseUrl).pathname.replace(/\/+$/, "");
    const path = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) + url.search : url.pathname + url.search;
    const bodyText = request.method === "GET" || request.method === "HEAD" ? "" : await request.clone().text();
    const record: RequestRecord = {
      method: request.method,
      path,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body: parseBody(bodyText),
      status: 0,
      fault: null,
    };
    this.requests.push(record);
    // A test's hook into "while the tracker is answering" (e.g. the project is deleted mid-step).
    if (this.beforeAnswer) await this.beforeAnswer(record);

    const redirect = this.takeRedirect(`${request.method} ${path}`);
    if (redirect) {
      const location = typeof redirect.location === "string" ? redirect.location : redirect.location(path);
      record.status = redirect.status;
      return new Response(JSON.stringify({ message: "Moved", url: location }), {
        status: redirect.status,
        headers: { location, "content-type": "application/json" },
      });
    }

    const fault = this.takeFault(`${request.method} ${path}`);
    if (fault) {
      record.fault = fault.kind;
      this.faultCount++;
    }
    const deferred = fault && (fault.afterHandling || fault.kind === "truncated_json" || fault.kind === "invalid_json");
    if (fault && !deferred) {
      if (fault.kind === "network") {
        record.status = "network_error";
        throw new TypeError("Network connection lost.");
      }
      if (fault.kind === "answer_existing") {
        const existing = this.provider === "gitlab" ? `/projects/${encodeURIComponent(this.store.repository)}/issues/${fault.number ?? 1}` : `/repos/${this.store.repository}/issues/${fault.number ?? 1}`;
        const answer = await this.route({ method: "GET", url: new URL(`${this.baseUrl}${existing}`), path: existing, request, base: this.baseUrl });
        record.status = 201;
        return new Response(await answer.text(), { status: 201, headers: answer.headers });
      }
      const res = this.faultResponse(fault, request);
      record.status = res.status;
      return res;
    }

    const credential = this.authorized(request);
    let res =
      credential === null
        ? this.unauthorized()
        : credential === "installation" && url.pathname.endsWith("/user")
          ? // Installation tokens act as the App's bot, which has no `GET /user`.
            json(403, { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest/users/users#get-the-authenticated-user", status: "403" })
          : await this.route({ method: request.method, url, path, request, base: this.baseUrl });

    if (fault) {
      if (fault.kind === "network") {
        record.status = "network_error";
        throw new TypeError("Network connection lost.");
      }
      if (fault.kind === "truncated_json" || fault.kind === "invalid_json") {
        const text = await res.text();
        const mangled = fault.kind === "truncated_json" ? text.slice(0, Math.floor(text.length / 2)) : "<html><body>Bad gateway</body></html>";
        res = new Response(mangled, { status: res.status, headers: res.headers });
      } else {
        res = this.faultResponse(fault, request);
      }
    }
    // Every answer carries the fake's clock, as a tracker's Date header carries its own.
    if (!res.headers.has("date")) res.headers.set("date", new Date(this.store.nowMs).toUTCString());
    record.status = res.status;
    this.onRequest?.(record);
    return res;
  }

  /**
   * GitHub: also accept installation tokens of `app`'s installation, as a repository the App is
   * installed on does; expired or unknown ones get 401 "Bad credentials". What the token creates is
   * authored by `<slug>[bot]`.
   */
  /** The App installation whose tokens this repository accepts, if any. */
  get appInstallationId(): number | null {
    return this.app?.installationId ?? null;
  }

  useApp(app: FakeGitHubApp, installationId: number): this {
    if (this.provider !== "github") throw new Error("only GitHub has Apps");
    this.app = { app, installationId };
    this.store.tokenUser = this.store.addUser(`${app.slug}[bot]`);
    return this;
  }

  private route(req: FakeRequest): Promise<Response> {
    // Lost access: every repository route answers 404 as for a repository that does not exist.
    if (this.store.accessLost && !req.path.startsWith("/user")) {
      return Promise.resolve(json(404, { message: this.provider === "gitlab" ? "404 Project Not Found" : "Not Found" }));
    }
    switch (this.provider) {
      case "github":
        return routeGitHub(this.store, req);
      case "gitlab":
        return routeGitLab(this.store, req);
      case "gitea":
        return routeGitea(this.store, req);
    }
  }

  private authorized(request: Request): "token" | "installation" | null {
    const auth = request.headers.get("authorization") ?? "";
    switch (this.provider) {
      case "github": {
        if (auth === `Bearer ${this.token}` || auth === `token ${this.token}`) return "token";
        const presented = /^(?:Bearer|token) (\S+)$/.exec(auth)?.[1];
        if (this.app && presented && this.app.app.isValidToken(presented) === "valid" && this.app.app.installationOfToken(presented) === this.app.installationId) {
          return "installation";
        }
        return null;
      }
      case "gitlab":
        return request.headers.get("private-token") === this.token || auth === `Bearer ${this.token}` ? "token" : null;
      case "gitea":
        return auth === `token ${this.token}` || auth === `Bearer ${this.token}` ? "token" : null;
    }
  }

  private unauthorized(): Response {
    // GitHub: https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api#401-unauthorized
    if (this.provider === "github") return json(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" });
    const message = { gitlab: "401 Unauthorized", gitea: "token is required" }[this.provider];
    return json(401, { message });
  }

  // ---------- faults ----------

  /** Fails the next `times` requests matching `match` (see FaultSpec). */
  fail(spec: FaultSpec): this {
    this.faults.push({ ...spec, remaining: spec.times ?? 1 });
    return this;
  }

  /** Forgets every fault not yet spent: the tracker recovers. */
  clearFaults(): this {
    this.faults.length = 0;
    return this;
  }

  /** The next create is performed, but its answer is lost (network error by default). */
  dropCreateResponse(times = 1, kind: "network" | "server_error" = "network"): this {
    const match = this.provider === "gitlab" ? /^POST \/projects\/[^/]+\/issues(\?|$)/ : /^POST \/repos\/[^/]+\/[^/]+\/issues(\?|$)/;
    return this.fail({ kind, match, times, afterHandling: true });
  }

  /** Answers matching requests with a redirect (see RedirectSpec). */
  redirect(spec: RedirectSpec): this {
    this.redirects.push({ ...spec, remaining: spec.times ?? Number.POSITIVE_INFINITY });
    return this;
  }

  private takeRedirect(key: string): RedirectSpec | null {
    for (const spec of this.redirects) {
      if (spec.remaining <= 0) continue;
      if (typeof spec.match === "string" ? key.includes(spec.match) : spec.match.test(key)) {
        spec.remaining--;
        return spec;
      }
    }
    return null;
  }

  private takeFault(key: string): FaultSpec | null {
    for (const fault of this.faults) {
      if (fault.remaining <= 0) continue;
      const hit =
        fault.match === undefined ||
        (typeof fault.match === "string" ? key.includes(fault.match) : fault.match.test(key));
      if (hit) {
        fault.remaining--;
        return fault;
      }
    }
    return null;
  }

  private faultResponse(fault: FaultSpec, request: Request): Response {
    const resetAt = Math.floor(this.store.nowMs / 1000) + (fault.resetInSeconds ?? 60);
    const wait = String(fault.resetInSeconds ?? 60);
    switch (fault.kind) {
      case "server_error":
        return json(fault.status ?? 502, { message: "Server Error" });
      case "echo_credential": {
        const presented = request.headers.get("authorization") ?? request.headers.get("private-token") ?? "";
        return json(422, { message: `Validation Failed for request with credentials ${presented}` });
      }
      case "forbidden":
        return this.provider === "github"
          ? json(403, { message: "Resource not accessible by personal access token", documentation_url: "https://docs.github.com/rest", status: "403" }, { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4998", "x-ratelimit-reset": String(resetAt) })
          : json(403, { message: "403 Forbidden" });
      case "secondary_rate_limit":
        if (this.provider === "github") {
          return json(403, { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api" }, { "retry-after": wait, "x-ratelimit-remaining": "4990", "x-ratelimit-reset": String(resetAt) });
        }
        return json(429, { message: "Retry later" }, { "retry-after": wait });
      case "rate_limit":
        if (this.provider === "github") {
          return json(fault.status ?? 403, { message: "API rate limit exceeded for user ID 1.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api" }, { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-used": "5000", "x-ratelimit-reset": String(resetAt), "x-ratelimit-resource": "core" });
        }
        if (this.provider === "gitlab") {
          return new Response("Retry later\n", {
            status: 429,
            headers: {
              "content-type": "text/plain",
              "ratelimit-name": "throttle_authenticated_api",
              "ratelimit-limit": "2000",
              "ratelimit-observed": "2001",
              "ratelimit-remaining": "0",
              "ratelimit-reset": String(resetAt),
              "ratelimit-resettime": new Date(resetAt * 1000).toUTCString(),
              "retry-after": wait,
            },
          });
        }
        return json(429, { message: "Too Many Requests" }, { "retry-after": wait });
      default:
        return json(500, { message: "unexpected fault" });
    }
  }

  // ---------- the tracker side ----------

  seed(count: number, options: { pullRequestEvery?: number } = {}): FakeIssue[] {
    return this.store.seed(count, options);
  }

  seedIssue(seed: IssueSeed = {}): FakeIssue {
    return this.store.seedIssue(seed);
  }

  /** GitHub/Gitea: a pull request in the issue list; GitLab has none there, so an incident. */
  seedPullRequest(seed: IssueSeed = {}): FakeIssue {
    return this.store.seedIssue({ ...seed, kind: this.provider === "gitlab" ? "incident" : "pull_request" });
  }

  edit(number: number, change: IssueEdit): FakeIssue {
    return this.store.edit(number, change);
  }

  delete(number: number): void {
    this.store.delete(number);
  }

  /** GitHub: transfer to another repository (301); GitLab: move to another project (`moved_to_id`). */
  transfer(number: number): FakeIssue {
    if (this.provider === "github") return transferGitHub(this.store, this.baseUrl, number);
    if (this.provider === "gitlab") return moveGitLab(this.store, number);
    throw new Error("gitea cannot transfer issues");
  }

  /**
   * Renames the repository: its id and issue ids stay; GitHub answers the old name with 301 (GET)
   * or 307 (writes) to the same host, Gitea with 307 to the new name; GitLab still finds the
   * project by its old path.
   */
  renameRepository(newName: string): void {
    this.store.renamedFrom.push(this.store.repository);
    this.store.repository = newName;
  }

  /** The token loses access to the repository: everything under it answers 404. */
  loseAccess(lost = true): void {
    this.store.accessLost = lost;
  }

  issue(number: number): FakeIssue | undefined {
    return this.store.get(number);
  }

  /** The JSON the API renders for an issue (for schema checks). */
  apiIssue(number: number): Record<string, unknown> {
    const i = this.store.require(number);
    switch (this.provider) {
      case "github":
        return githubIssue(this.baseUrl, this.store, i);
      case "gitlab":
        return gitlabIssue(this.baseUrl, this.store, i);
      case "gitea":
        return giteaIssue(this.baseUrl, this.store, i);
    }
  }

  /** The fake's clock, ISO UTC. */
  get now(): string {
    return new Date(this.store.nowMs).toISOString();
  }

  advance(ms: number): void {
    this.store.advance(ms);
  }

  // ---------- log ----------

  stats(): FakeStats {
    const byRoute: Record<string, number> = {};
    let notModified = 0;
    for (const r of this.requests) {
      const route = `${r.method} ${r.path.split("?")[0]?.replace(/\/\d+(?=\/|$)/g, "/:n")}`;
      byRoute[route] = (byRoute[route] ?? 0) + 1;
      if (r.status === 304) notModified++;
    }
    return { requests: this.requests.length, byRoute, notModified, faults: this.faultCount, issues: this.store.visible().length };
  }

  clearLog(): void {
    this.requests.length = 0;
  }

  // ---------- comments ----------

  /** A comment written on the tracker by a person (GitLab: `system`/`internal` notes too). */
  addComment(issueNumber: number, seed: { body?: string; author?: string; system?: boolean; internal?: boolean } = {}): FakeComment {
    return this.store.addComment(issueNumber, seed);
  }

  editComment(id: number, body: string): FakeComment {
    return this.store.editComment(id, body);
  }

  deleteComment(id: number): void {
    this.store.deleteComment(id);
  }

  comment(id: number): FakeComment | undefined {
    return this.store.comments.get(id);
  }

  /** Live comments of one issue, oldest first. */
  commentsOf(issueNumber: number): FakeComment[] {
    return this.store.visibleComments().filter((c) => c.issueNumber === issueNumber);
  }

  /** The next comment create is performed, but its answer is lost. */
  dropCommentCreateResponse(times = 1, kind: "network" | "server_error" = "network"): this {
    const match = this.provider === "gitlab" ? /^POST \/projects\/[^/]+\/issues\/\d+\/notes(\?|$)/ : /^POST \/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments(\?|$)/;
    return this.fail({ kind, match, times, afterHandling: true });
  }

  /**
   * A comment delivery as the tracker sends it: GitHub/Gitea `issue_comment` (created, edited,
   * deleted), GitLab `Note Hook` / `Confidential Note Hook` (create, update: GitLab has no delete hook).
   */
  async commentWebhook(action: "created" | "edited" | "deleted", id: number): Promise<FakeWebhook> {
    const c = this.store.requireComment(id);
    switch (this.provider) {
      case "github":
        return this.signedWebhook("issue_comment", githubCommentPayload(this.store, this.baseUrl, action, c));
      case "gitlab":
        if (action === "deleted") throw new Error("GitLab sends no webhook for a deleted note");
        return this.signedWebhook(c.internal || this.store.require(c.issueNumber).confidential ? "Confidential Note Hook" : "Note Hook", gitlabNotePayload(this.store, this.baseUrl, action === "created" ? "create" : "update", c));
      case "gitea":
        return this.signedWebhook(this.store.require(c.issueNumber).kind === "pull_request" ? "pull_request_comment" : "issue_comment", giteaCommentPayload(this.store, this.baseUrl, action, c));
    }
  }

  // ---------- webhooks ----------

  /**
   * A delivery for an issue action, as the tracker would send it and signed as it signs.
   * `action` is the tracker's own: GitHub `labeled`, GitLab `update`, Gitea `label_updated`…
   */
  async webhook(action: string, number: number, options: WebhookOptions = {}): Promise<FakeWebhook> {
    const i = this.store.require(number);
    switch (this.provider) {
      case "github":
        return this.signedWebhook("issues", githubIssuePayload(this.store, this.baseUrl, action, i, options));
      case "gitlab":
        return this.signedWebhook(
          i.confidential ? "Confidential Issue Hook" : "Issue Hook",
          gitlabIssuePayload(this.store, this.baseUrl, action, i, options),
        );
      case "gitea":
        return this.signedWebhook(giteaEventType(action), giteaIssuePayload(this.store, this.baseUrl, action, i, options.changes));
    }
  }

  /**
   * GitHub App: an issue delivery as it reaches the App's webhook URL (`installation` added, signed
   * with the App's webhook secret). The repository's current name and id come from the store.
   */
  async appWebhook(action: string, number: number, webhookSecret: string, options: WebhookOptions = {}): Promise<FakeWebhook> {
    if (!this.app) throw new Error("useApp first");
    const payload = githubIssuePayload(this.store, this.baseUrl, action, this.store.require(number), options);
    payload.installation = { id: this.app.installationId, node_id: `MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u${this.app.installationId}` };
    return this.app.app.delivery("issues", payload, webhookSecret);
  }

  /**
   * Any payload as a delivery of `event`: GitHub `X-GitHub-Event`, GitLab `X-Gitlab-Event`, Gitea
   * `X-Gitea-Event-Type` (its `X-Gitea-Event` is derived the way Gitea does).
   */
  async signedWebhook(event: string, payload: Record<string, unknown>, deliveryId: string = crypto.randomUUID()): Promise<FakeWebhook> {
    return this.encodedWebhook(event, payload, deliveryId, "json");
  }

  /**
   * The delivery with the content type `application/x-www-form-urlencoded`: the body is
   * `payload=<urlencoded JSON>`. GitHub signs the form body it sends (its docs: the signature is of
   * the request body); Gitea signs the JSON payload, not the form body (services/webhook/deliver.go
   * computes every signature over `PayloadContent` and only then form-encodes it). GitLab has no form
   * content type.
   */
  async formWebhook(action: string, number: number, options: WebhookOptions = {}): Promise<FakeWebhook> {
    if (this.provider === "gitlab") throw new Error("GitLab sends JSON only");
    const json = await this.webhook(action, number, options);
    const event = json.headers["x-github-event-type"] ?? json.headers["x-github-event"]!;
    return this.encodedWebhook(this.provider === "gitea" ? json.headers["x-gitea-event-type"]! : event, json.payload, crypto.randomUUID(), "form");
  }

  private async encodedWebhook(event: string, payload: Record<string, unknown>, deliveryId: string, encoding: "json" | "form"): Promise<FakeWebhook> {
    const json = JSON.stringify(payload);
    const body = encoding === "form" ? new URLSearchParams({ payload: json }).toString() : json;
    const rawBody = new TextEncoder().encode(body);
    // What each tracker's HMAC covers: GitHub the bytes it sends, Gitea always the JSON.
    const signedBytes = this.provider === "gitea" ? new TextEncoder().encode(json) : rawBody;
    const headers: Record<string, string> = { "content-type": encoding === "form" ? "application/x-www-form-urlencoded" : "application/json" };
    if (this.provider === "github") {
      Object.assign(headers, {
        "user-agent": "GitHub-Hookshot/f1aa6a4",
        "x-github-event": event,
        "x-github-delivery": deliveryId,
        "x-github-hook-id": "1",
        "x-github-hook-installation-target-type": "repository",
        "x-github-hook-installation-target-id": String(this.store.repositoryId),
        "x-hub-signature": `sha1=${await hmacHex("SHA-1", this.webhookSecret, signedBytes)}`,
        "x-hub-signature-256": `sha256=${await hmacHex("SHA-256", this.webhookSecret, signedBytes)}`,
      });
    } else if (this.provider === "gitlab") {
      Object.assign(headers, {
        "user-agent": "GitLab/17.6.0",
        "x-gitlab-event": event,
        "x-gitlab-token": this.webhookSecret,
        "x-gitlab-instance": new URL(this.baseUrl).origin,
        "x-gitlab-event-uuid": deliveryId,
        "idempotency-key": deliveryId,
        // New on every attempt: not a delivery id.
        "x-gitlab-webhook-uuid": crypto.randomUUID(),
      });
    } else {
      const sha256 = await hmacHex("SHA-256", this.webhookSecret, signedBytes);
      const sha1 = await hmacHex("SHA-1", this.webhookSecret, signedBytes);
      const eventName = giteaEventName(event);
      // Gitea also sends Gogs- and GitHub-compatible copies of its headers.
      Object.assign(headers, {
        "user-agent": "Go-http-client/1.1",
        "x-gitea-delivery": deliveryId,
        "x-gitea-event": eventName,
        "x-gitea-event-type": event,
        "x-gitea-signature": sha256,
        "x-gitea-hook-installation-target-type": "repository",
        "x-gogs-delivery": deliveryId,
        "x-gogs-event": eventName,
        "x-gogs-event-type": event,
        "x-gogs-signature": sha256,
        "x-github-delivery": deliveryId,
        "x-github-event": eventName,
        "x-github-event-type": event,
        "x-hub-signature": `sha1=${sha1}`,
        "x-hub-signature-256": `sha256=${sha256}`,
      });
    }
    return { headers, body, rawBody, payload };
  }
}

/** Gitea's `X-Gitea-Event` for an event type (HookEventType.Event()). */
function giteaEventName(eventType: string): string {
  if (eventType === "issues" || eventType.startsWith("issue_assign") || eventType.startsWith("issue_label") || eventType.startsWith("issue_milestone")) return "issues";
  if (eventType === "issue_comment" || eventType === "pull_request_comment") return "issue_comment";
  if (eventType.startsWith("pull_request")) return "pull_request";
  return eventType;
}

async function hmacHex(hash: "SHA-1" | "SHA-256", secret: string, data: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash }, false, ["sign"]);
  const signature = await crypto.subtle.sign("HMAC", key, data);
  return [...new Uint8Array(signature)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function parseBody(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
