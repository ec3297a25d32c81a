/**
 * Comment texts are sized for D1 as issue texts are (the same code, issue-texts.ts): production D1
 * refuses a string or row over 2,000,000 bytes (local D1 accepts it), and a GitLab note may be
 * 1,000,000 characters — up to ~3 MB of UTF-8 for CJK text, held twice in a row (body and base).
 * Every value the Worker binds is watched here, and every stored comment row is measured in UTF-8.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, json, SECRET_WEBHOOK } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import { accepted, deliver, waitProcessed } from "./webhooks.support";

const LIMIT = 2_000_000;
const encoder = new TextEncoder();
const bytes = (v: unknown) => (typeof v === "string" ? encoder.encode(v).byteLength : 0);

/** The largest string bound to any D1 statement (the Worker's and the Durable Object's: one isolate). */
let largestBound = 0;
let restore: () => void = () => {};
beforeAll(() => {
  const proto = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as { bind: (...values: unknown[]) => unknown };
  const bind = proto.bind;
  proto.bind = function (this: unknown, ...values: unknown[]) {
    for (const v of values) largestBound = Math.max(largestBound, bytes(v));
    return bind.apply(this, values);
  };
  restore = () => (proto.bind = bind);
});
afterAll(() => restore());

async function largestCommentRow(projectId: string): Promise<number> {
  const row = await env.DB.prepare(
    `SELECT max(length(CAST(body AS BLOB)) + coalesce(length(CAST(base AS BLOB)), 0) + length(CAST(author AS BLOB))) AS n FROM comments WHERE project_id = ?`,
  )
    .bind(projectId)
    .first<{ n: number }>();
  return row!.n;
}

/** CJK text: 3 UTF-8 bytes a character, varied so it does not compress to nothing. */
function cjk(chars: number, seed: number): string {
  let out = "";
  let x = seed;
  for (let i = 0; i < chars; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out += String.fromCharCode(0x4e00 + (x % 0x5000));
  }
  return out;
}

async function commentsOf(projectId: string, issueId: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments?limit=100`))).items;
}

describe("D1 byte limits: comment texts", () => {
  it("gitlab: a 1,000,000-character CJK note (~3 MB of UTF-8) is stored within the limits and round-trips exactly; a tracker edit and a local edit keep it whole", async () => {
    largestBound = 0;
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "bidirectional" });
    const issue = fake.seedIssue();
    const big = cjk(1_000_000, 13);
    const note = fake.addComment(issue.number, { body: big });
    fake.addComment(issue.number, { body: "a small neighbour" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = (await localByNumber(project.id)).get(issue.number)!;
    const stored = await commentsOf(project.id, local.id);
    expect(stored).toHaveLength(2);
    const mine = stored.find((c) => c.external?.id === String(note.id));
    expect(mine.body.length).toBe(big.length);
    expect(mine.body === big).toBe(true);
    expect(largestBound).toBeLessThan(LIMIT);
    expect(await largestCommentRow(project.id)).toBeLessThan(LIMIT);

    // A full run reads it again: nothing changes, nothing is pushed, nothing is deleted.
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    const again = (await commentsOf(project.id, local.id)).find((c) => c.id === mine.id);
    expect(again).toMatchObject({ deletedAt: null, syncState: "synced" });
    expect(again.body === big).toBe(true);
    expect(fake.requests.filter((r) => r.method !== "GET")).toEqual([]);

    // The tracker's edit to another large text replaces it whole.
    const bigger = cjk(1_000_000, 17);
    fake.advance(1_000);
    fake.editComment(note.id, bigger);
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    expect((await commentsOf(project.id, local.id)).find((c) => c.id === mine.id).body === bigger).toBe(true);
    expect(largestBound).toBeLessThan(LIMIT);
    expect(await largestCommentRow(project.id)).toBeLessThan(LIMIT);

    // A local edit replaces the split text with a short one, which is pushed and settles.
    const res = await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${mine.id}`, { method: "PATCH", body: { body: "short now" } });
    expect(res.status).toBe(200);
    expect((await res.json<any>()).body).toBe("short now");
    await expect
      .poll(async () => (await commentsOf(project.id, local.id)).find((c) => c.id === mine.id).syncState, { timeout: 10_000, interval: 50 })
      .toBe("synced");
    expect((await commentsOf(project.id, local.id)).find((c) => c.id === mine.id).body).toBe("short now");
    expect(fake.comment(note.id)!.body).toBe("short now");
  });

  it("gitlab: a Note Hook carrying a 700,000-character CJK note (over 2 MB of UTF-8) is stored within the limits", async () => {
    largestBound = 0;
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" }, { webhookSecret: SECRET_WEBHOOK });
    const issue = fake.seedIssue();
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    // GitLab's Note Hook carries the text twice (`note` and `description`): this one stays under the
    // webhook edge's 5 MB body limit, a larger note arrives by the poll.
    const big = "评论内容很长。".repeat(100_000); // 700,000 characters, 2.1 MB
    const note = fake.addComment(issue.number, { body: big });
    const id = await accepted(await deliver(project, await fake.commentWebhook("created", note.id)));
    expect((await waitProcessed(id)).status).toBe("applied");
    const local = (await localByNumber(project.id)).get(issue.number)!;
    const [stored] = await commentsOf(project.id, local.id);
    expect(stored.body === big).toBe(true);
    expect(largestBound).toBeLessThan(LIMIT);
    expect(await largestCommentRow(project.id)).toBeLessThan(LIMIT);
  });

  it("gitlab: a large note delivered before its issue is imported waits without its text, and is read again and stored whole once the issue is", async () => {
    largestBound = 0;
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "inbound" }, { webhookSecret: SECRET_WEBHOOK });
    const issue = fake.seedIssue();
    const big = "等待中的评论。".repeat(100_000); // 700,000 characters, 2.1 MB
    const note = fake.addComment(issue.number, { body: big });
    const id = await accepted(await deliver(project, await fake.commentWebhook("created", note.id)));
    expect((await waitProcessed(id)).status).toBe("applied");
    const waiting = await env.DB.prepare("SELECT length(CAST(comment AS BLOB)) AS n FROM pending_comments WHERE project_id = ?").bind(project.id).first<{ n: number }>();
    expect(waiting!.n).toBeLessThan(LIMIT);
    expect(largestBound).toBeLessThan(LIMIT);
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = (await localByNumber(project.id)).get(issue.number)!;
    const [stored] = await commentsOf(project.id, local.id);
    expect(stored.body === big).toBe(true);
    expect(largestBound).toBeLessThan(LIMIT);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM pending_comments WHERE project_id = ?").bind(project.id).first<{ n: number }>();
    expect(left!.n).toBe(0);
  });

  it("gitlab: a conflict against a 1,000,000-character note is recorded within the limits (the oversized side as null) and the tracker's text is stored whole", async () => {
    largestBound = 0;
    const { fake, project } = await projectWithTracker("gitlab", { syncDirection: "bidirectional", master: "tracker" });
    const issue = fake.seedIssue();
    const note = fake.addComment(issue.number, { body: "small at first" });
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    const local = (await localByNumber(project.id)).get(issue.number)!;
    const [mine] = await commentsOf(project.id, local.id);
    // The local edit cannot reach the tracker for now; meanwhile the tracker's copy grows huge.
    fake.fail({ kind: "server_error", match: /^PUT /, times: 1000 });
    expect((await api(`/api/v1/projects/${project.id}/issues/${local.id}/comments/${mine.id}`, { method: "PATCH", body: { body: "edited here" } })).status).toBe(200);
    const big = cjk(1_000_000, 23);
    fake.advance(1_000);
    fake.editComment(note.id, big);
    expect((await syncAndWait(project.id)).status).toBe("succeeded");
    await expect.poll(async () => (await commentsOf(project.id, local.id))[0].body === big, { timeout: 10_000, interval: 50 }).toBe(true);
    const conflict = await env.DB.prepare("SELECT local_value, tracker_value, resolution FROM conflicts WHERE comment_id = ?").bind(mine.id).first<{ local_value: string; tracker_value: string; resolution: string }>();
    expect(conflict).toMatchObject({ local_value: JSON.stringify("edited here"), tracker_value: "null", resolution: "tracker" });
    expect(largestBound).toBeLessThan(LIMIT);
    expect(await largestCommentRow(project.id)).toBeLessThan(LIMIT);
  });
});
