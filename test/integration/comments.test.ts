import { describe, expect, it, vi } from "vitest";
import type { Provider } from "../../src/providers/types";
import type { FakeTracker } from "../fakes/fake-tracker";
import { api, expectProblem, json } from "../support/api";
import { listAllComments, localIssue, projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, deliver, waitProcessed } from "./webhooks.support";

const PROVIDERS: Provider[] = ["github", "gitlab", "gitea"];

const comments = (projectId: string, issueId: string) => listAllComments(projectId, issueId, 2);

/** Tracker writes to comments (creates, edits, deletes). */
function commentWrites(fake: FakeTracker): string[] {
  return fake.requests.filter((r) => r.method !== "GET" && /\/(comments|notes)(\/\d+)?(\?|$)/.test(r.path)).map((r) => `${r.method} ${r.path}`);
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

async function post(projectId: string, issueId: string, body: Record<string, unknown>): Promise<any> {
  const res = await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments`, { method: "POST", body });
  if (res.status !== 201) throw new Error(`comment create failed: ${res.status} ${await res.text()}`);
  return res.json();
}

describe.each(PROVIDERS)("comments on %s", (provider) => {
  it("an incremental poll imports issue comments oldest first, skipping pull request comments and system notes", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const issue = fake.seedIssue({ title: "with comments" });
    const pr = fake.seedPullRequest({ title: "a pull request" });
    fake.addComment(issue.number, { body: "first", author: "alice" });
    fake.addComment(issue.number, { body: "second", author: "bob" });
    if (provider !== "gitlab") fake.addComment(pr.number, { body: "on the pull request" });
    if (provider === "gitlab") {
      fake.addComment(issue.number, { body: "changed the description", system: true });
      fake.addComment(issue.number, { body: "for the team only", internal: true });
    }
    const run = await syncAndWait(project.id);
    expect(run.status).toBe("succeeded");

    const local = await localIssue(project.id, issue.number);
    const got = await comments(project.id, local.id);
    const expected = [
      { body: "first", author: "alice", visibility: "public" },
      { body: "second", author: "bob", visibility: "public" },
      ...(provider === "gitlab" ? [{ body: "for the team only", author: "bob", visibility: "internal" }] : []),
    ];
    expect(got.map((c) => ({ body: c.body, author: c.author, visibility: c.visibility }))).toEqual(expected);
    expect(got.every((c) => c.syncState === "synced" && c.external !== null)).toBe(true);

    // Nothing changed: a second run imports nothing and writes nothing to the tracker.
    await syncAndWait(project.id);
    expect((await comments(project.id, local.id)).length).toBe(expected.length);
    expect(commentWrites(fake)).toEqual([]);
  });

  it("a comment webhook adds, edits and (GitHub/Gitea) deletes the local comment", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);

    const c = fake.addComment(issue.number, { body: "hello from the tracker", author: "carol" });
    let id = await accepted(await deliver(project, await fake.commentWebhook("created", c.id)));
    expect((await waitProcessed(id)).status).toBe("applied");
    let got = await comments(project.id, local.id);
    expect(got).toMatchObject([{ body: "hello from the tracker", author: "carol", external: { id: String(c.id) } }]);

    fake.editComment(c.id, "edited on the tracker");
    id = await accepted(await deliver(project, await fake.commentWebhook("edited", c.id)));
    await waitProcessed(id);
    got = await comments(project.id, local.id);
    expect(got[0].body).toBe("edited on the tracker");

    if (provider !== "gitlab") {
      fake.deleteComment(c.id);
      id = await accepted(await deliver(project, await fake.commentWebhook("deleted", c.id)));
      await waitProcessed(id);
      got = await comments(project.id, local.id);
      expect(got[0].deletedAt).not.toBeNull();
    }
    const events = await json(await api(`/api/v1/projects/${project.id}/events?kind=comment`));
    expect(events.items.length).toBeGreaterThanOrEqual(2);
    expect(commentWrites(fake)).toEqual([]);
  });

  it("a comment arriving before its issue is applied once the issue is imported", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const issue = fake.seedIssue({ title: "not imported yet" });
    const c = fake.addComment(issue.number, { body: "early bird", author: "alice" });
    const id = await accepted(await deliver(project, await fake.commentWebhook("created", c.id)));
    expect((await waitProcessed(id)).status).toBe("applied");
    const status = await json(await api(`/api/v1/projects/${project.id}/status`));
    expect(status.comments.waitingForIssue).toBe(1);

    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    expect((await comments(project.id, local.id)).map((x) => x.body)).toEqual(["early bird"]);
    expect((await json(await api(`/api/v1/projects/${project.id}/status`))).comments.waitingForIssue).toBe(0);
  });

  it("local create, edit and delete reach the tracker once each; the echo changes nothing (push → webhook → poll)", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);

    const created = await post(project.id, local.id, { body: "Written by Jane", author: "jane" });
    expect(created).toMatchObject({ body: "Written by Jane", author: "jane", visibility: "public", syncState: "pending_push", external: null });
    const synced = await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced" && c.external !== null);
    const onTracker = fake.commentsOf(issue.number);
    expect(onTracker.map((c) => c.body)).toEqual(["Written by Jane"]);
    expect(synced.external.id).toBe(String(onTracker[0]!.id));

    // The echo: the tracker's webhook for our own comment, then a poll. No further writes.
    const writesAfterCreate = commentWrites(fake).length;
    const id = await accepted(await deliver(project, await fake.commentWebhook("created", onTracker[0]!.id)));
    await waitProcessed(id);
    await syncAndWait(project.id);
    expect(commentWrites(fake).length).toBe(writesAfterCreate);
    expect((await comments(project.id, local.id)).map((c) => [c.body, c.syncState])).toEqual([["Written by Jane", "synced"]]);

    const patched = await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${created.id}`, { method: "PATCH", body: { body: "Edited by Jane" } });
    expect(patched.status).toBe(200);
    await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced" && c.body === "Edited by Jane");
    expect(fake.comment(onTracker[0]!.id)!.body).toBe("Edited by Jane");

    const deleted = await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${created.id}`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    await vi.waitFor(() => expect(fake.comment(onTracker[0]!.id)!.deleted).toBe(true), { timeout: 10_000, interval: 25 });
    await syncAndWait(project.id, "full");

    const methods = commentWrites(fake).map((w) => w.split(" ")[0]);
    expect(methods).toEqual(["POST", provider === "gitlab" ? "PUT" : "PATCH", "DELETE"]);
    const [final] = await comments(project.id, local.id);
    expect(final.deletedAt).not.toBeNull();
  });

  it("a lost create answer adopts the comment the first attempt made, never a second copy", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    fake.dropCommentCreateResponse(1);
    const created = await post(project.id, local.id, { body: "only once", author: "jane" });
    await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced" && c.external !== null);
    expect(fake.commentsOf(issue.number).map((c) => c.body)).toEqual(["only once"]);
    expect(commentWrites(fake).filter((w) => w.startsWith("POST"))).toHaveLength(1);
  });

  it("with attribution on, the tracker shows who wrote it and the local body stays exactly what they wrote", async () => {
    const { fake, project } = await projectWithTracker(provider, { commentAttribution: true });
    expect(project.commentAttribution).toBe(true);
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const created = await post(project.id, local.id, { body: "Jane's words", author: "Jane Doe" });
    await waitComment(project.id, local.id, created.id, (c) => c.syncState === "synced");
    const [onTracker] = fake.commentsOf(issue.number);
    expect(onTracker!.body).toBe("*Jane Doe wrote in Syndarix:*\n\nJane's words");
    const writes = commentWrites(fake).length;
    if (provider !== "gitlab") await waitProcessed(await accepted(await deliver(project, await fake.commentWebhook("edited", onTracker!.id))));
    await syncAndWait(project.id, "full");
    expect((await comments(project.id, local.id)).map((c) => [c.body, c.syncState])).toEqual([["Jane's words", "synced"]]);
    expect(commentWrites(fake).length).toBe(writes);
  });

  it("internal comments are stored but never sent", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const internal = await post(project.id, local.id, { body: "staff only", author: "jane", visibility: "internal" });
    expect(internal).toMatchObject({ visibility: "internal", syncState: "synced", external: null });
    await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${internal.id}`, { method: "PATCH", body: { body: "still staff only" } });
    await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${internal.id}`, { method: "DELETE" });
    await syncAndWait(project.id);
    expect(commentWrites(fake)).toEqual([]);
    expect(fake.commentsOf(issue.number)).toEqual([]);
  });

  it("a comment edited on both sides is settled by the master and recorded in conflicts", async () => {
    const { fake, project } = await projectWithTracker(provider, { master: "tracker" });
    const issue = fake.seedIssue();
    const c = fake.addComment(issue.number, { body: "original", author: "alice" });
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const [mine] = await comments(project.id, local.id);

    // Hold pushes back: edit locally while the tracker fails the comment's reads and writes, then edit
    // on the tracker. (Not a rate limit: that would make every request on the credential wait, the
    // run's too, since projects share their credential's budget.)
    fake.fail({ kind: "server_error", match: /^(PATCH|PUT|GET) .*\/(comments|notes)\/\d+/, times: 100 });
    await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${mine.id}`, { method: "PATCH", body: { body: "local edit" } });
    await vi.waitFor(() => expect(fake.requests.some((r) => /\/(comments|notes)\/\d+/.test(r.path) && typeof r.status === "number" && r.status >= 400)).toBe(true), { timeout: 10_000, interval: 25 });
    fake.editComment(c.id, "tracker edit");
    await syncAndWait(project.id);

    const [after] = await comments(project.id, local.id);
    expect(after.body).toBe("tracker edit");
    const conflicts = await json(await api(`/api/v1/projects/${project.id}/conflicts`));
    expect(conflicts.items.some((x: any) => x.field === "comment.body" && x.resolution === "tracker")).toBe(true);
    expect(fake.comment(c.id)!.body).toBe("tracker edit");
  });

  it("a comment deleted on the tracker is marked deleted by a full run and never revived", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const issue = fake.seedIssue();
    const keep = fake.addComment(issue.number, { body: "stays" });
    const gone = fake.addComment(issue.number, { body: "goes" });
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    fake.deleteComment(gone.id);
    await syncAndWait(project.id, "full");
    const got = await comments(project.id, local.id);
    expect(got.find((c) => c.external.id === String(gone.id)).deletedAt).not.toBeNull();
    expect(got.find((c) => c.external.id === String(keep.id)).deletedAt).toBeNull();
    await syncAndWait(project.id, "full");
    expect((await comments(project.id, local.id)).find((c) => c.external.id === String(gone.id)).deletedAt).not.toBeNull();
    expect(commentWrites(fake)).toEqual([]);
  });
});

describe("comment routes refuse bad input", () => {
  it("answers problem+json naming the field, 404 for unknown ids, 409 for inbound projects, and writes nothing", async () => {
    const { fake, project } = await projectWithTracker("github");
    const issue = fake.seedIssue();
    await syncAndWait(project.id);
    const local = await localIssue(project.id, issue.number);
    const base = `/api/v1/projects/${project.id}/issues/${local.id}/comments`;

    let problem = await expectProblem(await api(base, { method: "POST", body: { body: "" } }), 400);
    expect(problem.errors?.map((e) => e.field)).toContain("body");
    problem = await expectProblem(await api(base, { method: "POST", body: { body: "x", visibility: "secret" } }), 400);
    expect(problem.errors?.map((e) => e.field)).toContain("visibility");
    problem = await expectProblem(await api(base, { method: "POST", body: { body: "x", extra: 1 } }), 400);
    problem = await expectProblem(await api(base, { method: "POST", body: { body: "x".repeat(65_537) } }), 400);
    expect(problem.errors?.map((e) => e.field)).toContain("body");
    await expectProblem(await api(`${base}?cursor=nope`), 400);
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/00000000-0000-7000-8000-000000000000/comments`), 404);
    await expectProblem(await api(`${base}/00000000-0000-7000-8000-000000000000`, { method: "PATCH", body: { body: "x" } }), 404);
    expect(await comments(project.id, local.id)).toEqual([]);

    const inbound = await projectWithTracker("github", { syncDirection: "inbound" });
    const i2 = inbound.fake.seedIssue();
    inbound.fake.addComment(i2.number, { body: "from the tracker" });
    await syncAndWait(inbound.project.id);
    const l2 = await localIssue(inbound.project.id, i2.number);
    const [c2] = await comments(inbound.project.id, l2.id);
    const b2 = `/api/v1/projects/${inbound.project.id}/issues/${l2.id}/comments`;
    await expectProblem(await api(b2, { method: "POST", body: { body: "refused" } }), 409);
    await expectProblem(await api(`${b2}/${c2.id}`, { method: "PATCH", body: { body: "refused" } }), 409);
    await expectProblem(await api(`${b2}/${c2.id}`, { method: "DELETE" }), 409);
    expect((await comments(inbound.project.id, l2.id)).map((c) => c.body)).toEqual(["from the tracker"]);
    expect(commentWrites(inbound.fake)).toEqual([]);
  });
});
