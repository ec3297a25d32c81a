import recorded from "@octokit/fixtures/scenarios/api.github.com/paginate-issues/normalized-fixture.json";
import { describe, expect, it } from "vitest";
import { createTracker, RateLimitedError, TrackerError } from "../../../src/providers";
import { routeFetch } from "../../fakes/fetch-router.ts";
import {
  validateIssue,
  validateIssuesCreateRequest,
  validateIssuesUpdateRequest,
  type Validator,
} from "../../fixtures/github/openapi-issue-validators.js";
import { allPages, trackerWithFake } from "./tracker-harness";

interface RecordedCall {
  method: string;
  scope: string;
  path: string;
  status: number;
  response: { number: number }[];
  headers: Record<string, string>;
}

function expectValid(validate: Validator, data: unknown): void {
  const ok = validate(data);
  expect(ok, JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
}

describe("GitHub adapter: recorded paginate-issues traffic (@octokit/fixtures)", () => {
  it("follows every recorded Link verbatim and yields every issue", async () => {
    const calls = recorded as unknown as RecordedCall[];
    const requested: string[] = [];
    const fetchStub = async (input: RequestInfo | URL) => {
      const url = new URL(String(input));
      requested.push(url.toString());
      const call =
        requested.length === 1
          ? calls[0] // our first request carries our own query; the path must match the recording
          : calls.find((c) => `${c.scope.replace(":443", "")}${c.path}` === url.toString());
      if (!call) throw new Error(`not in the recording: ${url}`);
      if (requested.length === 1) expect(url.pathname).toBe(new URL(`https://api.github.com${call.path}`).pathname);
      return new Response(JSON.stringify(call.response), { status: call.status, headers: call.headers });
    };
    const tracker = createTracker({
      provider: "github",
      apiBaseUrl: "https://api.github.com",
      repository: "octokit-fixture-org/paginate-issues",
      // The recorded Link headers name repository id 1000: the id a project stores after its first run.
      repositoryId: "1000",
      token: "0000000000000000000000000000000000000001",
      fetch: fetchStub as typeof fetch,
    });
    const pages = await allPages(tracker);
    expect(requested.slice(1)).toEqual(calls.slice(1).map((c) => `${c.scope.replace(":443", "")}${c.path}`));
    expect(pages.flatMap((p) => p.issues.map((i) => i.number))).toEqual(calls.flatMap((c) => c.response.map((i) => i.number)));
    expect(pages[0]?.etag).toBe('"00000000000000000000000000000000"');
    expect(pages[0]?.serverTime).toBe("2017-10-10T16:00:00.000Z");
    expect(pages.at(-1)?.nextUrl).toBeNull();
    expect(tracker.requestCount).toBe(5);
  });
});

describe("GitHub adapter against the fake", () => {
  it("lists several pages in updated order, skipping pull requests, via /repositories/<id> links", async () => {
    const { fake, tracker } = trackerWithFake("github", { perPage: 10 });
    fake.seed(25, { pullRequestEvery: 5 });
    fake.edit(3, { title: "Updated last" });
    const pages = await allPages(tracker);
    expect(pages).toHaveLength(3);
    expect(pages.map((p) => p.rawCount)).toEqual([10, 10, 5]);
    const issues = pages.flatMap((p) => p.issues);
    expect(issues).toHaveLength(20);
    expect(issues.at(-1)).toMatchObject({ number: 3, title: "Updated last" });
    const updated = issues.map((i) => i.updatedAt);
    expect([...updated].sort()).toEqual(updated);
    // lastUpdatedAt is the last raw item's (pull requests included): page 2 ends on #21.
    expect(pages[1]?.lastUpdatedAt).toBe(new Date(String(fake.apiIssue(21).updated_at)).toISOString());
    expect(pages[0]?.lastUpdatedAt).toBe(new Date(String(fake.apiIssue(11).updated_at)).toISOString());
    const paths = fake.requests.map((r) => r.path);
    expect(paths[0]).toMatch(/^\/repos\/acme\/widgets\/issues\?state=all&sort=updated&direction=asc&per_page=100$/);
    expect(paths.slice(1).every((p) => p.startsWith("/repositories/4242/issues?"))).toBe(true);
  });

  it("sends the stored ETag and reports a 304 as not modified, counting the request", async () => {
    const { fake, tracker } = trackerWithFake("github");
    fake.seed(3);
    const first = await tracker.listPage({});
    expect(first.etag).toMatch(/^W\//);
    const again = await tracker.listPage({ etag: first.etag });
    expect(again).toMatchObject({ notModified: true, issues: [], rawCount: 0 });
    expect(tracker.requestCount).toBe(2);
    expect(fake.stats().notModified).toBe(1);
    fake.edit(1, { body: "changed" });
    expect((await tracker.listPage({ etag: first.etag })).notModified).toBe(false);
  });

  it("treats since as inclusive", async () => {
    const { fake, tracker } = trackerWithFake("github");
    fake.seed(5);
    const edited = fake.edit(2, { title: "x" });
    const page = await tracker.listPage({ since: new Date(edited.updatedAt).toISOString() });
    expect(page.issues.map((i) => i.number)).toEqual([2]);
  });

  it("looks up single issues: found, 410 deleted, 301 moved, 404 deleted, 403 no access", async () => {
    const { fake, tracker } = trackerWithFake("github");
    fake.seed(3);
    fake.delete(2);
    fake.transfer(3);
    expect(await tracker.getIssue(1)).toMatchObject({ status: "found", issue: { number: 1 } });
    expect(await tracker.getIssue(2)).toEqual({ status: "deleted" });
    expect(await tracker.getIssue(3)).toEqual({ status: "moved", movedTo: "https://api.github.com/repos/acme/elsewhere/issues/903" });
    expect(await tracker.getIssue(99)).toEqual({ status: "deleted" });
    fake.fail({ kind: "forbidden", match: "GET /repos/acme/widgets/issues/1" });
    expect(await tracker.getIssue(1)).toEqual({ status: "no_access" });
    const moved = fake.requests.find((r) => r.path.endsWith("/issues/3"));
    expect(moved?.status).toBe(301);
  });

  it("creates with a body valid against GitHub's OpenAPI schema, resolving the milestone number", async () => {
    const { fake, tracker } = trackerWithFake("github");
    fake.store.addMilestone("v1");
    fake.store.addMilestone("v2");
    const created = await tracker.createIssue({ title: "New", body: "", labels: ["b", "a"], assignees: ["bob"], milestone: "v2", state: "closed" });
    expect(created).toMatchObject({ title: "New", body: "", labels: ["a", "b"], assignees: ["bob"], milestone: "v2", state: "closed" });
    const post = fake.requests.find((r) => r.method === "POST");
    expectValid(validateIssuesCreateRequest, post?.body);
    expect(post?.body).toEqual({ title: "New", body: "", labels: ["b", "a"], assignees: ["bob"], milestone: 2 });
    const patch = fake.requests.find((r) => r.method === "PATCH");
    expect(patch?.body).toEqual({ state: "closed" });
  });

  it("updates only the given fields with a schema-valid body", async () => {
    const { fake, tracker } = trackerWithFake("github");
    fake.seedIssue({ title: "Old", labels: ["x"], milestone: "v1" });
    const updated = await tracker.updateIssue(1, { title: "New", milestone: null, labels: [] });
    expect(updated).toMatchObject({ title: "New", milestone: null, labels: [], body: "Body of issue 1" });
    const patch = fake.requests.find((r) => r.method === "PATCH");
    expect(patch?.body).toEqual({ title: "New", labels: [], milestone: null });
    expectValid(validateIssuesUpdateRequest, patch?.body);
    for (const state of ["open", "closed"] as const) {
      await tracker.updateIssue(1, { state });
      expectValid(validateIssuesUpdateRequest, fake.requests.at(-1)?.body);
    }
  });

  it("refuses an unknown milestone without calling create", async () => {
    const { fake, tracker } = trackerWithFake("github");
    await expect(tracker.createIssue({ title: "t", body: "", labels: [], assignees: [], milestone: "nope" })).rejects.toThrow(/nope/);
    expect(fake.requests.some((r) => r.method === "POST")).toBe(false);
  });

  it("serves issues and pull requests that match GitHub's issue schema", () => {
    const { fake } = trackerWithFake("github");
    fake.seedIssue({ labels: ["bug"], assignees: ["alice"], milestone: "v1", state: "closed" });
    fake.seedPullRequest();
    fake.seedIssue({ body: null });
    for (const n of [1, 2, 3]) expectValid(validateIssue, fake.apiIssue(n));
  });

  it("adopts a create whose answer was lost instead of creating twice", async () => {
    const { fake, tracker } = trackerWithFake("github");
    fake.seedIssue({ title: "Same title" });
    const since = fake.now;
    fake.dropCreateResponse();
    const error = await tracker.createIssue({ title: "Same title", body: "b", labels: [], assignees: [], milestone: null }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrackerError);
    expect((error as TrackerError).retryable).toBe(true);
    expect(fake.requests.filter((r) => r.method === "POST")).toHaveLength(1);
    const found = await tracker.findCreatedIssue("Same title", since);
    expect(found).toMatchObject({ number: 2, title: "Same title" });
    expect(await tracker.findCreatedIssue("Other title", since)).toBeNull();
    expect(fake.requests.find((r) => r.path.includes("creator="))?.path).toContain("creator=syndarix-bot");
  });

  it("surfaces rate limits as RateLimitedError at the fake's reset time", async () => {
    const { fake, tracker } = trackerWithFake("github");
    fake.fail({ kind: "rate_limit", resetInSeconds: 120 });
    const error = (await tracker.listPage({}).catch((e: unknown) => e)) as RateLimitedError;
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.retryAt).toBe("2024-01-01T00:02:00.000Z");
    fake.fail({ kind: "rate_limit", status: 429, resetInSeconds: 60 });
    expect(await tracker.listPage({}).catch((e: unknown) => e)).toBeInstanceOf(RateLimitedError);
  });

  it("retries 5xx, truncated JSON and network errors within the attempt budget", async () => {
    const { fake, tracker } = trackerWithFake("github");
    fake.seed(2);
    fake.fail({ kind: "server_error", times: 1 }).fail({ kind: "truncated_json", times: 1 });
    expect((await tracker.listPage({})).issues).toHaveLength(2);
    fake.fail({ kind: "network", times: 3 });
    const error = (await tracker.listPage({}).catch((e: unknown) => e)) as TrackerError;
    expect(error).toBeInstanceOf(TrackerError);
    expect(error).toMatchObject({ retryable: true, status: null });
  });

  it("never reaches an origin that has no fake", async () => {
    const fetchImpl = routeFetch({});
    await expect(fetchImpl("https://api.github.com/user")).rejects.toThrow(/offline/);
  });
});
