/**
 * What an imported issue costs in D1 rows written (D1 bills rows written, index entries included):
 * the issue row and its index entries, plus one activity summary per listing page of a first
 * import instead of an activity entry per issue.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { projectWithTracker, syncAndWait } from "../support/trackers";
import { watchRowsWritten } from "../support/rows-written";
import { deliverAndApply } from "./webhooks.support";

/** The `issues` row and the entries of its five indexes (pinned in query-plans.test.ts). */
const ROWS_PER_ISSUE_ROW = 6;

describe("rows written per imported issue", () => {
  it("a first import writes the issue rows and one activity entry per listing page", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seed(250);
    const counter = watchRowsWritten();
    const run = await syncAndWait(project.id, "full");
    counter.stop();
    expect(run.status).toBe("succeeded");
    const issues = await env.DB.prepare("select count(*) as n from issues where project_id = ?").bind(project.id).first<{ n: number }>();
    expect(issues!.n).toBe(250);

    expect(counter.table("issues")).toBe(250 * ROWS_PER_ISSUE_ROW);
    const summaries = await env.DB.prepare("select count(*) as n from activity where project_id = ? and kind = 'issue.imported'").bind(project.id).first<{ n: number }>();
    expect(summaries!.n).toBe(3);
    // 3 summary rows, each with its 3 index entries and the AUTOINCREMENT counter's row (sqlite_sequence).
    expect(counter.table("activity")).toBe(3 * 5);
    // Everything else (run bookkeeping, the project's cursor) is per step, not per issue.
    expect(counter.total() / 250).toBeLessThan(ROWS_PER_ISSUE_ROW + 0.5);
  });

  it("issues created by a later run still get one issue.created entry each", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seed(2);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    fake.seed(3);
    expect((await syncAndWait(project.id, "incremental")).status).toBe("succeeded");
    const { results } = await env.DB.prepare("select kind, issue_id from activity where project_id = ? and kind like 'issue.%' order by seq")
      .bind(project.id)
      .all<{ kind: string; issue_id: string | null }>();
    expect(results.map((r) => r.kind)).toEqual(["issue.imported", "issue.created", "issue.created", "issue.created"]);
    expect(results.slice(1).every((r) => r.issue_id !== null)).toBe(true);
  });

  it("a webhook delivery that changes an issue: what it writes, per table", async () => {
    const { fake, project } = await projectWithTracker("github");
    fake.seed(3);
    expect((await syncAndWait(project.id, "full")).status).toBe("succeeded");
    fake.edit(2, { title: "edited on the tracker" });
    const hook = await fake.webhook("edited", 2);
    const counter = watchRowsWritten();
    await deliverAndApply(project, hook);
    counter.stop();
    const { projects: _learnedRepositoryId, ...written } = counter.byTable();
    expect(written).toEqual({
      // insert: row, primary key, delivery-id and body-hash dedupe, two status indexes; then the status update (row + both status indexes)
      webhook_deliveries: 9,
      // the version-guarded update: the row and the index entries whose keys changed (updated_at)
      issues: 4,
      // the event log row and its 2 index entries
      events: 3,
      // the issue.updated entry, its 3 index entries and the AUTOINCREMENT counter
      activity: 5,
      // the hour's histogram row and its primary key (later deliveries in the same hour: 1)
      freshness: 2,
    });
  });
});
