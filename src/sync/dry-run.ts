/**
 * Dry run: what a full run would do under the given settings, computed by the same decision code
 * (value maps, scope, field directions, `decideSnapshot`) with no local write and no tracker write.
 * The tracker is only read: its issue listing (at most MAX_PAGES pages) and, when a push would send
 * labels under a restrictive policy, its label list.
 */
import { fieldChanges, type FieldChanges } from "../db/activity";
import { listLinkedIssueRefs } from "../db/dry-run";
import { fieldsOfRow, loadByExternalIds } from "../db/issues";
import type { ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { nowIso } from "../ids";
import { loadSyncContext } from "./context";
import { decideSnapshot } from "./decide";
import { settingsOf } from "./project-settings";
import { inScope } from "./scope";
import { changedFields, normalizeFields, snapshotHash } from "./snapshot";
import { mapOutbound, mapSnapshot, valueMaps } from "./value-maps";

/** Listing pages read at most (100 issues a page on GitHub and GitLab): a bigger repository gives `complete: false`. */
export const MAX_PAGES = 20;
const MAX_SAMPLES = 50;

export interface DryRunSample {
  issueId: string | null;
  externalNumber: number | null;
  action: "create" | "update" | "leave_scope" | "orphan";
  /** Local fields that would change, before → after. */
  changes: FieldChanges | null;
  /** Fields that would be sent to the tracker. */
  push: string[];
}

export interface DryRunReport {
  wouldCreate: number;
  wouldUpdate: number;
  wouldLeaveScope: number;
  wouldCreateLabels: number;
  /** The tracker labels a push would create (the first 50). */
  labelsToCreate: string[];
  wouldOrphan: number;
  samples: DryRunSample[];
  /** False when the listing was cut at MAX_PAGES (counts then cover the pages read; wouldOrphan is 0). */
  complete: boolean;
  pagesRead: number;
}

/**
 * `current`: the project as stored; `candidate`: as it would be after the change (the same project
 * for `POST …/sync { dryRun: true }`). Issues that left scope are counted against `current`'s scope.
 */
export async function dryRun(env: Env, current: ProjectRow, candidate: ProjectRow): Promise<DryRunReport> {
  const ctx = await loadSyncContext(env, current.id);
  const now = nowIso();
  const before = settingsOf(current);
  const after = settingsOf(candidate);
  const oldMaps = valueMaps(before.fieldMaps);
  const maps = valueMaps(after.fieldMaps);
  const report: DryRunReport = { wouldCreate: 0, wouldUpdate: 0, wouldLeaveScope: 0, wouldCreateLabels: 0, labelsToCreate: [], wouldOrphan: 0, samples: [], complete: true, pagesRead: 0 };
  const sample = (s: DryRunSample) => {
    if (report.samples.length < MAX_SAMPLES) report.samples.push(s);
  };
  const seen = new Set<string>();
  const pushedLabels = new Map<string, string>(); // tracker name → the local name it comes from

  for await (const page of ctx.tracker.listIssues({})) {
    report.pagesRead++;
    const locals = await loadByExternalIds(ctx.db, current.id, page.issues.map((i) => i.externalId));
    for (const raw of page.issues) {
      // A moved issue is gone from here: left out of `seen`, so it counts as a would-be orphan.
      if (raw.movedTo) continue;
      seen.add(raw.externalId);
      const mapped = mapSnapshot(maps, raw);
      const local = locals.get(raw.externalId);
      const wanted = inScope(after.scope, raw, mapped.labels);
      if (!local) {
        if (wanted) {
          report.wouldCreate++;
          sample({ issueId: null, externalNumber: raw.number, action: "create", changes: fieldChanges(undefined, { ...normalizeFields(mapped) }), push: [] });
        }
        continue;
      }
      if (!wanted) {
        if (inScope(before.scope, raw, mapSnapshot(oldMaps, raw).labels) && local.syncState !== "orphaned") {
          report.wouldLeaveScope++;
          // Under onLeave "unlink" the link would go (nothing else changes on either side).
          const unlink = after.scope?.onLeave === "unlink" ? fieldChanges({ externalNumber: raw.number }, { externalNumber: null }) : null;
          sample({ issueId: local.id, externalNumber: raw.number, action: "leave_scope", changes: unlink, push: [] });
        }
        continue;
      }
      const decision = decideSnapshot(candidate, mapped, await snapshotHash(normalizeFields(mapped)), local, false, now, "listing", after.fieldDirections);
      if (decision.kind !== "update" || (decision.counted === "unchanged" && !decision.push)) continue;
      const merged = fieldsOfRow(decision.row as Parameters<typeof fieldsOfRow>[0]);
      const push = decision.push ? changedFields(normalizeFields(mapped), merged) : [];
      report.wouldUpdate++;
      sample({ issueId: local.id, externalNumber: raw.number, action: "update", changes: fieldChanges({ ...fieldsOfRow(local) }, { ...merged }), push });
      if (push.includes("labels")) {
        const trackerLabels = new Set(raw.labels);
        for (const l of merged.labels) {
          const name = mapOutbound(maps, { labels: [l] }).labels![0]!;
          if (!trackerLabels.has(name)) pushedLabels.set(name, l);
        }
      }
    }
    if (report.pagesRead >= MAX_PAGES && page.nextUrl) {
      report.complete = false;
      break;
    }
  }

  if (pushedLabels.size > 0) {
    const existing = await ctx.tracker.listLabelNames();
    const policy = after.labelPolicy.createMissing;
    const created = [...pushedLabels].filter(([name, l]) => !existing.has(name) && (policy === "always" || (policy === "mapped_only" && maps.isMappedLabel(l))));
    report.wouldCreateLabels = created.length;
    report.labelsToCreate = created.map(([name]) => name).sort().slice(0, MAX_SAMPLES);
  }
  if (report.complete) {
    for (const ref of await listLinkedIssueRefs(ctx.db, current.id)) {
      if (seen.has(ref.externalId)) continue;
      report.wouldOrphan++;
      sample({ issueId: ref.id, externalNumber: ref.externalNumber, action: "orphan", changes: null, push: [] });
    }
  }
  return report;
}
