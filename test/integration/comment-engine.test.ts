import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { resendStalePushes } from "../../src/jobs/sweeps";
import type { FakeTracker } from "../fakes/fake-tracker";
import { api, json } from "../support/api";
import { listAllComments, localIssue, projectWithTracker, syncAndWait } from "../support/trackers";
import { deliverAndApply } from "./webhooks.support";

const comments = (projectId: string, issueId: string) => listAllComments(projectId, issueId);

function commentWrites(fake: FakeTracker): string[] {
  return fake.requests.filter((r) => r.method !== "GET" && /\/(comments|notes)(\/\d+)?(\?|$)/.test(r.path)).map((r) => `${r.method} ${r.path}`);
}

async function post(projectId: string, issueId: string, body: Record<string, unknown>): Promise<any> {
  const res = await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments`, { method: "POST", body });
  if (res.status !== 201) throw new Error(`comment create failed: ${res.status} ${await res.text()}`);
  return res.json();
}

async function waitComment(projectId: string, issueId: string, commentId: string, done: (c: any) => boolean): Promise<any> {
  return vi.waitFor(
    async () => {
      const c = (await comments(projectId, issueId)).find((x) => x.id === commentId);
      if (!c || !done(c)) throw new Error(`comment not there yet: ${JSON.stringify(c)}`);
      return c;
    },
    { timeout: 10_000, interval: 25 },
  );
}

describe("one engine: comment listing", () => {
  it("Gitea's repository-wide comment listing (no Link, only X-Total-Count, 50 a page) is read to the end, and a full run deletes none of it", async () => {
    const { fake, project } = await projectWithTracker("gitea", { syncDirection: "inbound" });
    const issue = fake.seedIssue();
    for (let i = 0; i < 120; i++) fake.addComment(issue.number, { body: `comment ${i}` });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    expect((await comments(project.id, local.id)).length).toBe(120);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const after = await comments(project.id, local.id);
    expect(after.length).toBe(120);
    expect(after.filter((c) => c.deletedAt !== null)).toEqual([]);
  });

  it("GitLab: a note written within a minute of its issue's last update (ThrottledTouch: the issue is not touched) is read by the next incremental run", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" });
    const issue = fake.seedIssue();
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const before = fake.issue(issue.number)!.updatedAt;
    const note = fake.addComment(issue.number, { body: "quick reply" });
    expect(fake.issue(issue.number)!.updatedAt).toBe(before);
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    expect((await comments(project.id, local.id)).map((c) => c.external?.id)).toEqual([String(note.id)]);
  });

  it("a comment phase that keeps failing does not hold back the issue cursor: the next run lists issues from where the last one got", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seedIssue();
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    fake.advance(3_600_000);
    const edited = fake.seedIssue({ title: "new after an hour" });
    fake.fail({ kind: "forbidden", match: /^GET \/repos\/[^/]+\/[^/]+\/issues\/comments/, times: 1 });
    const failed = await syncAndWait(project.id);
    // The comment phase's failure is its own: the run succeeds, status names the stuck phase.
    expect(failed.status).toBe("succeeded");
    fake.clearLog();
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const listing = fake.requests.find((r) => r.method === "GET" && /\/issues\?/.test(r.path))!;
    const since = new URL(listing.url).searchParams.get("since")!;
    // Starts at the issue the failed run stored (minus the overlap), not an hour before it.
    expect(Date.parse(since)).toBeGreaterThan(edited.updatedAt - 10 * 60_000);
    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status.lastRuns.incremental).not.toBeNull();
    // The next run completed the comment phase: its failure is cleared.
    expect(status.comments.phaseError).toBeNull();
  });
});

describe("one engine: lost-create adoption", () => {
  it("a comment create the tracker refused never adopts a stranger's identical comment, and deleting it locally leaves theirs", async () => {
    const { fake, project } = await projectWithTracker("github");
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    fake.fail({ kind: "server_error", status: 422, match: /^POST \/repos\/.*\/comments/, times: 1 });
    const mine = await post(project.id, local.id, { body: "+1", author: "jane" });
    await waitComment(project.id, local.id, mine.id, (c) => c.syncState === "error");
    const theirs = fake.addComment(issue.number, { body: "+1", author: "bob" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const all = await comments(project.id, local.id);
    expect(all.find((c) => c.id === mine.id)!.external).toBeNull();
    expect(all.find((c) => c.external?.id === String(theirs.id))).toMatchObject({ author: "bob", body: "+1" });
    const res = await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${mine.id}`, { method: "DELETE" });
    expect(res.status).toBe(204);
    await syncAndWait(project.id);
    expect(fake.comment(theirs.id)!.deleted).toBe(false);
    expect(commentWrites(fake).filter((w) => w.startsWith("DELETE"))).toEqual([]);
  });
});

describe("one engine: push settles on the tracker's stored form", () => {
  it("GitLab strips trailing whitespace: one write, the comment settles, no loop", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const created = await post(project.id, local.id, { body: "Thanks!\n  ", author: "jane" });
    const settled = await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced" && c.external !== null);
    await new Promise((r) => setTimeout(r, 300));
    expect(commentWrites(fake)).toHaveLength(1);
    expect(settled.body).toBe("Thanks!");
    await syncAndWait(project.id, "full");
    expect(commentWrites(fake)).toHaveLength(1);
  });

  it("GitLab: quick-action lines in a local comment are escaped, never executed, and the comment round-trips unchanged", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const body = "Looks good\n/spend 1h\n/label ~urgent";
    const created = await post(project.id, local.id, { body, author: "jane" });
    const settled = await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced" && c.external !== null);
    expect(fake.store.quickActions).toEqual([]);
    expect(settled.body).toBe(body);
    expect(fake.commentsOf(issue.number)[0]!.body).toContain("\\/spend 1h");
    await syncAndWait(project.id, "full");
    expect((await comments(project.id, local.id)).map((c) => c.body)).toEqual([body]);
    expect(commentWrites(fake)).toHaveLength(1);
  });

  it("GitHub: a local body with CRLF line ends is stored with LF and pushed once", async () => {
    const { fake, project } = await projectWithTracker("github");
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const created = await post(project.id, local.id, { body: "line one\r\nline two", author: "jane" });
    expect(created.body).toBe("line one\nline two");
    await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced" && c.external !== null);
    await new Promise((r) => setTimeout(r, 300));
    expect(commentWrites(fake)).toHaveLength(1);
  });

  it("GitLab: a lost create answer is adopted although GitLab stored the text stripped", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    fake.dropCommentCreateResponse(1);
    const created = await post(project.id, local.id, { body: "only once\n", author: "jane" });
    await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced" && c.external !== null);
    expect(fake.commentsOf(issue.number).map((c) => c.body)).toEqual(["only once"]);
  });
});

describe("one engine: deletion needs proof", () => {
  it("a 404 on the comment while the token lost access does not delete it: the edit stays pending, and a poll after access is back keeps it", async () => {
    const { fake, project } = await projectWithTracker("github");
    const issue = fake.seedIssue();
    const c = fake.addComment(issue.number, { body: "original" });
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const [mine] = await comments(project.id, local.id);
    fake.loseAccess();
    const res = await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${mine.id}`, { method: "PATCH", body: { body: "edited here" } });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(fake.requests.some((r) => r.path.includes(`/issues/comments/${c.id}`))).toBe(true), { timeout: 10_000, interval: 25 });
    await new Promise((r) => setTimeout(r, 300));
    const during = (await comments(project.id, local.id))[0];
    expect(during.deletedAt).toBeNull();
    expect(during.syncState).toBe("pending_push");
    fake.loseAccess(false);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const after = (await comments(project.id, local.id))[0];
    expect(after).toMatchObject({ deletedAt: null, body: "edited here", syncState: "pending_push" });
    expect(fake.comment(c.id)!.deleted).toBe(false);
  });
});

describe("one engine: the credential gate", () => {
  it("a paused project sends no comment push; the comment stays pending and goes out once the project resumes", async () => {
    const { fake, project } = await projectWithTracker("gitea");
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    fake.token = "rotated-token";
    expect((await syncAndWait(project.id, "full")).status).toBe("failed");
    fake.clearLog();
    const created = await post(project.id, local.id, { body: "while paused", author: "jane" });
    await new Promise((r) => setTimeout(r, 500));
    expect(commentWrites(fake)).toEqual([]);
    expect((await comments(project.id, local.id)).find((c) => c.id === created.id)!.syncState).toBe("pending_push");
    expect((await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { token: "rotated-token" } })).status).toBe(200);
    await resendStalePushes(env, Date.now() + 60 * 60_000);
    await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced" && c.external !== null);
    expect(fake.commentsOf(issue.number).map((c) => c.body)).toEqual(["while paused"]);
  });
});

describe("one engine: every tracker call follows a rename", () => {
  it("Gitea answers 307 for the old name on every path: a comment edit and the next incremental run both reach the renamed repository", async () => {
    const { fake, project } = await projectWithTracker("gitea");
    const issue = fake.seedIssue();
    const c = fake.addComment(issue.number, { body: "before the rename" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    const [mine] = await comments(project.id, local.id);
    fake.renameRepository("acme/gadgets");
    const res = await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${mine.id}`, { method: "PATCH", body: { body: "after the rename" } });
    expect(res.status).toBe(200);
    await waitComment(project.id, local.id, mine.id, (x) => x.syncState === "synced");
    expect(fake.comment(c.id)!.body).toBe("after the rename");
    fake.edit(issue.number, { title: "edited after the rename" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect((await localIssue(project.id, issue.number)).title).toBe("edited after the rename");
  });
});

describe("one engine: GitLab confidential issues", () => {
  it("a public note on a confidential issue, delivered as `Confidential Note Hook`, is stored public and its local edit is pushed", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    const issue = fake.seedIssue({ confidential: true });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    const c = fake.addComment(issue.number, { body: "public note", author: "carol" });
    const hook = await fake.commentWebhook("created", c.id);
    expect(hook.headers["x-gitlab-event"]).toBe("Confidential Note Hook");
    await deliverAndApply(project, hook);
    const [got] = await comments(project.id, local.id);
    expect(got.visibility).toBe("public");
    await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${got.id}`, { method: "PATCH", body: { body: "edited here" } });
    await waitComment(project.id, local.id, got.id, (x) => x.syncState === "synced" && x.body === "edited here");
    expect(fake.comment(c.id)!.body).toBe("edited here");
  });
});

describe("one engine: retrying a comment push", () => {
  it("a refused comment push can be queued again by hand (202) and goes through; 409 when nothing failed; declared in /openapi.json", async () => {
    const { fake, project } = await projectWithTracker("github");
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    fake.fail({ kind: "server_error", status: 422, match: /^POST \/repos\/.*\/comments/, times: 1 });
    const mine = await post(project.id, local.id, { body: "try again", author: "jane" });
    await waitComment(project.id, local.id, mine.id, (c) => c.syncState === "error");
    const path = `/api/v1/projects/${project.id}/issues/${local.id}/comments/${mine.id}/retry-push`;
    const res = await api(path, { method: "POST" });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: "queued", commentId: mine.id });
    await waitComment(project.id, local.id, mine.id, (c) => c.syncState === "synced" && c.external !== null);
    expect(fake.commentsOf(issue.number).map((c) => c.body)).toEqual(["try again"]);
    expect((await api(path, { method: "POST" })).status).toBe(409);
    const doc = await json(await api("/openapi.json"));
    expect(doc.paths["/api/v1/projects/{projectId}/issues/{issueId}/comments/{commentId}/retry-push"].post).toBeDefined();
  });
});

describe("one engine: GitHub id-addressed paths", () => {
  it("a redirect of a comment call to another repository's id is never followed with the token", async () => {
    const { fake, project } = await projectWithTracker("github");
    const issue = fake.seedIssue();
    const c = fake.addComment(issue.number, { body: "original" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    const [mine] = await comments(project.id, local.id);
    fake.redirect({ match: `/issues/comments/${c.id}`, status: 301, location: (path) => `${fake.baseUrl}/repositories/9999${path.replace(/^\/repos\/[^/]+\/[^/]+/, "")}`, times: 1 });
    await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${mine.id}`, { method: "PATCH", body: { body: "edited" } });
    await vi.waitFor(() => expect(fake.requests.some((r) => r.path.includes(`/issues/comments/${c.id}`))).toBe(true), { timeout: 10_000, interval: 25 });
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.requests.filter((r) => r.path.startsWith("/repositories/9999"))).toEqual([]);
  });
});

describe("one engine: GitLab before 15.3", () => {
  it("an internal comment the tracker published (it ignored `internal`) is taken down at once and the push fails with the reason", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { gitlabInternalNotes: true });
    fake.store.ignoresInternalOnCreate = true;
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const created = await post(project.id, local.id, { body: "for the team", author: "jane", visibility: "internal" });
    const failed = await waitComment(project.id, local.id, created.id, (c) => c.syncState === "error");
    expect(failed.syncError).toMatch(/internal/);
    expect(fake.commentsOf(issue.number)).toEqual([]);
  });
});

describe("one engine: attribution within the tracker's limit", () => {
  it("GitHub: a 65,536-character comment with attribution on is sent whole, without the line, instead of refused", async () => {
    const { fake, project } = await projectWithTracker("github", { commentAttribution: true });
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const body = "x".repeat(65_536);
    const created = await post(project.id, local.id, { body, author: "jane" });
    await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced" && c.external !== null);
    expect(fake.commentsOf(issue.number)[0]!.body).toBe(body);
    const small = await post(project.id, local.id, { body: "short", author: "jane" });
    await waitComment(project.id, local.id, small.id, (c) => c.syncState === "synced");
    expect(fake.commentsOf(issue.number)[1]!.body).toBe("*jane wrote in Syndarix:*\n\nshort");
  });
});

describe("one engine: one canonical text form for issues too", () => {
  it("GitHub: an issue body written with CRLF through the API is stored with LF and settles after one create, without a warning", async () => {
    const { fake, project } = await projectWithTracker("github");
    const res = await api(`/api/v1/projects/${project.id}/issues`, { method: "POST", body: { title: "crlf", body: "one\r\ntwo" } });
    expect(res.status).toBe(201);
    const created: any = await res.json();
    expect(created.body).toBe("one\ntwo");
    await vi.waitFor(
      async () => {
        const issue = await json(await api(`/api/v1/projects/${project.id}/issues/${created.id}`));
        if (issue.syncState !== "synced") throw new Error(`still ${issue.syncState}`);
        expect(issue.syncWarnings ?? []).toEqual([]);
      },
      { timeout: 10_000, interval: 25 },
    );
    expect(fake.requests.filter((r) => r.method !== "GET" && /\/issues(\/\d+)?(\?|$)/.test(r.path))).toHaveLength(1);
  });
});
