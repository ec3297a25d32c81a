/**
 * The canonical form of an issue's synced fields, and the base-snapshot hash built from it.
 * Both sides (D1 and the tracker) are compared only in this form, so label order, duplicate
 * assignees or an empty milestone string never look like an edit.
 */

import type { IssueRow } from "../db/schema";
import type { IssueFields } from "../providers/types";

/** The six fields that are synced, in the fixed order used for hashing and reporting. */
export const SYNCED_FIELDS = [
  "title",
  "body",
  "state",
  "labels",
  "assignees",
  "milestone",
] as const satisfies readonly (keyof IssueFields)[];

export type SyncedField = (typeof SYNCED_FIELDS)[number];

/** Sorted by code unit (not locale) so the result is the same in every runtime. */
function sortedUnique(values: readonly string[] | null | undefined): string[] {
  return [...new Set(values ?? [])].sort();
}

/**
 * A fresh object with exactly the six synced fields, normalized. Callers may pass loose data
 * (a D1 row or tracker JSON with a null body or an empty milestone), hence the defensive defaults.
 */
export function normalizeFields(f: IssueFields): IssueFields {
  return {
    title: f.title,
    body: f.body ?? "",
    state: f.state,
    labels: sortedUnique(f.labels),
    assignees: sortedUnique(f.assignees),
    // Trackers answer both "" and null for "no milestone"; they mean the same thing.
    milestone: f.milestone === "" || f.milestone === undefined ? null : f.milestone,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** Field equality on already-normalized values. */
function fieldEqual(field: SyncedField, a: IssueFields, b: IssueFields): boolean {
  switch (field) {
    case "labels":
    case "assignees":
      return sameList(a[field], b[field]);
    default:
      return a[field] === b[field];
  }
}

/** The fields whose normalized values differ, in `SYNCED_FIELDS` order. */
export function changedFields(from: IssueFields, to: IssueFields): SyncedField[] {
  const a = normalizeFields(from);
  const b = normalizeFields(to);
  return SYNCED_FIELDS.filter((field) => !fieldEqual(field, a, b));
}

/** True when both sides hold the same normalized fields. */
export function fieldsEqual(a: IssueFields, b: IssueFields): boolean {
  return changedFields(a, b).length === 0;
}

/** The named fields of `f`; lists are copied so a patch never aliases the source object. */
export function pickFields(f: IssueFields, names: readonly (keyof IssueFields)[]): Partial<IssueFields> {
  const out: Partial<IssueFields> = {};
  for (const name of names) {
    switch (name) {
      case "labels":
      case "assignees":
        out[name] = [...f[name]];
        break;
      case "title":
      case "body":
        out[name] = f[name];
        break;
      case "state":
        out.state = f.state;
        break;
      case "milestone":
        out.milestone = f.milestone;
        break;
    }
  }
  return out;
}

/**
 * Hex SHA-256 of the canonical JSON of the normalized fields. The key order is fixed by the
 * literal below; changing it (or the normalization) changes every stored base hash, so each
 * issue would look changed once on the next sync.
 */
export async function snapshotHash(f: IssueFields): Promise<string> {
  const n = normalizeFields(f);
  const canonical = JSON.stringify({
    title: n.title,
    body: n.body,
    state: n.state,
    labels: n.labels,
    assignees: n.assignees,
    milestone: n.milestone,
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The base snapshot of a row: the fields both sides last agreed on (null before the first agreement). */
export function baseOfRow(row: IssueRow): IssueFields | null {
  return row.base ? normalizeFields(JSON.parse(row.base) as IssueFields) : null;
}
