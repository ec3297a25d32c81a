/**
 * Per-field direction (`fieldDirections`): which way each synced field may travel. Pure. A field
 * left unset follows the project's `syncDirection`; a field may narrow it, never widen it.
 *
 * Applied to a three-way decision after it is made: a field the tracker may not change locally
 * keeps its local value, a field local may not change on the tracker is left out of every push,
 * and only `both` fields can be true conflicts.
 */
import type { IssueFields } from "../providers/types";
import type { FieldConflict } from "./merge";
import type { DirectedField, FieldDirection, FieldDirections } from "./project-settings";
import { changedFields, normalizeFields, SYNCED_FIELDS, type SyncedField } from "./snapshot";

type SyncDirection = "inbound" | "outbound" | "bidirectional";

const PROJECT_FIELD_DIRECTION: Record<SyncDirection, FieldDirection> = { inbound: "inbound", outbound: "outbound", bidirectional: "both" };

/** What each direction lets through. */
const ALLOWS: Record<FieldDirection, { inbound: boolean; outbound: boolean }> = {
  both: { inbound: true, outbound: true },
  inbound: { inbound: true, outbound: false },
  outbound: { inbound: false, outbound: true },
  none: { inbound: false, outbound: false },
};

export function fieldDirection(project: { syncDirection: SyncDirection }, directions: FieldDirections, field: DirectedField): FieldDirection {
  return directions[field] ?? PROJECT_FIELD_DIRECTION[project.syncDirection];
}

/** True when `wanted` lets through nothing the project's direction does not. */
export function narrows(project: SyncDirection, wanted: FieldDirection): boolean {
  const p = ALLOWS[PROJECT_FIELD_DIRECTION[project]];
  const w = ALLOWS[wanted];
  return (p.inbound || !w.inbound) && (p.outbound || !w.outbound);
}

export function inboundAllowed(project: { syncDirection: SyncDirection }, directions: FieldDirections, field: DirectedField): boolean {
  return ALLOWS[fieldDirection(project, directions, field)].inbound;
}

export function outboundAllowed(project: { syncDirection: SyncDirection }, directions: FieldDirections, field: DirectedField): boolean {
  return ALLOWS[fieldDirection(project, directions, field)].outbound;
}

/** The synced fields local changes may be sent for. */
export function outboundFields(project: { syncDirection: SyncDirection }, directions: FieldDirections): SyncedField[] {
  return SYNCED_FIELDS.filter((f) => outboundAllowed(project, directions, f));
}

const AS_PROJECT_DIRECTION: Record<Exclude<FieldDirection, "none">, SyncDirection> = { both: "bidirectional", inbound: "inbound", outbound: "outbound" };

/**
 * The project as the comment engine should see it: `fieldDirections.comments` stands in for the
 * project's direction (it may only narrow it); null when comments sync in no direction.
 */
export function commentProject<P extends { syncDirection: SyncDirection; fieldDirections?: string | null }>(project: P, directions: FieldDirections): P | null {
  const set = directions.comments;
  if (set === undefined) return project;
  if (set === "none") return null;
  return { ...project, syncDirection: AS_PROJECT_DIRECTION[set] };
}

export interface DirectedDecision {
  merged: IssueFields;
  conflicts: FieldConflict[];
  /** Fields where `merged` differs from the tracker and that may be sent: the push this decision needs. */
  pushFields: SyncedField[];
}

/**
 * Filters a decision (the project-level merge) by per-field direction: an `inbound` field takes the
 * tracker's value, `outbound` and `none` fields keep local; conflicts survive only on `both` fields.
 * With no field directions set this returns the decision unchanged.
 */
export function directDecision(
  project: { syncDirection: SyncDirection },
  directions: FieldDirections,
  local: IssueFields,
  tracker: IssueFields,
  merged: IssueFields,
  conflicts: readonly FieldConflict[],
): DirectedDecision {
  const out = { ...normalizeFields(merged) } as Record<SyncedField, unknown>;
  const l = normalizeFields(local) as unknown as Record<SyncedField, unknown>;
  const t = normalizeFields(tracker) as unknown as Record<SyncedField, unknown>;
  for (const field of SYNCED_FIELDS) {
    if (directions[field] === undefined) continue;
    const dir = fieldDirection(project, directions, field);
    if (dir === "inbound") out[field] = t[field];
    else if (dir === "outbound" || dir === "none") out[field] = l[field];
  }
  const result = normalizeFields(out as unknown as IssueFields);
  const sendable = new Set(outboundFields(project, directions));
  return {
    merged: result,
    // Unset fields keep what the project-level decision recorded (an outbound project's drift).
    conflicts: conflicts.filter((c) => {
      const set = directions[c.field as DirectedField];
      return set === undefined || set === "both";
    }),
    pushFields: changedFields(tracker, result).filter((f) => sendable.has(f)),
  };
}
