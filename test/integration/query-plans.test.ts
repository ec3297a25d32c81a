import { env } from "cloudflare:workers";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { updateRowsStatement } from "../../src/db/synced-rows";

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
