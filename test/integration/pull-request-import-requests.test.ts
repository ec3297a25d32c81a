import { describe, expect, it, vi } from "vitest";
import { openPull } from "../fakes/fake-pulls";
import type { FakeTracker } from "../fakes/fake-tracker";
import { api, json } from "../support/api";
import { listAllIssues, projectWithTracker, syncAndWait } from "../support/trackers";

const graphql = (fake: FakeTracker) => fake.requests.filter((r) => r.method === "POST" && /\/graphql$/.test(r.path.split("?")[0]!));
const listingPages = (fake: FakeTracker) => fake.requests.filter((r) => r.method === "GET" && /\/repos\/[^/]+\/[^/]+\/issues\?/.test(r.path));

describe("a GitHub import asks for closing references per listing page, not per pull request", () => {
  it("imports open pull requests with one closingIssuesReferences query per page that carries them, and still links what the tracker names", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 5 });
    const issues = Array.from({ length: 8 }, (_, i) => fake.seedIssue({ title: `Bug ${i + 1}` }));
    const pulls = Array.from({ length: 12 }, (_, i) =>
      openPull(fake, { title: `Change ${i + 1}`, body: i % 3 === 0 ? `Fixes #${issues[i % 8]!.number}` : "Refactoring", head: `change-${i + 1}` }),
    );
    // Linked in the PR's sidebar: only closingIssuesReferences knows it (no keyword names the issue).
    pulls[4]!.linkedIssues.push(issues[6]!.number);

    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("succeeded");

    const pages = listingPages(fake).length;
    const asked = graphql(fake);
    // Not one call per pull request: at most one per listing page.
    expect(pages).toBeLessThan(pulls.length);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.length).toBeLessThanOrEqual(pages);
    const askedNumbers = asked.flatMap((r) => [...String((r.body as { query?: string }).query).matchAll(/pullRequest\(number:(\d+)\)/g)].map((m) => Number(m[1])));
    expect(askedNumbers.sort((a, b) => a - b)).toEqual(pulls.map((p) => p.number));
    // The run's own request count is the listing, the closing-reference pages and the comment listing.
    expect(run.stats.requests).toBe(pages + asked.length + 1);

    const listed = await json(await api(`/api/v1/projects/${project.id}/pull-requests?state=all&limit=100`));
    expect(listed.items).toHaveLength(pulls.length);
    const sidebar = listed.items.find((p: any) => p.number === pulls[4]!.number);
    const local = (await listAllIssues(project.id)).find((i: any) => i.external?.number === issues[6]!.number);
    expect(sidebar.issues).toEqual([{ issueId: local.id, projectId: project.id, issueNumber: issues[6]!.number, relation: "closes", sources: ["tracker"] }]);
    const keyword = listed.items.find((p: any) => p.number === pulls[3]!.number);
    expect(keyword.issues).toMatchObject([{ issueNumber: issues[3]!.number, relation: "closes", sources: expect.arrayContaining(["tracker", "keyword"]) }]);

    // A page's PR writes go out together; every link and state still has its activity entry, once.
    const activity = (await json(await api(`/api/v1/projects/${project.id}/activity?limit=500&kind=pr.linked,pr.state_changed`))).items;
    expect(activity.filter((e: any) => e.kind === "pr.linked")).toHaveLength(4 * 2 + 1);
    expect(activity.filter((e: any) => e.kind === "pr.state_changed")).toHaveLength(pulls.length);

    // An incremental run over the same, unchanged pull requests asks nothing.
    const before = graphql(fake).length;
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect(graphql(fake).length).toBe(before);
  });

  it("a failing closing-references query leaves the import to the keywords: the run succeeds and the keyword links are made", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    const issue = fake.seedIssue({ title: "Bug" });
    const pull = openPull(fake, { title: "Fix", body: `Fixes #${issue.number}`, head: "fix" });
    fake.fail({ kind: "server_error", match: /^POST .*graphql/, times: 1000 });

    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("succeeded");
    expect(graphql(fake).length).toBeGreaterThan(0);
    const listed = await json(await api(`/api/v1/projects/${project.id}/pull-requests?state=all&limit=100`));
    expect(listed.items).toMatchObject([{ number: pull.number, issues: [{ issueNumber: issue.number, relation: "closes", sources: ["keyword"] }] }]);
  });

  it("a page mixing pull requests without links and one that sets a status label imports them all, the label set once", async () => {
    const { fake, project } = await projectWithTracker("github", { prAutomation: { closeOnMerge: "never", statusLabels: { in_review: "in review" } } });
    const issue = fake.seedIssue({ title: "Bug" });
    openPull(fake, { title: "Chore 1", body: "Tidy", head: "chore-1" });
    const fixing = openPull(fake, { title: "Fix", body: `Fixes #${issue.number}`, head: "fix" });
    openPull(fake, { title: "Chore 2", body: "Tidy more", head: "chore-2" });

    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const listed = await json(await api(`/api/v1/projects/${project.id}/pull-requests?state=all&limit=100`));
    expect(listed.items).toHaveLength(3);
    expect(listed.items.find((p: any) => p.number === fixing.number).issues).toMatchObject([{ issueNumber: issue.number, relation: "closes" }]);
    const local = (await listAllIssues(project.id)).find((i: any) => i.external?.number === issue.number);
    expect(local.labels).toEqual(["in review"]);
    expect(graphql(fake)).toHaveLength(1);
  });

  it("a rate-limited closing-references query while the page's issues are written checkpoints the run: nothing is left unhandled, and it resumes", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" }, { perPage: 50 });
    const issues = Array.from({ length: 40 }, (_, i) => fake.seedIssue({ title: `Bug ${i + 1}` }));
    openPull(fake, { title: "Fix", body: `Fixes #${issues[0]!.number}`, head: "fix" });
    // The query answers 429 at once, long before the page's 40 issues are written.
    fake.fail({ kind: "rate_limit", status: 429, match: /^POST .*graphql/, times: 1, resetInSeconds: 1 });

    const { runId } = await json(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "full" } }));
    // The step ends rate limited: the run is checkpointed with the reset time to resume at, not failed.
    const waiting = await vi.waitFor(
      async () => {
        const run = await json(await api(`/api/v1/sync-runs/${runId}`));
        if (!run.resumeAt) throw new Error(`run still ${run.status} without resumeAt`);
        return run;
      },
      { timeout: 10_000, interval: 25 },
    );
    expect(waiting.status).toBe("running");
    expect(graphql(fake)).toHaveLength(1);
  });
});
