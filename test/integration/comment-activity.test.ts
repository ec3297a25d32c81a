import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { database } from "../../src/db/client";
import { getComment, storeInbound } from "../../src/db/comments";
import { api, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, deliver, waitProcessed } from "./webhooks.support";

async function stream(projectId: string, query = ""): Promise<any[]> {
  const items: any[] = [];
  let after: string | null = null;
  for (;;) {
    const page: any = await json(await api(`/api/v1/projects/${projectId}/activity?limit=100${after ? `&after=${after}` : ""}${query}`));
    items.push(...page.items);
    if (page.nextCursor === null) return items;
    after = page.nextCursor;
  }
}

/** The comment entries of one comment (its id is in `detail`). */
async function entriesOf(projectId: string, commentId: string): Promise<any[]> {
  return (await stream(projectId)).filter((e) => typeof e.detail === "string" && e.detail.includes(`comment ${commentId}`));
}

async function waitFor(projectId: string, predicate: (e: any) => boolean): Promise<any> {
  return vi.waitFor(
    async () => {
      const found = (await stream(projectId)).find(predicate);
      if (!found) throw new Error("activity not there yet");
      return found;
    },
    { timeout: 10_000, interval: 25 },
  );
}

async function localComments(projectId: string, issueId: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments?limit=100`))).items;
}

describe("activity stream: comment changes, recorded once whatever their source", () => {
  it("poll, full run, webhook, API and push answers each record the comment change with source, ids and before → after", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    const tracked = fake.seedIssue({ title: "with comments" });
    const first = fake.addComment(tracked.number, { body: "from the tracker", author: "alice" });
    const full = await syncAndWait(project.id, "full");
    const issue = (await localByNumber(project.id)).get(tracked.number)!;
    const [imported] = await localComments(project.id, issue.id);

    // Full run import: comment.created, source full, with the run id and the comment's fields.
    let mine = await entriesOf(project.id, imported.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      kind: "comment.created",
      source: "full",
      runId: full.id,
      issueId: issue.id,
      actor: null,
      changes: { body: { before: null, after: "from the tracker" }, author: { after: "alice" }, externalId: { after: String(first.id) } },
    });

    // Edited on the tracker, then a poll: comment.updated, source poll, only the body.
    fake.editComment(first.id, "edited on the tracker");
    const poll = await syncAndWait(project.id);
    mine = await entriesOf(project.id, imported.id);
    expect(mine.map((e) => e.kind)).toEqual(["comment.created", "comment.updated"]);
    expect(mine[1]).toMatchObject({ source: "poll", runId: poll.id, changes: { body: { before: "from the tracker", after: "edited on the tracker" } } });
    expect(Object.keys(mine[1].changes)).toEqual(["body"]);

    // A webhook: created, then deleted; source webhook with the tracker's delivery id.
    const second = fake.addComment(tracked.number, { body: "via webhook", author: "bob" });
    const created = await fake.commentWebhook("created", second.id);
    await waitProcessed(await accepted(await deliver(project, created)));
    const viaHook = (await localComments(project.id, issue.id)).find((c) => c.external?.id === String(second.id));
    fake.deleteComment(second.id);
    const deleted = await fake.commentWebhook("deleted", second.id);
    await waitProcessed(await accepted(await deliver(project, deleted)));
    const hookEntries = await entriesOf(project.id, viaHook.id);
    expect(hookEntries.map((e) => [e.kind, e.source, e.deliveryId])).toEqual([
      ["comment.created", "webhook", created.headers["x-github-delivery"]],
      ["comment.deleted", "webhook", deleted.headers["x-github-delivery"]],
    ]);
    expect(hookEntries[1].changes.deletedAt.before).toBeNull();
    expect(hookEntries[1].changes.deletedAt.after).not.toBeNull();

    // A local comment: created (api, the token's name), pushed (push, linked), synced.
    const res = await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments`, { method: "POST", body: { body: "Written by Jane", author: "jane" } });
    const local: any = await json(res);
    const pushed = await waitFor(project.id, (e) => e.kind === "comment.pushed" && e.detail.includes(local.id));
    await waitFor(project.id, (e) => e.kind === "comment.updated" && e.source === "push" && e.detail.includes(local.id));
    const onTracker = fake.commentsOf(tracked.number).find((c) => c.body === "Written by Jane")!;
    expect(pushed).toMatchObject({ source: "push", issueId: issue.id, changes: { externalId: { before: null, after: String(onTracker.id) } } });
    expect(pushed.detail).toContain(`created tracker comment ${onTracker.id} on #${tracked.number}`);

    // Edit and delete through the API, each pushed once.
    await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments/${local.id}`, { method: "PATCH", body: { body: "Edited by Jane" } });
    await vi.waitFor(() => expect(fake.comment(onTracker.id)!.body).toBe("Edited by Jane"), { timeout: 10_000, interval: 25 });
    await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments/${local.id}`, { method: "DELETE" });
    await vi.waitFor(() => expect(fake.comment(onTracker.id)!.deleted).toBe(true), { timeout: 10_000, interval: 25 });
    await waitFor(project.id, (e) => e.kind === "comment.pushed" && e.detail.includes(`deleted tracker comment ${onTracker.id}`));
    await waitFor(project.id, (e) => e.kind === "comment.updated" && e.source === "push" && e.changes.syncState?.after === "synced" && e.detail.includes(local.id));

    // The echo (webhook of our own edit, then polls) changes nothing, so records nothing.
    const before = (await stream(project.id)).length;
    await syncAndWait(project.id);
    await syncAndWait(project.id, "full");
    expect((await stream(project.id)).length).toBe(before);

    const localEntries = await entriesOf(project.id, local.id);
    const summary = localEntries.map((e) => `${e.kind}:${e.source}`);
    expect(summary).toEqual([
      "comment.created:api",
      "comment.pushed:push",
      "comment.updated:push",
      "comment.updated:api",
      "comment.pushed:push",
      "comment.updated:push",
      "comment.deleted:api",
      "comment.pushed:push",
      "comment.updated:push",
    ]);
    expect(localEntries[0]).toMatchObject({ actor: "default", changes: { body: { after: "Written by Jane" }, syncState: { after: "pending_push" } } });
    expect(localEntries[3]).toMatchObject({ actor: "default", changes: { body: { before: "Written by Jane", after: "Edited by Jane" }, syncState: { before: "synced", after: "pending_push" } } });
    expect(localEntries[6].changes.deletedAt.before).toBeNull();

    // Filter by kind works for the new kinds.
    const onlyDeleted = await stream(project.id, "&kind=comment.deleted");
    expect(onlyDeleted).toHaveLength(2);
  });

  it("a comment conflict and a refused comment push are recorded (conflict.recorded, comment.push_refused, access.failed)", async () => {
    const { fake, project } = await projectWithTracker("gitea", { master: "tracker" });
    const tracked = fake.seedIssue();
    const c = fake.addComment(tracked.number, { body: "original", author: "alice" });
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(tracked.number)!;
    const [mine] = await localComments(project.id, issue.id);

    // The push is held back by a short (credential-wide) rate limit; whichever of the retried push and
    // the run meets the tracker edit first records the conflict, once.
    fake.fail({ kind: "rate_limit", match: /^(PATCH|GET) .*\/comments\/\d+/, times: 1, resetInSeconds: 1 });
    await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments/${mine.id}`, { method: "PATCH", body: { body: "local edit" } });
    await vi.waitFor(() => expect(fake.requests.some((r) => /\/comments\/\d+/.test(r.path) && typeof r.status === "number" && r.status >= 400)).toBe(true), { timeout: 10_000, interval: 25 });
    fake.editComment(c.id, "tracker edit");
    const run = await syncAndWait(project.id);
    const conflict = await waitFor(project.id, (e) => e.kind === "conflict.recorded" && e.detail.includes(`comment ${mine.id}`));
    expect(conflict).toMatchObject({ issueId: issue.id, changes: { "comment.body": { before: "local edit", after: "tracker edit" } } });
    expect(conflict.source === "push" || (conflict.source === "poll" && conflict.runId === run.id)).toBe(true);
    expect((await stream(project.id, "&kind=conflict.recorded")).filter((e) => e.detail.includes(`comment ${mine.id}`))).toHaveLength(1);
    expect(conflict.detail).toMatch(/tracker won/);

    // A 422 refusal, then a 403 (credentials refused: access.failed, which the status chip reads).
    fake.fail({ kind: "server_error", status: 422, match: /^POST .*\/comments/, times: 1 });
    const refused: any = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments`, { method: "POST", body: { body: "refused" } }));
    const entry = await waitFor(project.id, (e) => e.kind === "comment.push_refused" && e.detail.includes(refused.id));
    expect(entry).toMatchObject({ source: "push", issueId: issue.id, changes: { syncState: { before: "pending_push", after: "error" } } });
    expect(entry.detail).toMatch(/422/);

    fake.fail({ kind: "forbidden", match: /^POST .*\/comments/, times: 1 });
    const forbidden: any = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments`, { method: "POST", body: { body: "forbidden" } }));
    await waitFor(project.id, (e) => e.kind === "access.failed" && e.detail.includes(forbidden.id));
    expect((await entriesOf(project.id, refused.id)).filter((e) => e.kind === "comment.push_refused")).toHaveLength(1);
  });

  it("an inbound write that loses its version race records nothing (entry and change commit together)", async () => {
    const { fake, project } = await projectWithTracker("github");
    const tracked = fake.seedIssue();
    fake.addComment(tracked.number, { body: "original" });
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(tracked.number)!;
    const [api_] = await localComments(project.id, issue.id);
    const db = database(env.DB);
    const stale = (await getComment(db, project.id, api_.id))!;
    // Paused: the local edit's push does not run, so the row stays at exactly stale.version + 1.
    await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { syncEnabled: false } });
    // Someone else wrote the row first: the stale write and its entry must both not apply.
    await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments/${api_.id}`, { method: "PATCH", body: { body: "local wins the race" } });
    const before = (await stream(project.id)).length;
    const origin = { source: "poll" as const };
    await storeInbound(db, [
      {
        kind: "update",
        current: stale,
        set: { body: "stale tracker copy" },
        activity: [
          { projectId: project.id, issueId: issue.id, kind: "comment.updated", origin, createdAt: new Date().toISOString(), detail: `comment ${stale.id}`, onlyIfComment: { id: stale.id, version: stale.version + 1 } },
        ],
      },
    ]);
    expect((await getComment(db, project.id, stale.id))!.body).toBe("local wins the race");
    const after = await stream(project.id);
    expect(after.slice(before).filter((e) => e.kind === "comment.updated" && e.source === "poll")).toEqual([]);
  });
});
