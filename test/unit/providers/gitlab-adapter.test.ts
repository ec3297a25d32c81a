import { describe, expect, it } from "vitest";
import { createTracker, RateLimitedError } from "../../../src/providers";
import { allPages, trackerWithFake } from "./tracker-harness";

describe("GitLab adapter against the fake", () => {
  it("lists several pages by updated_at asc with issue_type=issue, leaving incidents out", async () => {
    const { fake, tracker } = trackerWithFake("gitlab", { perPage: 10 });
    fake.seed(30, { pullRequestEvery: 4 });
    fake.edit(1, { title: "Latest" });
    const pages = await allPages(tracker);
    const issues = pages.flatMap((p) => p.issues);
    expect(issues).toHaveLength(23);
    expect(issues.at(-1)).toMatchObject({ number: 1, title: "Latest" });
    expect(pages).toHaveLength(3);
    const first = fake.requests[0];
    expect(first?.path).toBe("/projects/acme%2Fwidgets/issues?order_by=updated_at&sort=asc&issue_type=issue&per_page=100");
    expect(first?.headers["private-token"]).toBe("test-token");
    expect(issues[0]?.createdAt).toMatch(/\.\d{3}Z$/);
  });

  it("addresses a nested project by its URL-encoded path and a numeric project by its id", async () => {
    const nested = trackerWithFake("gitlab", {}, "group/sub/project");
    await nested.tracker.listPage({});
    expect(nested.fake.requests[0]?.path).toMatch(/^\/projects\/group%2Fsub%2Fproject\/issues\?/);
    const numeric = trackerWithFake("gitlab", {}, "4242");
    numeric.fake.seed(1);
    expect((await numeric.tracker.listPage({})).issues).toHaveLength(1);
    expect(numeric.fake.requests[0]?.path).toMatch(/^\/projects\/4242\/issues\?/);
  });

  it("treats updated_after as inclusive", async () => {
    const { fake, tracker } = trackerWithFake("gitlab");
    fake.seed(3);
    const edited = fake.edit(2, { body: "x" });
    const page = await tracker.listPage({ since: new Date(edited.updatedAt).toISOString() });
    expect(page.issues.map((i) => i.number)).toEqual([2]);
  });

  it("translates labels, assignees and milestone on create", async () => {
    const { fake, tracker } = trackerWithFake("gitlab");
    const milestone = fake.store.addMilestone("Sprint 3");
    const created = await tracker.createIssue({ title: "T", body: "B", labels: ["z", "a"], assignees: ["carol", "bob"], milestone: "Sprint 3" });
    expect(created).toMatchObject({ title: "T", body: "B", labels: ["a", "z"], assignees: ["bob", "carol"], milestone: "Sprint 3", state: "open" });
    const post = fake.requests.find((r) => r.method === "POST");
    expect(post?.body).toEqual({
      title: "T",
      description: "B",
      labels: "z,a",
      assignee_ids: [fake.store.users.get("carol")?.id, fake.store.users.get("bob")?.id],
      milestone_id: milestone.id,
    });
    expect(fake.requests.some((r) => r.path === "/users?username=carol")).toBe(true);
    expect(fake.requests.some((r) => r.path.startsWith("/projects/acme%2Fwidgets/milestones?title=Sprint+3"))).toBe(true);
  });

  it("updates with PUT, state_event and cleared sets, sending only the given fields", async () => {
    const { fake, tracker } = trackerWithFake("gitlab");
    fake.seedIssue({ labels: ["a"], assignees: ["bob"], milestone: "m" });
    const closed = await tracker.updateIssue(1, { state: "closed", labels: [], assignees: [], milestone: null });
    expect(closed).toMatchObject({ state: "closed", labels: [], assignees: [], milestone: null });
    expect(closed.closedAt).not.toBeNull();
    const put = fake.requests.find((r) => r.method === "PUT");
    expect(put?.body).toEqual({ state_event: "close", labels: "", assignee_ids: [], milestone_id: null });
    await tracker.updateIssue(1, { state: "open" });
    expect(fake.requests.at(-1)?.body).toEqual({ state_event: "reopen" });
  });

  it("fails clearly for an unknown user or milestone", async () => {
    const { tracker } = trackerWithFake("gitlab");
    await expect(tracker.createIssue({ title: "t", body: "", labels: [], assignees: ["ghost"], milestone: null })).rejects.toThrow(/ghost/);
    await expect(tracker.updateIssue(1, { milestone: "nope" })).rejects.toThrow(/nope/);
  });

  it("reports a moved issue as moved and a deleted one as deleted", async () => {
    const { fake, tracker } = trackerWithFake("gitlab");
    fake.seed(3);
    fake.transfer(1);
    fake.delete(2);
    expect(await tracker.getIssue(1)).toEqual({ status: "moved", movedTo: null });
    expect(await tracker.getIssue(2)).toEqual({ status: "deleted" });
    expect(await tracker.getIssue(3)).toMatchObject({ status: "found", issue: { number: 3, state: "open" } });
  });

  it("adopts a lost create by author_username and created_after", async () => {
    const { fake, tracker } = trackerWithFake("gitlab");
    const since = fake.now;
    fake.dropCreateResponse();
    await expect(tracker.createIssue({ title: "Once", body: "", labels: [], assignees: [], milestone: null })).rejects.toThrow();
    expect(await tracker.findCreatedIssue("Once", since)).toMatchObject({ title: "Once", number: 1 });
    expect(fake.requests.at(-1)?.path).toContain("author_username=syndarix-bot");
  });

  it("reads 429 RateLimit-Reset as the retry time", async () => {
    const { fake, tracker } = trackerWithFake("gitlab");
    fake.fail({ kind: "rate_limit", resetInSeconds: 300 });
    const error = (await tracker.listPage({}).catch((e: unknown) => e)) as RateLimitedError;
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ status: 429, retryAt: "2024-01-01T00:05:00.000Z" });
  });

  it("falls back to x-next-page when a response has no Link header", async () => {
    const urls: string[] = [];
    const tracker = createTracker({
      provider: "gitlab",
      apiBaseUrl: "https://gitlab.example/api/v4",
      repository: "acme/widgets",
      token: "t",
      fetch: (async (input: RequestInfo | URL) => {
        urls.push(String(input));
        return new Response("[]", { status: 200, headers: { "x-next-page": urls.length < 2 ? "2" : "" } });
      }) as typeof fetch,
    });
    const pages = await allPages(tracker);
    expect(pages).toHaveLength(2);
    expect(new URL(urls[1] ?? "").searchParams.get("page")).toBe("2");
  });

  it("lists merge requests oldest change first, with the page head the listing loop reads (x-next-page without Link, X-Total)", async () => {
    const urls: string[] = [];
    const mr = (iid: number, updated: string, extra: Record<string, unknown> = {}) => ({
      id: 900 + iid,
      iid,
      title: `MR ${iid}`,
      description: null,
      web_url: `https://gitlab.example/acme/widgets/-/merge_requests/${iid}`,
      state: "opened",
      draft: false,
      source_branch: `${iid}-fix`,
      target_branch: "main",
      updated_at: updated,
      author: { username: "dev" },
      ...extra,
    });
    const tracker = createTracker({
      provider: "gitlab",
      apiBaseUrl: "https://gitlab.example/api/v4",
      repository: "acme/widgets",
      token: "t",
      fetch: (async (input: RequestInfo | URL) => {
        urls.push(String(input));
        const body = [mr(1, "2024-01-01T10:00:00.000+02:00", { draft: true }), { iid: "broken", updated_at: "2024-01-01T08:30:00.000Z" }, mr(2, "2024-01-01T09:00:00.000Z", { state: "locked" })];
        return new Response(JSON.stringify(body), { status: 200, headers: { "x-next-page": "2", "x-total": "5", date: "Mon, 01 Jan 2024 12:00:00 GMT" } });
      }) as typeof fetch,
    });
    const heads: unknown[] = [];
    const page = await tracker.listPullRequestsPage!({ since: "2024-01-01T00:00:00.000Z", onHead: (h) => heads.push(h) });
    const url = new URL(urls[0]!);
    expect(url.pathname).toBe("/api/v4/projects/acme%2Fwidgets/merge_requests");
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ state: "all", order_by: "updated_at", sort: "asc", updated_after: "2024-01-01T00:00:00.000Z" });
    expect(new URL(page.nextUrl!).searchParams.get("page")).toBe("2");
    expect(page).toMatchObject({ total: 5, rawCount: 3, serverTime: "2024-01-01T12:00:00.000Z", lastUpdatedAt: "2024-01-01T09:00:00.000Z" });
    expect(page.pullRequests.map((p) => [p.number, p.state, p.updatedAt, p.headRef])).toEqual([
      [1, "draft", "2024-01-01T08:00:00.000Z", "1-fix"],
      [2, "closed", "2024-01-01T09:00:00.000Z", "2-fix"],
    ]);
    expect(heads).toHaveLength(1);
  });
});
