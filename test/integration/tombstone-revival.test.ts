/**
 * Tombstones that a newer tracker copy revives, for issues and comments alike: a deletion proven by
 * the tracker (a 404 while the container reads fine, a deletion webhook) removes the record locally,
 * and a tracker copy changed after that proof brings it back — the row un-deleted (comments) or
 * imported again (issues under the "delete" policy), with an activity entry saying so. A copy no
 * newer than the proof (a late delivery) changes nothing.
 */
import { describe, expect, it } from "vitest";
import type { Provider } from "../../src/providers/types";
import { api, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, deliver, deliverAndApply, waitProcessed } from "./webhooks.support";

async function stream(projectId: string): Promise<any[]> {
  const items: any[] = [];
  let after: string | null = null;
  for (;;) {
    const page: any = await json(await api(`/api/v1/projects/${projectId}/activity?limit=100${after ? `&after=${after}` : ""}`));
    items.push(...page.items);
    if (page.nextCursor === null) return items;
    after = page.nextCursor;
  }
}

async function commentsOf(projectId: string, issueId: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments?limit=100`))).items;
}

async function localIssue(projectId: string, number: number): Promise<any> {
  const issue = (await localByNumber(projectId)).get(number);
  if (!issue) throw new Error(`issue #${number} not imported`);
  return issue;
}

describe("a newer tracker copy revives a comment tombstone", () => {
  it.each(["github", "gitea", "gitlab"] as Provider[])(
    "%s: a comment proven gone by a 404 during a blip comes back un-deleted when the tracker shows it changed after the proof",
    async (provider) => {
      const { fake, project } = await projectWithTracker(provider, { syncDirection: "bidirectional" });
      const issue = fake.seedIssue();
      const note = fake.addComment(issue.number, { body: "still here" });
      expect((await syncAndWait(project.id)).status).toBe("succeeded");
      const local = await localIssue(project.id, issue.number);
      const [stored] = await commentsOf(project.id, local.id);
      // The tracker answers 404 for the comment while its issue reads fine: proof enough to delete.
      fake.comment(note.id)!.deleted = true;
      expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
      expect((await commentsOf(project.id, local.id))[0].deletedAt).not.toBeNull();
      // It was not gone after all: it shows up again, edited after the deletion was recorded.
      fake.comment(note.id)!.deleted = false;
      fake.advance(60_000);
      fake.editComment(note.id, "still here, edited");
      expect((await syncAndWait(project.id)).status).toBe("succeeded");
      const [back] = await commentsOf(project.id, local.id);
      expect(back).toMatchObject({ id: stored.id, deletedAt: null, body: "still here, edited", syncState: "synced" });
      const entries = (await stream(project.id)).filter((e) => typeof e.detail === "string" && e.detail.startsWith(`comment ${stored.id} revived`));
      expect(entries).toHaveLength(1);
      expect(entries[0].kind).toBe("comment.updated");
      // Settled: nothing pushed back, and another run changes nothing.
      expect(fake.requests.filter((r) => r.method !== "GET")).toEqual([]);
      expect((await syncAndWait(project.id)).status).toBe("succeeded");
      expect((await commentsOf(project.id, local.id))[0]).toMatchObject({ deletedAt: null, body: "still here, edited" });
    },
  );

  it.each(["github", "gitea"] as Provider[])("%s: a deletion webhook newer than an edit delivery wins: the late edit does not revive the comment", async (provider) => {
    const { fake, project } = await projectWithTracker(provider, { syncDirection: "bidirectional" });
    const issue = fake.seedIssue();
    const note = fake.addComment(issue.number, { body: "first" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    fake.editComment(note.id, "second");
    const lateEdit = await fake.commentWebhook("edited", note.id);
    fake.deleteComment(note.id);
    await deliverAndApply(project, await fake.commentWebhook("deleted", note.id));
    expect((await commentsOf(project.id, local.id))[0].deletedAt).not.toBeNull();
    await deliverAndApply(project, lateEdit);
    const [after] = await commentsOf(project.id, local.id);
    expect(after.deletedAt).not.toBeNull();
    expect(after.body).toBe("first");
  });

  it("a comment deleted locally is never revived by a tracker copy, newer or not", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "bidirectional" });
    const issue = fake.seedIssue();
    const note = fake.addComment(issue.number, { body: "mine to delete" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    const [stored] = await commentsOf(project.id, local.id);
    fake.fail({ kind: "server_error", match: /^DELETE /, times: 100 });
    expect((await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${stored.id}`, { method: "DELETE" })).status).toBe(204);
    fake.advance(60_000);
    fake.editComment(note.id, "edited on the tracker meanwhile");
    await deliverAndApply(project, await fake.commentWebhook("edited", note.id));
    expect((await commentsOf(project.id, local.id))[0].deletedAt).not.toBeNull();
  });
});

describe("a newer tracker copy revives an issue tombstone", () => {
  it("GitHub: an issue deleted and removed (policy delete) comes back from a delivery changed after the deletion, under its old id and with its comments; an older one is refused", async () => {
    const { fake, project } = await projectWithTracker("github", { deletionPolicy: "delete" });
    fake.seedIssue({ title: "Keep me" });
    fake.addComment(1, { body: "a comment on it" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const before = await localIssue(project.id, 1);
    const oldEdit = await fake.webhook("edited", 1);
    fake.delete(1);
    await deliverAndApply(project, await fake.webhook("deleted", 1));
    expect((await localByNumber(project.id)).size).toBe(0);
    const replay = await accepted(await deliver(project, oldEdit));
    expect((await waitProcessed(replay)).status).toBe("ignored");
    expect((await localByNumber(project.id)).size).toBe(0);
    // The deletion was not the end of it (e.g. it was restored): a newer copy arrives.
    fake.issue(1)!.deleted = false;
    fake.advance(60_000);
    fake.edit(1, { title: "Back again" });
    await deliverAndApply(project, await fake.webhook("edited", 1));
    const back = await localIssue(project.id, 1);
    expect(back).toMatchObject({ id: before.id, title: "Back again", syncState: "synced" });
    expect((await commentsOf(project.id, back.id)).map((c) => c.body)).toEqual(["a comment on it"]);
    const entries = (await stream(project.id)).filter((e) => e.issueId === back.id && e.kind === "issue.created");
    expect(entries.map((e) => e.detail)).toEqual([expect.stringContaining("revived #1")]);
  });

  it.each(["gitlab", "gitea"] as Provider[])("%s: an issue proven deleted by a full run (policy delete) is imported again by a listing that shows it changed after the deletion", async (provider) => {
    const { fake, project } = await projectWithTracker(provider, { deletionPolicy: "delete" });
    fake.seedIssue({ title: "Keep me" });
    fake.seedIssue({ title: "Other" });
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    fake.delete(1);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    expect([...(await localByNumber(project.id)).keys()]).toEqual([2]);
    fake.issue(1)!.deleted = false;
    fake.advance(60_000);
    fake.edit(1, { title: "Back again" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const back = await localIssue(project.id, 1);
    expect(back).toMatchObject({ title: "Back again" });
    const entries = (await stream(project.id)).filter((e) => e.issueId === back.id && e.kind === "issue.created");
    expect(entries.map((e) => e.detail)).toEqual([expect.stringContaining("revived #1")]);
  });
});
