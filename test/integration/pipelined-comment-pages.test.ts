import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { projectWithTracker, syncAndWait } from "../support/trackers";

/**
 * The comment phase fetches comment page k+1 while page k is written (src/sync/comments-run.ts,
 * listRepositoryStep), like the issue listing. The test holds comment page writes open and watches
 * the tracker, so it proves the overlap without timing anything.
 */

type Batch = (...args: unknown[]) => Promise<unknown>;
const d1Proto = () => Object.getPrototypeOf(env.DB) as { batch: Batch };

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
    const proto = d1Proto();
    const realBatch = proto.batch;
    let heldWrites = 0;
    let overlapped = 0;
    const spy = vi.spyOn(proto, "batch").mockImplementation(async function (this: unknown, ...args: unknown[]) {
      const statements = args[0] as { statement?: string }[] | undefined;
      const isCommentPageWrite = (statements ?? []).some((s: any) => /^\s*INSERT INTO "comments"/i.test(String(s?.statement ?? "")));
      if (isCommentPageWrite && heldWrites < 3) {
        // Hold the k-th comment page write until the tracker has seen the request for page k+1.
        const k = ++heldWrites;
        try {
          await vi.waitFor(() => {
            if (commentListings(fake).length < k + 1) throw new Error("next comment page not requested yet");
          }, { timeout: 5_000, interval: 5 });
          overlapped++;
        } catch {
          // not overlapped: `overlapped` stays behind `heldWrites`
        }
      }
      return realBatch.apply(this, args);
    });
    let run: any;
    try {
      run = await syncAndWait(project.id, "full", 30_000);
    } finally {
      spy.mockRestore();
    }
    expect(run.status).toBe("succeeded");
    expect(heldWrites).toBe(3);
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
