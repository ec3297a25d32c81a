import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { withHeldPageWrites } from "../support/held-writes";
import { projectWithTracker, syncAndWait } from "../support/trackers";

/**
 * The comment phase fetches comment page k+1 while page k is written (src/sync/comments-run.ts,
 * listRepositoryStep), like the issue listing. The test holds comment page writes open and watches
 * the tracker, so it proves the overlap without timing anything.
 */


/** GET repository-wide comment listing requests the fake has answered, in order. */
const commentListings = (fake: any): string[] =>
  fake.requests.filter((r: any) => r.method === "GET" && /\/issues\/comments(\?|$)/.test(r.path)).map((r: any) => r.path);

describe("pipelined comment listing", () => {
  it("asks for the next comment page while the current one is being written, with exactly the requests of a serial listing", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    const issues = Array.from({ length: 7 }, () => fake.seedIssue());
    // 420 comments: 5 pages of 100 (the keyset re-reads one boundary comment per page), so the step
    // boundary after 5 pages is crossed too.
    for (let i = 0; i < 420; i++) fake.addComment(issues[i % issues.length]!.number, { body: `c${i}` });
    const { result: run, held, overlapped } = await withHeldPageWrites(
      {
        holds: 3,
        isPageWrite: (sqls) => sqls.some((q) => /^\s*INSERT INTO "comments"/i.test(q)),
        requestsSeen: () => commentListings(fake).length,
        timeoutMs: 5_000,
      },
      () => syncAndWait(project.id, "full", 30_000),
    );
    expect(run.status).toBe("succeeded");
    expect(held).toBe(3);
    expect(overlapped).toBe(3);
    const listed = commentListings(fake);
    // No comment page fetched ahead and thrown away, none repeated: 420 comments, 100 a page, each page
    // after the first starting at its predecessor's last comment (5 pages).
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed.length).toBe(5);
    const stored = await env.DB.prepare("SELECT COUNT(*) AS n FROM comments WHERE project_id = ? AND external_id IS NOT NULL").bind(project.id).first<{ n: number }>();
    expect(stored!.n).toBe(420);
  });
});
