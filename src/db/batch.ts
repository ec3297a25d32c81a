import { SQL } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import type { Database } from "./client";

/**
 * An atomic D1 batch of drizzle query builders and raw `sql` templates. drizzle's own `db.batch`
 * cannot carry raw `sql` with parameters on D1, and the multi-row `json_each` statements need them.
 * Results are D1's raw results (column names as in SQL).
 */
export type Statement = SQL | { toSQL(): { sql: string; params: unknown[] } };

const dialect = new SQLiteSyncDialect();

function prepare(d1: D1Database, statement: Statement): D1PreparedStatement {
  const query = statement instanceof SQL ? dialect.sqlToQuery(statement) : statement.toSQL();
  return d1.prepare(query.sql).bind(...query.params);
}

export async function runBatch(db: Database, statements: Statement[]): Promise<D1Result<Record<string, unknown>>[]> {
  if (statements.length === 0) return [];
  const d1 = db.$client;
  return d1.batch<Record<string, unknown>>(statements.map((s) => prepare(d1, s)));
}
