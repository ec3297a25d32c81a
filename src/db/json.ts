/** Labels and assignees are stored as JSON arrays in TEXT columns. */
export function parseStringArray(stored: string | null | undefined): string[] {
  if (!stored) return [];
  const value: unknown = JSON.parse(stored);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

export function stringifySet(values: readonly string[]): string {
  return JSON.stringify([...new Set(values)].sort());
}
