/**
 * GitLab has no repository-wide note listing: the notes of each changed issue are read, through the
 * one listing loop (created order, every page followed), and edits of one note within one second —
 * GitLab's hooks carry whole seconds — are never lost: a fresh read decides what an event cannot.
 */
import { describe, expect, it } from "vitest";
import { listAllComments, localIssue, projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, deliver, waitProcessed } from "./webhooks.support";

const commentsOf = (projectId: string, issueId: string) => listAllComments(projectId, issueId);

describe("GitLab: the per-issue note walk", () => {
  it("reads every page of an issue's notes in created order (X-Next-Page, 100 a page at most), and a full run deletes none of them", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" });
    const issue = fake.seedIssue();
    for (let i = 0; i < 230; i++) fake.addComment(issue.number, { body: `note ${i}` });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    expect((await commentsOf(project.id, local.id)).map((c) => c.body).sort()).toEqual(Array.from({ length: 230 }, (_, i) => `note ${i}`).sort());
    const noteReads = fake.requests.filter((r) => r.method === "GET" && new RegExp(`/issues/${issue.number}/notes(\\?|$)`).test(r.path));
    expect(noteReads.length).toBeGreaterThanOrEqual(3);
    // A stable order: an edit does not move a note between the pages being read.
    expect(noteReads.every((r) => r.path.includes("order_by=created_at") && r.path.includes("sort=asc"))).toBe(true);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const after = await commentsOf(project.id, local.id);
    expect(after).toHaveLength(230);
    expect(after.filter((c) => c.deletedAt !== null)).toEqual([]);
  });

  it("two edits of one note within the same second are both seen by polls: the second is not dropped", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" }, { tickMs: 0 });
    const issue = fake.seedIssue();
    const note = fake.addComment(issue.number, { body: "v1" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    fake.advance(1_000);
    fake.editComment(note.id, "v2");
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect((await commentsOf(project.id, local.id))[0].body).toBe("v2");
    // Same instant as v2 (the clock does not move): only the text tells the edits apart.
    fake.editComment(note.id, "v3");
    expect(fake.comment(note.id)!.updatedAt).toBe(fake.store.nowMs);
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect((await commentsOf(project.id, local.id))[0].body).toBe("v3");
  });

  it("Note Hooks of two same-second edits delivered out of order never roll the note back: the late one asks for a poll, which reads the newest", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" }, { tickMs: 0 });
    const issue = fake.seedIssue();
    const note = fake.addComment(issue.number, { body: "v1" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = await localIssue(project.id, issue.number);
    fake.advance(1_000);
    fake.editComment(note.id, "v2");
    const hookV2 = await fake.commentWebhook("edited", note.id);
    fake.editComment(note.id, "v3");
    const hookV3 = await fake.commentWebhook("edited", note.id);
    expect((await waitProcessed(await accepted(await deliver(project, hookV3)))).status).toBe("applied");
    expect((await commentsOf(project.id, local.id))[0].body).toBe("v3");
    const lateId = await accepted(await deliver(project, hookV2));
    const late = await waitProcessed(lateId);
    expect(late.status).toBe("applied");
    expect(late.error).toContain("incremental sync was requested");
    expect((await commentsOf(project.id, local.id))[0].body).toBe("v3");
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect((await commentsOf(project.id, local.id))[0].body).toBe("v3");
  });
});
