/**
 * The freshness histogram (schema.ts `freshness`): each applied tracker change's lag, from the
 * tracker's `updated_at` to our write, counted per project, source and hour. Written inside the
 * batch of the change, guarded like activity entries: only rows the batch actually wrote count.
 */
import { and, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { Database } from "./client";
import { FRESHNESS_BINS_MS, freshness, issues, type FreshnessRow } from "./schema";

export type FreshnessSource = FreshnessRow["source"];

export interface FreshnessSample {
  /** The issue written and the version it has after the write (the guard). */
  issueId: string;
  version: number;
  lagMs: number;
}

const BIN_COUNT = FRESHNESS_BINS_MS.length + 1;
const binColumns = Array.from({ length: BIN_COUNT }, (_, i) => `b${i}`);

/** The bin a lag falls in: the first whose upper bound holds it, else the overflow bin. */
export function binOf(lagMs: number): number {
  const i = FRESHNESS_BINS_MS.findIndex((upper) => lagMs <= upper);
  return i < 0 ? FRESHNESS_BINS_MS.length : i;
}

/**
 * One upsert adding the samples whose issue is at its version after the batch (none: nothing
 * written). Goes last in the batch of the writes it measures.
 */
export function freshnessStatement(projectId: string, source: FreshnessSource, at: string, samples: readonly FreshnessSample[]): SQL {
  const rows = samples.map((s) => ({ id: s.issueId, v: s.version, lag: Math.max(0, Math.round(s.lagMs)), bin: binOf(Math.max(0, s.lagMs)) }));
  const sums = sql.raw(binColumns.map((c, i) => `coalesce(sum(j.bin = ${i}), 0) AS ${c}`).join(", "));
  const adds = sql.raw(binColumns.map((c) => `${c} = ${c} + excluded.${c}`).join(", "));
  return sql`
    INSERT INTO ${freshness} (project_id, source, hour, count, sum_ms, max_ms, ${sql.raw(binColumns.join(", "))})
    SELECT ${projectId}, ${source}, ${at.slice(0, 13)}, s.n, s.total, s.top, ${sql.raw(binColumns.map((c) => `s.${c}`).join(", "))}
    FROM (
      SELECT count(*) AS n, coalesce(sum(j.lag), 0) AS total, coalesce(max(j.lag), 0) AS top, ${sums}
      FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.v') AS v, json_extract(value, '$.lag') AS lag,
              json_extract(value, '$.bin') AS bin FROM json_each(${JSON.stringify(rows)})) AS j
      WHERE EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = j.id AND i.version = j.v)
    ) AS s
    WHERE s.n > 0
    ON CONFLICT (project_id, source, hour) DO UPDATE SET
      count = count + excluded.count, sum_ms = sum_ms + excluded.sum_ms, max_ms = max(max_ms, excluded.max_ms), ${adds}`;
}

export interface FreshnessSummary {
  /** Changes counted. */
  count: number;
  /** Upper bounds of the bins holding the median and the 95th percentile (ms); null when none. */
  p50Ms: number | null;
  p95Ms: number | null;
  maxMs: number | null;
}

/** Percentiles over the project's hours since `sinceIso`, per source. */
export async function freshnessSummary(db: Database, projectId: string, sinceIso: string): Promise<Record<FreshnessSource, FreshnessSummary>> {
  const rows = await db
    .select()
    .from(freshness)
    .where(and(eq(freshness.projectId, projectId), gte(freshness.hour, sinceIso.slice(0, 13))))
    .all();
  const result = {} as Record<FreshnessSource, FreshnessSummary>;
  for (const source of ["webhook", "poll", "full"] as const) {
    const mine = rows.filter((r) => r.source === source);
    const bins = binColumns.map((c) => mine.reduce((sum, r) => sum + Number((r as unknown as Record<string, number>)[c] ?? 0), 0));
    const count = bins.reduce((a, b) => a + b, 0);
    const maxMs = mine.length > 0 ? Math.max(...mine.map((r) => r.maxMs)) : null;
    result[source] = { count, p50Ms: percentile(bins, count, 0.5, maxMs), p95Ms: percentile(bins, count, 0.95, maxMs), maxMs };
  }
  return result;
}

/** The upper bound of the bin holding the p-quantile (the overflow bin, and any bin past the largest lag, report that lag). */
function percentile(bins: number[], count: number, p: number, maxMs: number | null): number | null {
  if (count === 0) return null;
  const rank = Math.ceil(p * count);
  let seen = 0;
  for (let i = 0; i < bins.length; i++) {
    seen += bins[i]!;
    if (seen >= rank) return Math.min(FRESHNESS_BINS_MS[i] ?? Infinity, maxMs ?? Infinity);
  }
  return maxMs;
}

/** Deletes hours before `beforeIso`, at most `limit` rows; returns how many. */
export async function deleteOldFreshness(db: Database, beforeIso: string, limit: number): Promise<number> {
  const result = await db.run(sql`
    DELETE FROM ${freshness} WHERE rowid IN (SELECT rowid FROM ${freshness} WHERE ${lt(freshness.hour, beforeIso.slice(0, 13))} LIMIT ${limit})`);
  return result.meta.changes ?? 0;
}
