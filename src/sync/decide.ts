/**
 * The decision for one tracker snapshot against its local row (ADR-011), pure: no I/O, so every
 * rule is testable as a table. apply-snapshots.ts loads the rows, calls this and writes the result.
 *
 * - an inbound snapshot older than the stored external `updated_at` is ignored (no rollback);
 * - one equal to the base snapshot changes no field (echo suppression: our own pushes come back so);
 * - inbound projects take the tracker's fields; outbound projects put tracker drift back (recorded,
 *   pushed); bidirectional projects merge three-way against the base, conflicts settled by master;
 * - after a merge the base becomes the tracker's current fields, so a pending push sends exactly the
 *   fields where local differs from the tracker, and the next merge sees only newer tracker edits.
 */
import { fieldsOfRow } from "../db/issues";
import { stringifySet } from "../db/json";
import type { IssueRow } from "../db/schema";
import type { RowWrite } from "../db/synced-rows";
import { newId } from "../ids";
import type { CanonicalIssue, IssueFields } from "../providers/types";
import { directDecision } from "./field-directions";
import { mergeThreeWay, type FieldConflict } from "./merge";
import type { FieldDirections } from "./project-settings";
import { baseOfRow, changedFields, fieldsEqual, normalizeFields } from "./snapshot";

/** Where snapshots come from: a tracker listing or lookup, or an event (webhook) about one issue. */
export type SnapshotSource = "listing" | "event";

export type Decision =
  | { kind: "insert"; row: RowWrite }
  | { kind: "update"; row: RowWrite; counted: "updated" | "unchanged"; conflicts: FieldConflict[]; push: boolean }
  | { kind: "skip" }
  | { kind: "ambiguous" };

function laterOf(a: string, b: string): string {
  return a > b ? a : b;
}

/**
 * Decides what one snapshot does to its local row. Pure: `hash` is the snapshot's fields hash,
 * `adopt` marks a local issue whose tracker create may have succeeded without us hearing back.
 */
export function decideSnapshot(
  project: { syncDirection: "inbound" | "outbound" | "bidirectional"; master: "tracker" | "local" },
  snapshot: CanonicalIssue,
  hash: string,
  local: IssueRow | undefined,
  adopt: boolean,
  now: string,
  source: SnapshotSource = "listing",
  directions: FieldDirections = {},
): Decision {
  const tracker = normalizeFields(snapshot);
  const mapping = {
    externalId: snapshot.externalId,
    externalNumber: snapshot.number,
    externalUrl: snapshot.url,
    base: JSON.stringify(tracker),
    baseHash: hash,
    deletedAt: null,
    syncError: null,
  };
  if (!local) {
    return {
      kind: "insert",
      row: {
        id: newId(),
        version: 0,
        ...mapping,
        ...columnsOf(tracker),
        createdAt: snapshot.createdAt,
        updatedAt: snapshot.updatedAt,
        externalUpdatedAt: snapshot.updatedAt,
        syncState: "synced",
      },
    };
  }

  // Ordering: never let an older snapshot (a late webhook, an overlap re-read) roll the issue back.
  if (!adopt && local.externalUpdatedAt && snapshot.updatedAt < local.externalUpdatedAt) return { kind: "skip" };
  // Timestamps have whole seconds on some trackers: an event stamped in the same second as the copy
  // we hold but with other content may predate it (a webhook overtaken by our own push). Only a
  // fresh read can tell, so the event asks for a poll instead of being merged.
  if (source === "event" && !adopt && snapshot.updatedAt === local.externalUpdatedAt && hash !== local.baseHash) {
    return { kind: "ambiguous" };
  }
  // An event (webhook) no newer than the deletion we recorded is a late copy, not a resurrection;
  // a listing that still contains the issue is proof it is back (e.g. access restored).
  if (source === "event" && local.syncState === "orphaned" && local.externalUpdatedAt && snapshot.updatedAt <= local.externalUpdatedAt) {
    return { kind: "skip" };
  }

  const localFields = fieldsOfRow(local);
  const externalUpdatedAt = local.externalUpdatedAt ? laterOf(local.externalUpdatedAt, snapshot.updatedAt) : snapshot.updatedAt;
  const revived = local.syncState === "orphaned" || local.deletedAt !== null;
  const keep = {
    id: local.id,
    version: local.version,
    createdAt: local.createdAt,
    externalUpdatedAt,
  };

  // Echo suppression: the tracker holds exactly the agreed base (our own push coming back, or an
  // update that touched no synced field). Only bookkeeping may change.
  if (!adopt && local.baseHash === hash) {
    const bookkeeping =
      externalUpdatedAt !== local.externalUpdatedAt || snapshot.number !== local.externalNumber || snapshot.url !== local.externalUrl || revived;
    if (!bookkeeping) return { kind: "skip" };
    const syncState = revived ? (fieldsEqual(localFields, tracker) ? "synced" : "pending_push") : local.syncState;
    return {
      kind: "update",
      counted: "unchanged",
      conflicts: [],
      push: revived && syncState === "pending_push",
      row: {
        ...keep,
        ...columnsOf(localFields),
        ...mapping,
        updatedAt: local.updatedAt,
        syncState,
        syncError: revived ? null : local.syncError,
      },
    };
  }

  let merged: IssueFields;
  let recorded: FieldConflict[] = [];
  if (project.syncDirection === "inbound") {
    merged = tracker;
  } else if (project.syncDirection === "outbound") {
    // Local is master: tracker edits are drift to put back. (An adopted create in a bidirectional
    // project merges three-way below, against the fields the create sent, which are its base.)
    merged = localFields;
    const base = baseOfRow(local);
    const driftedByTracker = base ? changedFields(base, tracker) : [];
    recorded = driftedByTracker
      .filter((field) => !fieldsEqual({ ...localFields, [field]: tracker[field] }, localFields))
      .map((field) => ({ field, base: base![field], local: localFields[field], tracker: tracker[field], resolution: "local" as const, value: localFields[field] }));
  } else {
    const result = mergeThreeWay({ base: baseOfRow(local), local: localFields, tracker, master: project.master });
    merged = result.merged;
    recorded = result.conflicts;
  }

  // Per-field direction narrows the project-level decision: no write against a field's direction.
  const directed = directDecision(project, directions, localFields, tracker, merged, recorded);
  merged = directed.merged;
  recorded = directed.conflicts;
  const push = directed.pushFields.length > 0;
  const localChanged = !fieldsEqual(merged, localFields);
  const syncState: IssueRow["syncState"] = push ? "pending_push" : recorded.length > 0 ? "conflict" : "synced";
  return {
    kind: "update",
    counted: localChanged ? "updated" : "unchanged",
    conflicts: recorded,
    push,
    row: {
      ...keep,
      ...columnsOf(merged),
      ...mapping,
      updatedAt: localChanged ? laterOf(now, local.updatedAt) : local.updatedAt,
      syncState,
    },
  };
}

function columnsOf(f: IssueFields) {
  return {
    title: f.title,
    body: f.body,
    state: f.state,
    labels: stringifySet(f.labels),
    assignees: stringifySet(f.assignees),
    milestone: f.milestone,
  };
}
