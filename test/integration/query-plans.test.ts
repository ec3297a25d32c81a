import { env } from "cloudflare:workers";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { describe, expect, it, vi } from "vitest";
import { database, type Database } from "../../src/db/client";
import { countBySyncState, getIssue, getIssueByExternalId, listIssues, listUnseenLinked, loadByExternalIds, markSeen } from "../../src/db/issues";
import { updateRowsStatement } from "../../src/db/synced-rows";
import { readHealth } from "../../src/db/health";

/**
 * The page-update statement must find rows by primary key. Driven by the project index instead, it
 * scans every issue of the project for each page (seconds per page on a 100,000-issue project).
 */
describe("query plans", () => {
  it("the multi-row issue update of a sync page looks rows up by id, not by scanning the project", async () => {
    const query = new SQLiteSyncDialect().sqlToQuery(updateRowsStatement("p", "[]"));
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query.sql.replace(/RETURNING[\s\S]*$/, "")}`)
      .bind(...query.params)
      .all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail).join("\n");
    expect(details).toMatch(/SEARCH issues USING INDEX sqlite_autoindex_issues_1 \(id=\?\)/);
    expect(details).not.toMatch(/issues_project_/);
  });
});

/**
 * Each index on `issues` serves a query (docs/performance.md); every index entry is a row written per
 * imported issue, so the set is pinned, and each query's plan names the index it must use. The
 * statements are captured from the real db functions, then explained with the same parameters.
 */
async function plansOf(call: (db: Database) => Promise<unknown>): Promise<string[]> {
  const dbProto = Object.getPrototypeOf(env.DB) as { prepare: (q: string) => D1PreparedStatement };
  const stmtProto = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as { bind: (...v: unknown[]) => D1PreparedStatement };
  const realPrepare = dbProto.prepare;
  const realBind = stmtProto.bind;
  const seen: { sql: string; params: unknown[] }[] = [];
  const prepare = vi.spyOn(dbProto, "prepare").mockImplementation(function (this: D1Database, q: string) {
    seen.push({ sql: q, params: [] });
    return realPrepare.call(this, q);
  });
  const bind = vi.spyOn(stmtProto, "bind").mockImplementation(function (this: D1PreparedStatement, ...values: unknown[]) {
    if (seen.length > 0) seen[seen.length - 1]!.params = values;
    return realBind.apply(this, values);
  });
  try {
    await call(database(env.DB));
  } finally {
    prepare.mockRestore();
    bind.mockRestore();
  }
  const plans: string[] = [];
  for (const s of seen) {
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).bind(...s.params).all<{ detail: string }>();
    plans.push(plan.results.map((r) => r.detail).join("\n"));
  }
  return plans;
}

describe("issue indexes: each serves a query", () => {
  it("the issues table has exactly the indexes the queries below use", async () => {
    const list = await env.DB.prepare("SELECT name FROM pragma_index_list('issues') ORDER BY name").all<{ name: string }>();
    expect(list.results.map((r) => r.name)).toEqual([
      "issues_project_external_uq",
      "issues_project_id_idx",
      "issues_project_number_idx",
      "issues_project_unsynced_idx",
      "issues_project_updated_idx",
      "sqlite_autoindex_issues_1",
    ]);
  });

  it("API pages of a project walk (project, id) in order: no sort of the whole project", async () => {
    for (const afterId of [null, "01J"]) {
      const [plan] = await plansOf((db) => listIssues(db, "p", {}, { limit: 51, afterId }));
      expect(plan).toMatch(/SEARCH issues USING INDEX issues_project_id_idx \(project_id=\?/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("the API filters use their indexes: number, a sync state that is not 'synced', updatedSince", async () => {
    expect((await plansOf((db) => listIssues(db, "p", { externalNumber: 7 }, { limit: 51 })))[0]).toMatch(/USING INDEX issues_project_number_idx \(project_id=\? AND external_number=\?\)/);
    for (const afterId of [null, "01J"]) {
      expect((await plansOf((db) => listIssues(db, "p", { syncState: "conflict" }, { limit: 51, afterId })))[0]).toMatch(/USING INDEX issues_project_unsynced_idx \(project_id=\? AND sync_state=\?\)/);
    }
    expect((await plansOf((db) => listIssues(db, "p", { updatedSince: "2026-01-01T00:00:00Z" }, { limit: 51 })))[0]).toMatch(/USING INDEX issues_project_updated_idx \(project_id=\? AND updated_at>\?\)/);
  });

  it("sync-state counts read two covering indexes, no table row", async () => {
    const [plan] = await plansOf((db) => countBySyncState(db, "p"));
    expect(plan).toMatch(/COVERING INDEX issues_project_id_idx \(project_id=\?\)/);
    expect(plan).toMatch(/COVERING INDEX issues_project_unsynced_idx \(project_id=\?\)/);
  });

  it("a full run's probe of unseen issues walks (project, id) from its keyset", async () => {
    const [plan] = await plansOf((db) => listUnseenLinked(db, "p", "run", { afterId: "01J", limit: 10 }));
    expect(plan).toMatch(/SEARCH issues USING INDEX issues_project_id_idx \(project_id=\? AND id>\?\)/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });

  it("sync writes find rows by (project, external id) or by primary key", async () => {
    expect((await plansOf((db) => loadByExternalIds(db, "p", ["1", "2"])))[0]).toMatch(/issues_project_external_uq \(project_id=\? AND external_id=\?\)/);
    expect((await plansOf((db) => getIssueByExternalId(db, "p", "1")))[0]).toMatch(/issues_project_external_uq \(project_id=\? AND external_id=\?\)/);
    expect((await plansOf((db) => markSeen(db, "p", "run", ["1", "2"])))[0]).toMatch(/issues_project_external_uq \(project_id=\? AND external_id=\?\)/);
    expect((await plansOf((db) => getIssue(db, "p", "01J")))[0]).toMatch(/sqlite_autoindex_issues_1 \(id=\?\)/);
  });
});


/**
 * The dashboard's health statements (db/health.ts) read only what is unsettled, through indexes:
 * the overview must not scan every run, conflict or activity entry of every project.
 */
describe("dashboard health: aggregates over indexes", () => {
  it("every project's health: no full scan of runs, conflicts, deliveries, pushes or activity", async () => {
    const plans = await plansOf((db) => readHealth(db, null));
    const all = plans.join("\n---\n");
    expect(all).toMatch(/sync_runs_active_idx/);
    expect(all).toMatch(/conflicts_open_idx/);
    expect(all).toMatch(/activity_access_idx/);
    expect(all).toMatch(/webhook_deliveries_status_received_idx/);
    expect(all).toMatch(/outbox_status_updated_idx/);
    expect(all).toMatch(/comment_outbox_status_updated_idx/);
    // Each project's newest finished run walks (project, created_at) backwards.
    expect(all).toMatch(/sync_runs_project_created_idx \(project_id=\?\)/);
    // A scan is fine only through the partial indexes (their rows are the unsettled ones); the
    // credentials and App-repository tables hold one row per credential or App project.
    for (const table of ["sync_runs", "conflicts", "activity", "webhook_deliveries", "outbox", "comment_outbox"]) {
      expect(all).not.toMatch(new RegExp(`^SCAN ${table}(?! USING (COVERING )?INDEX (sync_runs_active_idx|conflicts_open_idx|activity_access_idx))`, "m"));
    }
  });
});
