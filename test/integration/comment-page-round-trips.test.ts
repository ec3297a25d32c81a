import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { projectWithTracker, syncAndWait } from "../support/trackers";

/**
 * The comment import's cost is D1 round trips per page. A page's reads (existing comments, issues by
 * number, unconfirmed creates, waiting rows) go in one batch, each a single `json_each` statement
 * whatever the page size (not chunks of 90 ids); its writes, the waiting rows and the seen mark go
 * in one batch; and the waiting-comment delete is only sent for comments that were waiting.
 */
function watchStatements(): { queries: string[]; stop: () => void } {
  const proto = Object.getPrototypeOf(env.DB) as { prepare: (q: string) => D1PreparedStatement };
  const prepare = proto.prepare;
  const queries: string[] = [];
  const spy = vi.spyOn(proto, "prepare").mockImplementation(function (this: unknown, query: string) {
    queries.push(query);
    return prepare.call(this, query);
  });
  return { queries, stop: () => spy.mockRestore() };
}

describe("comment import: statements per page", () => {
  it("looks a page up with one statement per kind and deletes waiting rows only when some were waiting", async () => {
    const { fake, project } = await projectWithTracker("github");
    // 150 comments over 150 issues: the first page holds 100 distinct ids and issue numbers.
    const issues = Array.from({ length: 150 }, () => fake.seedIssue());
    for (const issue of issues) fake.addComment(issue.number, { body: `on ${issue.number}` });

    const watch = watchStatements();
    const run = await syncAndWait(project.id, "full");
    watch.stop();
    expect(run.status).toBe("succeeded");
    const stored = await env.DB.prepare("SELECT COUNT(*) AS n FROM comments WHERE project_id = ?").bind(project.id).first<{ n: number }>();
    expect(stored!.n).toBe(150);

    const lookups = watch.queries.filter((q) => /^select .* from "comments" where .*"external_id" in/is.test(q.trim()));
    // Two comment pages (100 + 51, the keyset re-reads its boundary comment): one lookup each.
    expect(lookups).toHaveLength(2);
    expect(lookups.every((q) => q.includes("json_each"))).toBe(true);
    const issueLookups = watch.queries.filter((q) => /from "issues" where .*"external_number" in/is.test(q));
    expect(issueLookups.length).toBeLessThanOrEqual(2);
    expect(issueLookups.every((q) => q.includes("json_each"))).toBe(true);
    // Nothing was waiting for its issue: no delete of waiting comments was sent.
    expect(watch.queries.filter((q) => /delete from "?pending_comments"?/i.test(q))).toHaveLength(0);
  });

  it("still applies and removes a comment that waited for its issue", async () => {
    const { fake, project } = await projectWithTracker("github");
    const issue = fake.seedIssue();
    const comment = fake.addComment(issue.number, { body: "early" });
    await env.DB.prepare("INSERT INTO pending_comments (project_id, external_id, issue_number, comment) VALUES (?, ?, ?, ?)")
      .bind(project.id, String(comment.id), issue.number, JSON.stringify({ externalId: String(comment.id), issueNumber: issue.number, body: "early", author: "a", createdAt: "2020-01-01T00:00:00Z", updatedAt: "2020-01-01T00:00:00Z", url: "", internal: false }))
      .run();
    const run = await syncAndWait(project.id, "full");
    expect(run.status).toBe("succeeded");
    const pending = await env.DB.prepare("SELECT COUNT(*) AS n FROM pending_comments WHERE project_id = ?").bind(project.id).first<{ n: number }>();
    expect(pending!.n).toBe(0);
    const stored = await env.DB.prepare("SELECT body FROM comments WHERE project_id = ?").bind(project.id).all<{ body: string }>();
    expect(stored.results.map((r) => r.body)).toEqual(["early"]);
  });
});
