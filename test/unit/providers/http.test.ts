import { describe, expect, it, vi } from "vitest";
import { giteaHttp } from "../../../src/providers/gitea/client";
import { githubHttp } from "../../../src/providers/github/client";
import { gitlabHttp } from "../../../src/providers/gitlab/client";
import { parseLinkHeader, rateLimitRetryAt, TrackerHttp } from "../../../src/providers/http";
import { RateLimitedError, TrackerError, type TrackerConfig } from "../../../src/providers/types";

/** Each tracker's HTTP facts, as its adapter hands them to the shared client. */
const dialects = { github: githubHttp, gitlab: gitlabHttp, gitea: giteaHttp } as const;

const NOW = Date.parse("2024-06-01T12:00:00Z");
const SECRET_TOKEN = "ghp_supersecrettoken123";

function client(responses: (Response | Error)[], overrides: Partial<TrackerConfig> = {}) {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const sleeps: number[] = [];
  const fetchStub = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), init });
    const next = responses.shift();
    if (!next) throw new Error("no more responses");
    if (next instanceof Error) throw next;
    return next;
  });
  const config: TrackerConfig = {
    provider: "github",
    apiBaseUrl: "https://api.github.com",
    repository: "acme/widgets",
    token: SECRET_TOKEN,
    fetch: fetchStub as unknown as typeof fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    now: () => NOW,
    ...overrides,
  };
  const http = new TrackerHttp(config, dialects[config.provider]);
  // These tests are about retries, limits and bodies; which paths an adapter allows is tested in
  // test/unit/providers/request-guard.test.ts and test/integration/hardening.test.ts.
  http.restrictPaths([() => true]);
  return { http, calls, sleeps };
}

const ok = (body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json", ...headers } });
const status = (code: number, body: unknown = { message: "x" }, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status: code, headers });

describe("rate-limit classification", () => {
  const h = (headers: Record<string, string>) => new Headers(headers);

  it("treats a GitHub 403 with x-ratelimit-remaining 0 as a rate limit until x-ratelimit-reset", () => {
    const reset = Math.floor(NOW / 1000) + 600;
    const at = rateLimitRetryAt(dialects.github, 403, h({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) }), "API rate limit exceeded", NOW);
    expect(at).toBe(new Date(reset * 1000).toISOString());
  });

  it("treats a GitHub 403 with remaining quota and no limit message as a permission error", () => {
    const at = rateLimitRetryAt(dialects.github, 403, h({ "x-ratelimit-remaining": "4999", "x-ratelimit-reset": "1717243200" }), "Resource not accessible by personal access token", NOW);
    expect(at).toBeNull();
  });

  it("treats a GitHub secondary limit (403 + retry-after) as a rate limit retry-after seconds away", () => {
    const at = rateLimitRetryAt(dialects.github, 403, h({ "retry-after": "60", "x-ratelimit-remaining": "4990" }), "You have exceeded a secondary rate limit", NOW);
    expect(at).toBe("2024-06-01T12:01:00.000Z");
  });

  it("treats a GitHub 403 that only says 'secondary rate limit' as a one-minute wait", () => {
    expect(rateLimitRetryAt(dialects.github, 403, h({}), "You have exceeded a secondary rate limit.", NOW)).toBe("2024-06-01T12:01:00.000Z");
  });

  it("reads GitHub's 429 with x-ratelimit-reset", () => {
    expect(rateLimitRetryAt(dialects.github, 429, h({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1717243500" }), "", NOW)).toBe("2024-06-01T12:05:00.000Z");
  });

  it("reads GitLab's 429 with RateLimit-Reset epoch seconds", () => {
    expect(rateLimitRetryAt(dialects.gitlab, 429, h({ "RateLimit-Reset": "1717243320", "Retry-After": "120" }), "Retry later", NOW)).toBe(
      "2024-06-01T12:02:00.000Z",
    );
    expect(rateLimitRetryAt(dialects.gitlab, 429, h({ "RateLimit-Reset": "1717243320" }), "", NOW)).toBe("2024-06-01T12:02:00.000Z");
  });

  it("reads a generic 429 Retry-After in seconds or as an HTTP date", () => {
    expect(rateLimitRetryAt(dialects.gitea, 429, h({ "Retry-After": "30" }), "", NOW)).toBe("2024-06-01T12:00:30.000Z");
    expect(rateLimitRetryAt(dialects.gitea, 429, h({ "Retry-After": "Sat, 01 Jun 2024 12:10:00 GMT" }), "", NOW)).toBe("2024-06-01T12:10:00.000Z");
  });

  it("never treats a GitLab or Gitea 403 as a rate limit", () => {
    expect(rateLimitRetryAt(dialects.gitlab, 403, h({ "Retry-After": "5" }), "rate limit", NOW)).toBeNull();
    expect(rateLimitRetryAt(dialects.gitea, 403, h({}), "", NOW)).toBeNull();
  });
});

describe("TrackerHttp", () => {
  it("throws RateLimitedError with retryAt and does not sleep or retry", async () => {
    const reset = Math.floor(NOW / 1000) + 90;
    const { http, calls, sleeps } = client([
      status(403, { message: "API rate limit exceeded" }, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) }),
    ]);
    const error = await http.request("GET", "https://api.github.com/x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAt).toBe(new Date(reset * 1000).toISOString());
    expect((error as RateLimitedError).status).toBe(403);
    expect(calls).toHaveLength(1);
    expect(sleeps).toHaveLength(0);
  });

  it("retries 5xx with backoff, then throws a retryable TrackerError", async () => {
    const { http, calls, sleeps } = client([status(502), status(503), status(500)]);
    const error = await http.request("GET", "https://api.github.com/x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrackerError);
    expect((error as TrackerError).retryable).toBe(true);
    expect((error as TrackerError).status).toBe(500);
    expect(calls).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(http.requestCount).toBe(3);
  });

  it("recovers when a retry succeeds after a network error", async () => {
    const { http, calls } = client([new TypeError("Network connection lost."), ok({ fine: true })]);
    const res = await http.request("GET", "https://api.github.com/x");
    expect(res.body).toEqual({ fine: true });
    expect(calls).toHaveLength(2);
  });

  it("retries a truncated JSON body like a transport fault", async () => {
    const { http, calls } = client([new Response('[{"id": 1, "ti', { status: 200 }), ok([])]);
    expect((await http.request("GET", "https://api.github.com/x")).body).toEqual([]);
    expect(calls).toHaveLength(2);
  });

  it("does not retry a 422 and reports it as not retryable", async () => {
    const { http, calls } = client([status(422, { message: "Validation Failed", errors: [{ field: "title" }] })]);
    const error = (await http.request("PATCH", "https://api.github.com/x", { json: { title: "t" } }).catch((e: unknown) => e)) as TrackerError;
    expect(error).toBeInstanceOf(TrackerError);
    expect(error.status).toBe(422);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("Validation Failed");
    expect(calls).toHaveLength(1);
  });

  it("never retries a POST: a lost create answer must be adopted, not repeated", async () => {
    const { http, calls } = client([status(502), ok({})]);
    const error = (await http.request("POST", "https://api.github.com/x", { json: {} }).catch((e: unknown) => e)) as TrackerError;
    expect(error.retryable).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it("keeps the token and the request body out of error messages", async () => {
    const { http } = client([status(401, { message: `Bad credentials for ${SECRET_TOKEN}` })]);
    const error = (await http
      .request("POST", "https://api.github.com/x", { json: { title: "private title", body: "secret body" } })
      .catch((e: unknown) => e)) as TrackerError;
    expect(error.message).not.toContain(SECRET_TOKEN);
    expect(error.message).not.toContain("secret body");
    expect(error.message).toContain("401");
  });

  it("sends each tracker's auth header", async () => {
    for (const [provider, header, value] of [
      ["github", "Authorization", `Bearer ${SECRET_TOKEN}`],
      ["gitlab", "PRIVATE-TOKEN", SECRET_TOKEN],
      ["gitea", "Authorization", `token ${SECRET_TOKEN}`],
    ] as const) {
      const { http, calls } = client([ok({})], { provider, apiBaseUrl: "https://api.github.com" });
      await http.request("GET", "https://api.github.com/x");
      expect(new Headers(calls[0]?.init?.headers).get(header)).toBe(value);
    }
  });

  it("refuses to follow a URL to another host with the token", async () => {
    const { http, calls } = client([ok({})]);
    await expect(http.request("GET", "https://evil.example/repos")).rejects.toThrow(TrackerError);
    expect(calls).toHaveLength(0);
  });

  it("resolves the global fetch at call time when none is injected", async () => {
    const http = new TrackerHttp({ provider: "gitea", apiBaseUrl: "https://gitea.example/api/v1", repository: "a/b", token: "t" }, dialects.gitea);
    http.restrictPaths([() => true]);
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async () => ok({ late: true }));
    try {
      expect((await http.request("GET", "https://gitea.example/api/v1/x")).body).toEqual({ late: true });
    } finally {
      spy.mockRestore();
    }
  });
});

describe("parseLinkHeader", () => {
  it("keeps URLs verbatim and reads every relation", () => {
    const links = parseLinkHeader(
      '<https://api.github.com/repositories/1000/issues?per_page=3&page=2>; rel="next", <https://api.github.com/repositories/1000/issues?per_page=3&page=5>; rel="last"',
    );
    expect(links).toEqual({
      next: "https://api.github.com/repositories/1000/issues?per_page=3&page=2",
      last: "https://api.github.com/repositories/1000/issues?per_page=3&page=5",
    });
  });

  it("handles Gitea's comma without space and an empty header", () => {
    expect(parseLinkHeader('<https://g/x?page=2>; rel="next",<https://g/x?page=9>; rel="last"').next).toBe("https://g/x?page=2");
    expect(parseLinkHeader(null)).toEqual({});
  });
});
