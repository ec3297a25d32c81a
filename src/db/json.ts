import { sql, type SQL } from "drizzle-orm";
import { ByteBudgetError, MAX_D1_VALUE_BYTES, MAX_JSON_PARAM_BYTES, utf8Bytes } from "./bytes";

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

/**
 * The items as JSON arrays, each at most MAX_JSON_PARAM_BYTES UTF-8 bytes (D1 limits a value to
 * 2,000,000 bytes, not characters); an item larger than that travels alone, and one over D1's
 * value limit is refused here rather than by production D1.
 */
export function chunkByJsonSize<T>(items: readonly T[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const item of items) {
    const json = JSON.stringify(item);
    const bytes = utf8Bytes(json);
    if (bytes + 2 > MAX_D1_VALUE_BYTES) throw new ByteBudgetError(`a row of ${bytes} bytes is over D1's ${MAX_D1_VALUE_BYTES}-byte limit`);
    if (current.length > 0 && size + bytes + 1 > MAX_JSON_PARAM_BYTES) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += bytes + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(",")}]`);
  return chunks;
}
