/**
 * The listing loop requests the next page as soon as the raw answer says where it is (the `Link`
 * header, the last raw item's `updated_at`), before the page's items are validated and normalised
 * (src/sync/runs.ts listStep, src/providers/issue-responses.ts rawPageHead).
 */
import { describe, expect, it, vi } from "vitest";
import { api, json } from "../support/api";
import { listAllIssues, projectWithTracker, syncAndWait, waitForRun } from "../support/trackers";
import { createTracker } from "../../src/providers";

const listRequests = (fake: any): string[] =>
  fake.requests.filter((r: any) => r.method === "GET" && /\/issues(\?|$)/.test(r.path)).map((r: any) => r.path);

describe("next page from the raw answer", () => {
  it("requests page k+1 before page k's items are validated: a page with an invalid item has already asked for the next", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 3, tickMs: 1000 });
    fake.seed(9);
    // test/support/trackers.ts routes fetch to the fakes through a spy: wrap its routing, then put it back.
    const fetchSpy = vi.mocked(globalThis.fetch);
    const routed = fetchSpy.getMockImplementation()!;
    let mangled = 0;
    fetchSpy.mockImplementation(async (input, init) => {
      const res = await routed(input as RequestInfo, init);
      const url = new Request(input as RequestInfo).url;
      // The second listing page: its first item loses its title (GitHub always sends one).
      if (mangled === 0 && /\/issues\?/.test(url) && listRequests(fake).length === 2) {
        mangled++;
        const items = (await res.json()) as Record<string, unknown>[];
        items[0]!.title = null;
        return new Response(JSON.stringify(items), { status: res.status, headers: res.headers });
      }
      return res;
    });
    const { runId } = await json(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "full" } }));
    // The step fails on page 2's invalid item, but only after the request for page 3 went out.
    await vi.waitFor(
      async () => {
        const run = await json(await api(`/api/v1/sync-runs/${runId}`));
        if (!run.error) throw new Error("page 2 not refused yet");
      },
      { timeout: 10_000, interval: 10 },
    );
    expect(mangled).toBe(1);
    expect(listRequests(fake).length).toBe(3);
    fetchSpy.mockImplementation(routed);
    // An answer that does not fit the schema fails the run (naming the field), as before; the page
    // fetched ahead is dropped with it and the next run reads everything again.
    const run = await waitForRun(runId, 30_000);
    expect(run.status).toBe("failed");
    expect(run.error).toContain("title");
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    expect((await listAllIssues(project.id)).length).toBe(9);
  });

  it("the repository-wide comment listing also requests page k+1 before page k's comments are validated", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 3, tickMs: 1000 });
    const issue = fake.seedIssue();
    // The fake serves at most 100 comments a page (GitHub's maximum): three pages or more.
    for (let i = 0; i < 250; i++) fake.addComment(issue.number, { body: `comment ${i}` });
    const commentListings = () => fake.requests.filter((r: any) => r.method === "GET" && /\/issues\/comments(\?|$)/.test(r.path)).length;
    const fetchSpy = vi.mocked(globalThis.fetch);
    const routed = fetchSpy.getMockImplementation()!;
    let mangled = 0;
    fetchSpy.mockImplementation(async (input, init) => {
      const res = await routed(input as RequestInfo, init);
      const url = new Request(input as RequestInfo).url;
      // The second comment page: its first comment's id is not a number (GitHub's always is).
      if (mangled === 0 && /\/issues\/comments\?/.test(url) && commentListings() === 2) {
        mangled++;
        const items = (await res.json()) as Record<string, unknown>[];
        items[0]!.id = "not a number";
        return new Response(JSON.stringify(items), { status: res.status, headers: res.headers });
      }
      return res;
    });
    const { runId } = await json(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "full" } }));
    const run = await waitForRun(runId, 30_000);
    fetchSpy.mockImplementation(routed);
    expect(mangled).toBe(1);
    // A comment phase that fails for good leaves the run succeeded (issues synced) and is recorded as stuck.
    expect(run.status).toBe("succeeded");
    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status.comments.phaseError).toContain("without a valid id");
    // Page 3 was asked for while page 2 was still being validated.
    expect(commentListings()).toBe(3);
  });

  it("the adapters announce the same head the finished page reports", async () => {
    for (const provider of ["github", "gitlab", "gitea"] as const) {
      const { fake } = await projectWithTracker(provider, {}, { perPage: 4 });
      fake.seed(6);
      const tracker = createTracker({ provider, apiBaseUrl: fake.baseUrl, repository: fake.store.repository, token: fake.token, fetch: (i, init) => globalThis.fetch(i, init) });
      const heads: unknown[] = [];
      const page = await tracker.listPage({ onHead: (head) => heads.push({ ...head, at: "announced" }) });
      expect(heads).toHaveLength(1);
      // The pull requests among the items (development links) come with the normalised page only.
      const { issues, pullRequests: _pullRequests, ...rest } = page;
      expect(issues.length).toBeGreaterThan(0);
      expect(heads[0]).toEqual({ ...rest, total: rest.total ?? null, at: "announced" });
      expect(rest.nextUrl).not.toBeNull();
    }
  });
});
