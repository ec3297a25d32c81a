import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { listUnconfirmedCommentCreates } from "../../src/db/comments";

/**
 * A poll page can hold comments of up to 100 issues; the lookup of comment creates still in flight
 * must cover every one of them, or the comment a lost create made on issue 91+ is imported as a copy.
 */
describe("lost comment creates are found for every issue of a page", () => {
  it("an in-flight create on the 95th distinct issue of a page is listed", async () => {
    const projectId = crypto.randomUUID();
    const issueIds = Array.from({ length: 100 }, () => crypto.randomUUID());
    const target = issueIds[94]!;
    const commentId = crypto.randomUUID();
    const now = new Date().toISOString();
    await env.DB.prepare(
      "insert into comments (id, project_id, issue_id, body, author, visibility, created_at, updated_at, version, sync_state) values (?, ?, ?, 'hello', 'jane', 'public', ?, ?, 1, 'pending_push')",
    )
      .bind(commentId, projectId, target, now, now)
      .run();
    await env.DB.prepare(
      "insert into comment_outbox (id, project_id, comment_id, op, status, attempts, create_attempted_at, sent_body) values (?, ?, ?, 'create', 'pending', 1, ?, 'hello')",
    )
      .bind(crypto.randomUUID(), projectId, commentId, now)
      .run();
    const found = await listUnconfirmedCommentCreates(database(env.DB), issueIds);
    expect(found.map((f) => f.comment.id)).toEqual([commentId]);
  });
});
