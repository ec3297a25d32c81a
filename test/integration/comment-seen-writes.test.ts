import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { projectWithTracker, syncAndWait } from "../support/trackers";

/**
 * A full run marks every listed comment as seen (the deletion check after the listing relies on it).
 * The apply already stamps the run on each row it inserts or updates; the page's mark afterwards is a
 * safety net (a version-guarded update lost to a concurrent write). Rewriting rows that already carry
 * the run costs a row write per comment (D1 bills rows written): the bench's 50,000-comment import
 * wrote each comment row twice. Rows written are D1's own `meta.rows_written`, whether the mark runs
 * alone or inside the page's write batch.
 */
function watchSeenWrites(): { rowsWritten: () => number; calls: () => number; stop: () => void } {
  const proto = Object.getPrototypeOf(env.DB) as { prepare: (q: string) => D1PreparedStatement };
  const prepare = proto.prepare;
  let rows = 0;
  let calls = 0;
  const marks = new WeakSet<D1PreparedStatement>();
  const spy = vi.spyOn(proto, "prepare").mockImplementation(function (this: unknown, query: string) {
    const statement = prepare.call(this, query);
    if (!/^update "?comments"? set "?last_seen_run_id"?/i.test(query.trim())) return statement;
    const run = statement.run.bind(statement);
    const bind = statement.bind.bind(statement);
    const wrap = (s: D1PreparedStatement): D1PreparedStatement => {
      marks.add(s);
      const r = s.run.bind(s);
      s.run = (async () => {
        calls++;
        const result = await r();
        rows += result.meta.rows_written;
        return result;
      }) as D1PreparedStatement["run"];
      return s;
    };
    statement.bind = ((...values: unknown[]) => wrap(bind(...values))) as D1PreparedStatement["bind"];
    statement.run = (async () => {
      calls++;
      const result = await run();
      rows += result.meta.rows_written;
      return result;
    }) as D1PreparedStatement["run"];
    return statement;
  });
  // The mark travels in the page's write batch: count it there from its own result.
  const dbProto = Object.getPrototypeOf(env.DB) as { batch: (s: D1PreparedStatement[]) => Promise<D1Result[]> };
  const batch = dbProto.batch;
  const batchSpy = vi.spyOn(dbProto, "batch").mockImplementation(async function (this: unknown, statements: D1PreparedStatement[]) {
    const results = await batch.call(this, statements);
    statements.forEach((s, i) => {
      if (!marks.has(s)) return;
      calls++;
      rows += results[i]!.meta.rows_written;
    });
    return results;
  });
  return {
    rowsWritten: () => rows,
    calls: () => calls,
    stop: () => {
      spy.mockRestore();
      batchSpy.mockRestore();
    },
  };
}

describe("full run: marking listed comments as seen", () => {
  it("does not rewrite comments the run itself just inserted, and still marks the ones it did not", async () => {
    const { fake, project } = await projectWithTracker("github");
    const issue = fake.seedIssue();
    for (let i = 0; i < 150; i++) fake.addComment(issue.number, { body: `comment ${i}` });

    const first = watchSeenWrites();
    const run1 = await syncAndWait(project.id, "full");
    expect(run1.status).toBe("succeeded");
    first.stop();
    expect(first.calls()).toBeGreaterThan(0);
    expect(first.rowsWritten()).toBe(0);

    // A second full run finds the 150 stored by the first: the 149 still listed are marked seen by
    // this run, and the one deleted on the tracker meanwhile (so not listed) is found deleted.
    const gone = fake.commentsOf(issue.number)[0]!;
    fake.store.deleteComment(gone.id);
    const second = watchSeenWrites();
    const run2 = await syncAndWait(project.id, "full");
    expect(run2.status).toBe("succeeded");
    second.stop();
    // The apply itself stamped the run on every listed row, so the safety-net mark writes nothing.
    expect(second.rowsWritten()).toBe(0);
    const stored = await env.DB.prepare("SELECT external_id, deleted_at, last_seen_run_id FROM comments WHERE project_id = ?").bind(project.id).all<{ external_id: string; deleted_at: string | null; last_seen_run_id: string | null }>();
    expect(stored.results).toHaveLength(150);
    expect(stored.results.filter((c) => c.last_seen_run_id === run2.id)).toHaveLength(149);
    expect(stored.results.filter((c) => c.deleted_at !== null).map((c) => c.external_id)).toEqual([String(gone.id)]);
  });
});
