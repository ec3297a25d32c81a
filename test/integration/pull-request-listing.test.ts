import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { editPull, mergePull, openPull } from "../fakes/fake-pulls";
import type { FakeTracker } from "../fakes/fake-tracker";
import { api, json } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";

/** The PR listing requests the fake served (GitLab merge requests, Gitea pulls), oldest first. */
function listings(fake: FakeTracker): URL[] {
  const pattern = fake.provider === "gitlab" ? /\/merge_requests\?/ : /\/pulls\?/;
  return fake.requests.filter((r) => r.method === "GET" && pattern.test(r.path)).map((r) => new URL(r.url));
}

async function status(projectId: string): Promise<any> {
  return json(await api(`/api/v1/projects/${projectId}/status`));
}

async function pullNumbers(projectId: string): Promise<number[]> {
  const page = await json(await api(`/api/v1/projects/${projectId}/pull-requests?state=all&limit=100`));
  return page.items.map((p: any) => p.number).sort((a: number, b: number) => a - b);
}

describe("GitLab merge requests are listed by poll with their own cursor", () => {
  it("pages through the merge request listing as GitLab serves it and keeps a cursor apart from the issue cursor", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" }, { perPage: 2 });
    const issue = fake.seedIssue({ title: "Broken" });
    const pulls = [1, 2, 3, 4, 5].map((i) => openPull(fake, { title: `Part ${i}`, body: `See #${issue.number}`, head: `part-${i}` }));
    // The issue changes well after the merge requests: the two cursors differ.
    fake.advance(10 * 60_000);
    fake.edit(issue.number, { title: "Broken badly" });

    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect(await pullNumbers(project.id)).toEqual(pulls.map((p) => p.number));
    const first = listings(fake);
    // Offset pages of 2 over an ordered listing: each page a fresh "updated on or after" query.
    expect(first.length).toBeGreaterThanOrEqual(3);
    for (const url of first) {
      expect(url.searchParams.get("order_by")).toBe("updated_at");
      expect(url.searchParams.get("sort")).toBe("asc");
      expect(url.searchParams.get("state")).toBe("all");
    }
    const s = await status(project.id);
    const lastPull = new Date(pulls.at(-1)!.updatedAt).toISOString();
    expect(s.pullRequests).toEqual({ cursor: lastPull, phaseError: null, phaseErrorAt: null });
    expect(s.cursor > lastPull).toBe(true);

    // The next run asks for merge requests changed since the PR cursor (less the overlap), not the issue cursor.
    fake.advance(60_000);
    editPull(fake, pulls[1]!.number, { title: "Part 2, reworked" });
    const before = fake.requests.length;
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const next = fake.requests.slice(before).filter((r) => r.method === "GET" && /\/merge_requests\?/.test(r.path));
    expect(new URL(next[0]!.url).searchParams.get("updated_after")).toBe(new Date(Date.parse(lastPull) - 2 * 60_000).toISOString());
    const listed = await json(await api(`/api/v1/projects/${project.id}/pull-requests?state=all&limit=100`));
    expect(listed.items.find((p: any) => p.number === pulls[1]!.number).title).toBe("Part 2, reworked");
  });

  it("a failing merge request listing never holds the issue and comment cursors: the run succeeds and status names the stuck phase", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" });
    const issue = fake.seedIssue({ title: "Broken" });
    const pull = openPull(fake, { title: "Fix", body: `Closes #${issue.number}`, head: "fix" });
    // A project with merge requests switched off answers 403 to their listing.
    fake.fail({ kind: "forbidden", match: /^GET .*\/merge_requests\?/, times: 1000 });

    const run = await syncAndWait(project.id);
    expect(run.status).toBe("succeeded");
    const stuck = await status(project.id);
    expect(stuck.cursor).not.toBeNull();
    expect(stuck.comments.commentCursor).not.toBeNull();
    expect(stuck.pullRequests.cursor).toBeNull();
    expect(stuck.pullRequests.phaseError).toContain("403");
    expect(stuck.pullRequests.phaseErrorAt).not.toBeNull();
    expect(stuck.lastError).toBeNull();
    expect((await json(await api(`/api/v1/projects/${project.id}/issues`))).items).toHaveLength(1);
    expect(await pullNumbers(project.id)).toEqual([]);
    // A refused MR listing is not a refused credential.
    const access = await json(await api(`/api/v1/projects/${project.id}/activity?kind=access.failed,sync.failed`));
    expect(access.items).toEqual([]);

    fake.clearFaults();
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const healed = await status(project.id);
    expect(healed.pullRequests.phaseError).toBeNull();
    expect(healed.pullRequests.cursor).toBe(new Date(pull.updatedAt).toISOString());
    expect(await pullNumbers(project.id)).toEqual([pull.number]);
  });

  it("a full run lists every merge request, including those behind the cursor", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" });
    fake.seedIssue({ title: "Broken" });
    const old = openPull(fake, { title: "Old work", head: "old" });
    fake.advance(10 * 60_000);
    const mid = openPull(fake, { title: "Later work", head: "mid" });
    await syncAndWait(project.id);
    // Lost here (say, restored from an older backup): an incremental run does not look that far back.
    await env.DB.prepare("delete from pull_requests where project_id = ?").bind(project.id).run();
    fake.advance(10 * 60_000);
    const fresh = openPull(fake, { title: "New work", head: "new" });
    await syncAndWait(project.id);
    expect(await pullNumbers(project.id)).toEqual([mid.number, fresh.number]);

    const before = fake.requests.length;
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const full = fake.requests.slice(before).filter((r) => r.method === "GET" && /\/merge_requests\?/.test(r.path));
    expect(new URL(full[0]!.url).searchParams.has("updated_after")).toBe(false);
    expect(await pullNumbers(project.id)).toEqual([old.number, mid.number, fresh.number]);
  });
});

describe("Gitea pulls are listed by poll with their own cursor", () => {
  it("pages newest change first and stops at the first page reaching past the cursor", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "inbound" }, { perPage: 2 });
    const issue = fake.seedIssue({ title: "Broken" });
    const pulls = [1, 2, 3, 4, 5].map((i) => openPull(fake, { title: `Part ${i}`, body: `See #${issue.number}`, head: `part-${i}` }));
    fake.advance(10 * 60_000);
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect(await pullNumbers(project.id)).toEqual(pulls.map((p) => p.number));
    // No cursor yet: every page (`Link` followed, `X-Total-Count` 5 in pages of 2).
    expect(listings(fake).length).toBe(3);
    expect((await status(project.id)).pullRequests.cursor).not.toBeNull();

    fake.advance(10 * 60_000);
    mergePull(fake, pulls[0]!.number);
    const before = fake.requests.length;
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const next = fake.requests.slice(before).filter((r) => r.method === "GET" && /\/pulls\?/.test(r.path));
    // The merged PR is first, its neighbour is older than the cursor: one page is enough.
    expect(next).toHaveLength(1);
    const listed = await json(await api(`/api/v1/projects/${project.id}/pull-requests?state=merged`));
    expect(listed.items.map((p: any) => p.number)).toEqual([pulls[0]!.number]);
  });
});
