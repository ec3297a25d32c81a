/**
 * Field-by-field three-way merge for bidirectional projects (ADR-011). Pure: the engine decides
 * the direction (inbound: tracker wins entirely; outbound: local wins entirely) and only calls
 * this for `bidirectional`, then writes `merged` locally and pushes `trackerPatch`.
 */

import type { IssueFields } from "../providers/types";
import { changedFields, normalizeFields, pickFields } from "./snapshot";

export type Master = "tracker" | "local";

export interface FieldConflict {
  field: keyof IssueFields;
  /** The base value, or null when there was no base snapshot yet. */
  base: unknown;
  local: unknown;
  tracker: unknown;
  resolution: Master;
  value: unknown;
}

export interface MergeInput {
  /** The last state both sides agreed on; null when they never have (adoption). */
  base: IssueFields | null;
  local: IssueFields;
  tracker: IssueFields;
  master: Master;
}

export interface MergeResult {
  /** Normalized. */
  merged: IssueFields;
  /** True conflicts only, each settled by `master`. */
  conflicts: FieldConflict[];
  /** `merged` differs from local: the local row must be written. */
  localChanged: boolean;
  /** `merged` differs from the tracker: a push is needed. */
  trackerChanged: boolean;
  /** Exactly the fields where `merged` differs from the tracker. */
  trackerPatch: Partial<IssueFields>;
}

type ScalarField = "title" | "body" | "state" | "milestone";

const SCALAR_FIELDS: readonly ScalarField[] = ["title", "body", "state", "milestone"];

/**
 * Sets never conflict: an element survives unless a side removed it, and is present if a side
 * added it. Adds and removes are measured against the base, so a side cannot re-add an element
 * the base already has; a removal on one side therefore always applies.
 *
 * Without a base nothing can be told apart as "removed" (it may simply never have been added on
 * that side), so we take the union: adopting an issue never drops a label either side holds.
 */
function mergeSet(base: readonly string[] | null, local: readonly string[], tracker: readonly string[]): string[] {
  if (base === null) return [...new Set([...local, ...tracker])].sort();
  const inLocal = new Set(local);
  const inTracker = new Set(tracker);
  const inBase = new Set(base);
  const kept = base.filter((value) => inLocal.has(value) && inTracker.has(value));
  const added = [...local, ...tracker].filter((value) => !inBase.has(value));
  return [...new Set([...kept, ...added])].sort();
}

export function mergeThreeWay(input: MergeInput): MergeResult {
  const base = input.base === null ? null : normalizeFields(input.base);
  const local = normalizeFields(input.local);
  const tracker = normalizeFields(input.tracker);
  const conflicts: FieldConflict[] = [];

  const merged: IssueFields = {
    ...local,
    labels: mergeSet(base?.labels ?? null, local.labels, tracker.labels),
    assignees: mergeSet(base?.assignees ?? null, local.assignees, tracker.assignees),
  };

  const mergeScalar = <K extends ScalarField>(field: K): void => {
    const l = local[field];
    const t = tracker[field];
    if (l === t) {
      merged[field] = l;
    } else if (base !== null && l === base[field]) {
      merged[field] = t;
    } else if (base !== null && t === base[field]) {
      merged[field] = l;
    } else {
      // Both sides moved away from the base (or there is no base) to different values.
      const value = input.master === "tracker" ? t : l;
      merged[field] = value;
      conflicts.push({
        field,
        base: base === null ? null : base[field],
        local: l,
        tracker: t,
        resolution: input.master,
        value,
      });
    }
  };
  for (const field of SCALAR_FIELDS) mergeScalar(field);

  const trackerDiff = changedFields(tracker, merged);
  return {
    merged,
    conflicts,
    localChanged: changedFields(local, merged).length > 0,
    trackerChanged: trackerDiff.length > 0,
    trackerPatch: pickFields(merged, trackerDiff),
  };
}
