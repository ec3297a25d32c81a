/**
 * Counts D1's own `meta.rows_written` (what D1 bills: table rows and index entries) per written
 * table, for statements run alone or inside a batch, from the Worker and its Durable Objects alike
 * (they share the binding's prototypes in the test runtime).
 */
import { env } from "cloudflare:workers";
import { vi } from "vitest";

export interface RowsWritten {
  /** Rows written by statements whose target table is `table` (INSERT INTO / UPDATE / DELETE FROM). */
  table(table: string): number;
  /** Rows written per target table. */
  byTable(): Record<string, number>;
  total(): number;
  stop(): void;
}

function targetOf(sql: string): string {
  const m = /^\s*(?:insert\s+(?:or\s+\w+\s+)?into|update|delete\s+from)\s+"?([a-z_]+)"?/i.exec(sql);
  return m ? m[1]!.toLowerCase() : "(read)";
}

export function watchRowsWritten(): RowsWritten {
  const counts = new Map<string, number>();
  const add = (sql: string | undefined, meta: { rows_written?: number } | undefined) => {
    const key = sql ? targetOf(sql) : "(unknown)";
    counts.set(key, (counts.get(key) ?? 0) + (meta?.rows_written ?? 0));
  };
  const sqlOf = new WeakMap<object, string>();
  const dbProto = Object.getPrototypeOf(env.DB) as { prepare: (q: string) => D1PreparedStatement; batch: (s: D1PreparedStatement[]) => Promise<D1Result[]> };
  const stmtProto = Object.getPrototypeOf(env.DB.prepare("select 1")) as Record<string, (...args: any[]) => any>;
  const prepare = dbProto.prepare;
  const batch = dbProto.batch;
  const bind = stmtProto.bind!;
  const spies = [
    vi.spyOn(dbProto, "prepare").mockImplementation(function (this: unknown, query: string) {
      const s = prepare.call(this, query);
      sqlOf.set(s, query);
      return s;
    }),
    vi.spyOn(stmtProto, "bind").mockImplementation(function (this: object, ...values: unknown[]) {
      const s = bind.apply(this, values);
      const q = sqlOf.get(this);
      if (q !== undefined) sqlOf.set(s, q);
      return s;
    }),
    vi.spyOn(dbProto, "batch").mockImplementation(async function (this: unknown, statements: D1PreparedStatement[]) {
      const results = await batch.call(this, statements);
      statements.forEach((s, i) => add(sqlOf.get(s), results[i]?.meta));
      return results;
    }),
  ];
  for (const method of ["run", "all"] as const) {
    const original = stmtProto[method]!;
    spies.push(
      vi.spyOn(stmtProto, method).mockImplementation(async function (this: object, ...args: unknown[]) {
        const result = await original.apply(this, args);
        add(sqlOf.get(this), result?.meta);
        return result;
      }),
    );
  }
  return {
    table: (table) => counts.get(table) ?? 0,
    byTable: () => Object.fromEntries([...counts].filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b))),
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    stop: () => spies.forEach((s) => s.mockRestore()),
  };
}
