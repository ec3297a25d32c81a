import { sql, type SQL } from "drizzle-orm";

/** Labels and assignees are stored as JSON arrays in TEXT columns. */
export function parseStringArray(stored: string | null | undefined): string[] {
  if (!stored) return [];
  const value: unknown = JSON.parse(stored);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

export function stringifySet(values: readonly string[]): string {
  return JSON.stringify([...new Set(values)].sort());
}

/** `json_extract` of a field of the current `json_each` row (aliased `j`), for multi-row statements. */
export function jsonField(path: string): SQL {
  return sql.raw(`json_extract(j.value, '$.${path}')`);
}

/** JSON parameters stay well under D1's per-value limit; larger sets are split across statements. */
const MAX_JSON_PARAM = 900_000;

/** The items as JSON arrays, each small enough to bind as one parameter. */
export function chunkByJsonSize<T>(items: readonly T[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const item of items) {
    const json = JSON.stringify(item);
    if (current.length > 0 && size + json.length + 1 > MAX_JSON_PARAM) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(",")}]`);
  return chunks;
}
