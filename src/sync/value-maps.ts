/**
 * Value maps (`fieldMaps`): label and milestone names that differ between Syndarix and the tracker.
 * Pure. Many-to-one: inbound, any listed tracker value becomes its local value; outbound, a local
 * value is written as the first tracker value listed. Values not in a map pass through unchanged.
 *
 * Everything past the tracker adapter (merge, base snapshot, hash, local rows) is in local values,
 * so a snapshot is mapped inbound as soon as it is read and a write is mapped outbound just before
 * it is sent (its answer mapped back inbound).
 */
import type { CanonicalIssue, IssueFields } from "../providers/types";
import type { FieldMaps } from "./project-settings";

export interface ValueMaps {
  inboundLabel(trackerValue: string): string;
  outboundLabel(localValue: string): string;
  inboundMilestone(trackerValue: string | null): string | null;
  outboundMilestone(localValue: string | null): string | null;
  /** Local label names that have a map entry (for `labelPolicy.createMissing: "mapped_only"`). */
  isMappedLabel(localValue: string): boolean;
  readonly empty: boolean;
}

export function valueMaps(maps: FieldMaps): ValueMaps {
  const labelIn = new Map<string, string>();
  const labelOut = new Map<string, string>();
  for (const e of maps.labels) {
    for (const t of e.tracker) if (!labelIn.has(t)) labelIn.set(t, e.local);
    if (e.tracker[0] !== undefined && !labelOut.has(e.local)) labelOut.set(e.local, e.tracker[0]);
  }
  const msIn = new Map<string, string>();
  const msOut = new Map<string, string>();
  for (const e of maps.milestone) {
    for (const t of e.tracker) if (!msIn.has(t)) msIn.set(t, e.local);
    if (e.tracker[0] !== undefined && !msOut.has(e.local)) msOut.set(e.local, e.tracker[0]);
  }
  return {
    inboundLabel: (v) => labelIn.get(v) ?? v,
    outboundLabel: (v) => labelOut.get(v) ?? v,
    inboundMilestone: (v) => (v === null ? null : (msIn.get(v) ?? v)),
    outboundMilestone: (v) => (v === null ? null : (msOut.get(v) ?? v)),
    isMappedLabel: (v) => labelOut.has(v),
    empty: maps.labels.length === 0 && maps.milestone.length === 0,
  };
}

function uniqueSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** A tracker snapshot in local values. */
export function mapInbound<T extends Partial<IssueFields>>(maps: ValueMaps, fields: T): T {
  if (maps.empty) return fields;
  const out = { ...fields };
  if (fields.labels !== undefined) out.labels = uniqueSorted(fields.labels.map(maps.inboundLabel));
  if (fields.milestone !== undefined) out.milestone = maps.inboundMilestone(fields.milestone);
  return out;
}

/** A local write (whole fields or a patch) in tracker values. */
export function mapOutbound<T extends Partial<IssueFields>>(maps: ValueMaps, fields: T): T {
  if (maps.empty) return fields;
  const out = { ...fields };
  if (fields.labels !== undefined) out.labels = uniqueSorted(fields.labels.map(maps.outboundLabel));
  if (fields.milestone !== undefined) out.milestone = maps.outboundMilestone(fields.milestone);
  return out;
}

export function mapSnapshot(maps: ValueMaps, snapshot: CanonicalIssue): CanonicalIssue {
  return mapInbound(maps, snapshot);
}
