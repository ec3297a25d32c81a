/**
 * People, values and scope: the per-project settings as the engine reads them. Stored as JSON on
 * the project row (validated on write by the HTTP layer); a missing column means the default, which
 * is exactly the behaviour before these settings existed.
 */
import type { ProjectRow } from "../db/schema";

export type FieldDirection = "both" | "inbound" | "outbound" | "none";
/** The fields a direction can be set for: the six synced issue fields and comments. */
export const DIRECTED_FIELDS = ["title", "body", "state", "labels", "assignees", "milestone", "comments"] as const;
export type DirectedField = (typeof DIRECTED_FIELDS)[number];
export type FieldDirections = Partial<Record<DirectedField, FieldDirection>>;

export interface ValueMapEntry {
  local: string;
  /** Tracker values that mean `local`; the first is the one written to the tracker. */
  tracker: string[];
}
export interface FieldMaps {
  labels: ValueMapEntry[];
  milestone: ValueMapEntry[];
}

export type LabelCreation = "always" | "mapped_only" | "never";
export interface LabelPolicy {
  createMissing: LabelCreation;
}
export interface MilestonePolicy {
  createMissing: boolean;
}

export interface Scope {
  labelsAny?: string[];
  labelsNone?: string[];
  state?: "open" | "all";
  createdSince?: string;
  /**
   * Leaving scope never closes or deletes anything. `freeze`: the link is kept and nothing is synced
   * until the issue is back; `unlink`: the link is dropped, both issues stay as they are.
   */
  onLeave: "freeze" | "unlink";
}

export interface ProjectSettings {
  fieldMaps: FieldMaps;
  labelPolicy: LabelPolicy;
  milestonePolicy: MilestonePolicy;
  scope: Scope | null;
  fieldDirections: FieldDirections;
}

export const DEFAULT_SETTINGS: ProjectSettings = {
  fieldMaps: { labels: [], milestone: [] },
  labelPolicy: { createMissing: "always" },
  milestonePolicy: { createMissing: false },
  scope: null,
  fieldDirections: {},
};

type SettingsColumns = Pick<ProjectRow, "fieldMaps" | "labelPolicy" | "milestonePolicy" | "scope" | "fieldDirections">;

function parsed<T>(text: string | null | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function settingsOf(project: Partial<SettingsColumns>): ProjectSettings {
  const maps = parsed<Partial<FieldMaps>>(project.fieldMaps, {});
  return {
    fieldMaps: { labels: maps.labels ?? [], milestone: maps.milestone ?? [] },
    labelPolicy: parsed(project.labelPolicy, DEFAULT_SETTINGS.labelPolicy),
    milestonePolicy: parsed(project.milestonePolicy, DEFAULT_SETTINGS.milestonePolicy),
    scope: parsed<Scope | null>(project.scope, null),
    fieldDirections: parsed(project.fieldDirections, {}),
  };
}

/** The columns for a settings patch (only the given settings). */
export function settingsColumns(patch: Partial<ProjectSettings>): Partial<SettingsColumns> {
  const out: Partial<SettingsColumns> = {};
  if (patch.fieldMaps !== undefined) out.fieldMaps = JSON.stringify(patch.fieldMaps);
  if (patch.labelPolicy !== undefined) out.labelPolicy = JSON.stringify(patch.labelPolicy);
  if (patch.milestonePolicy !== undefined) out.milestonePolicy = JSON.stringify(patch.milestonePolicy);
  if (patch.scope !== undefined) out.scope = patch.scope === null ? null : JSON.stringify(patch.scope);
  if (patch.fieldDirections !== undefined) out.fieldDirections = JSON.stringify(patch.fieldDirections);
  return out;
}
