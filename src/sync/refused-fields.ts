/**
 * Fields a tracker accepted a write for and did not store. GitHub drops `labels`, `assignees` and
 * `milestone` from a write by a user without push access and still answers 200/201; GitLab Free keeps
 * one assignee. The answer is compared with what was sent: a refused field keeps its local value, is
 * named on the issue (`syncWarnings`) and counted in status, and the push settles (it is not re-sent
 * until something else changes the issue, so nothing loops).
 */
import type { IssueFields } from "../providers/types";
import { changedFields, normalizeFields, type SyncedField } from "./snapshot";

export interface SyncWarning {
  field: SyncedField;
  reason: string;
  /** What was sent (and is kept locally). */
  sent: unknown;
  /** What the tracker stored instead. */
  tracker: unknown;
}

/** The fields trackers are documented to drop silently; others are taken from the answer as stored. */
const DROPPABLE: readonly SyncedField[] = ["labels", "assignees", "milestone"];

const REASON =
  "the tracker accepted the write but did not store this field (e.g. a GitHub token without push access, " +
  "or GitLab Free's single assignee); the local value is kept";

/** Sent fields whose answer differs from what was sent. */
export function refusedFields(sent: IssueFields, answer: IssueFields, fields: readonly SyncedField[]): SyncWarning[] {
  const a = normalizeFields(sent);
  const b = normalizeFields(answer);
  const differing = new Set(changedFields(a, b));
  return DROPPABLE.filter((f) => fields.includes(f) && differing.has(f)).map((field) => ({ field, reason: REASON, sent: a[field], tracker: b[field] }));
}

/** `merged` with the refused fields set back to their local values. */
export function keepRefused(merged: IssueFields, local: IssueFields, warnings: readonly SyncWarning[]): IssueFields {
  const kept = { ...merged } as Record<SyncedField, unknown>;
  for (const w of warnings) kept[w.field] = (local as Record<SyncedField, unknown>)[w.field];
  return normalizeFields(kept as unknown as IssueFields);
}

/** True when `local` differs from the tracker only in refused fields. */
export function onlyRefusedDiffer(local: IssueFields, tracker: IssueFields, warnings: readonly SyncWarning[]): boolean {
  const refused = new Set(warnings.map((w) => w.field));
  return changedFields(normalizeFields(local), normalizeFields(tracker)).every((f) => refused.has(f));
}

export function warningsJson(warnings: readonly SyncWarning[]): string | null {
  return warnings.length > 0 ? JSON.stringify(warnings) : null;
}
