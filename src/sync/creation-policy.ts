/**
 * Creation policies for values the tracker may lack (`labelPolicy`, `milestonePolicy`), applied to
 * one outbound write. A label the policy may not create and a milestone it may not create are left
 * out of the write and named as `syncWarnings` (the local value is kept); the rest of the push goes
 * through. `labelPolicy.createMissing: "always"` is the trackers' own behaviour (GitHub and GitLab
 * create unknown labels on write; the Gitea adapter creates them).
 */
import { MissingMilestoneError, type CanonicalIssue, type IssueFields, type Tracker } from "../providers/types";
import type { ProjectSettings } from "./project-settings";
import type { SyncWarning } from "./refused-fields";
import { mapOutbound, type ValueMaps } from "./value-maps";

/** Local labels the policy keeps off the tracker (they are not there and may not be created). */
export async function labelsNotCreatable(tracker: Tracker, settings: ProjectSettings, maps: ValueMaps, localLabels: readonly string[]): Promise<string[]> {
  const policy = settings.labelPolicy.createMissing;
  if (policy === "always" || localLabels.length === 0) return [];
  const existing = await tracker.listLabelNames();
  return localLabels.filter((l) => !existing.has(maps.outboundLabel(l)) && (policy === "never" || !maps.isMappedLabel(l)));
}

/**
 * Sends `fields` (local values) through `write`, mapped to tracker values, with the creation
 * policies applied. Returns the tracker's answer and the warnings for what was left out.
 */
export async function writeWithPolicies<T extends Partial<IssueFields>>(
  tracker: Tracker,
  settings: ProjectSettings,
  maps: ValueMaps,
  fields: T,
  write: (out: T) => Promise<CanonicalIssue>,
): Promise<{ answer: CanonicalIssue; warnings: SyncWarning[] }> {
  const warnings: SyncWarning[] = [];
  let local = { ...fields };
  if (fields.labels !== undefined) {
    const blocked = await labelsNotCreatable(tracker, settings, maps, fields.labels);
    if (blocked.length > 0) {
      const kept = fields.labels.filter((l) => !blocked.includes(l));
      local = { ...local, labels: kept };
      warnings.push({
        field: "labels",
        reason: `labelPolicy.createMissing is "${settings.labelPolicy.createMissing}": ${blocked.map((l) => JSON.stringify(maps.outboundLabel(l))).join(", ")} not created on the tracker; kept locally`,
        sent: [...fields.labels],
        tracker: kept,
      });
    }
  }
  try {
    return { answer: await write(mapOutbound(maps, local)), warnings };
  } catch (err) {
    if (!(err instanceof MissingMilestoneError) || local.milestone === undefined || local.milestone === null) throw err;
    if (settings.milestonePolicy.createMissing) {
      await tracker.createMilestone(err.title);
    } else {
      warnings.push({
        field: "milestone",
        reason: `milestone ${JSON.stringify(err.title)} does not exist on the tracker and milestonePolicy.createMissing is false; kept locally`,
        sent: local.milestone,
        tracker: null,
      });
      const { milestone: _left, ...rest } = local;
      local = ("state" in fields && "title" in fields && "body" in fields ? { ...rest, milestone: null } : rest) as T;
    }
    return { answer: await write(mapOutbound(maps, local)), warnings };
  }
}

/** Policy warnings first; a refused-field warning for the same field is the same fact, so dropped. */
export function mergeWarnings(policy: readonly SyncWarning[], refused: readonly SyncWarning[]): SyncWarning[] {
  const fields = new Set(policy.map((w) => w.field));
  return [...policy, ...refused.filter((w) => !fields.has(w.field))];
}
