/**
 * Applying tracker snapshots to the local store: the one place where polls, reconciliation and
 * webhooks change issues, so every path follows the same rules (decided per snapshot in decide.ts).
 *
 * Writes are computed in code and written in one atomic D1 batch, each row guarded by its version
 * (D1 has no interactive transactions): a row that a local API edit changed meanwhile is re-merged.
 */
import { fieldChanges, type ActivityEntry, type ActivityOrigin } from "../db/activity";
import { listUnconfirmedCreates, loadByExternalIds } from "../db/issues";
import type { OutboxWrite } from "../db/outbox";
import { writeSyncedRows, type ConflictWrite, type RowWrite } from "../db/synced-rows";
import { newId, nowIso } from "../ids";
import type { IssueRow } from "../db/schema";
import type { CanonicalIssue, IssueFields } from "../providers/types";
import { enqueuePushes } from "../queue/send";
import { originOf, rowChanges } from "./activity";
import type { SyncContext } from "./context";
import { adoptionWindow, firstAdoptable, inAdoptionWindow, sameStoredText, type AdoptionWindow } from "./adoption";
import { decideSnapshot, type Decision, type SnapshotSource } from "./decide";
import { applyGone } from "./deletion";
import { followRenamedLogins } from "../db/identities";
import { loadTombstones, removeTombstones, type Tombstone } from "../db/tombstones";
import { spaceOf } from "./identities";
import { settingsOf } from "./project-settings";
import { inScope } from "./scope";
import { inboundCloseReason } from "./close-reason";
import { markFrozen, unlinkLeavingIssue } from "./scope-leave";
import { inboundAllowed } from "./field-directions";
import { baseOfRow, normalizeFields, snapshotHash } from "./snapshot";
import { mapSnapshot, valueMaps } from "./value-maps";

export interface ApplyCounts {
  created: number;
  updated: number;
  unchanged: number;
  conflicts: number;
  /** Issues that now need a push (outbox row written, push job sent). */
  pushQueued: number;
  /** Issues the snapshots show as moved away: handled by the deletion policy. */
  orphaned: number;
  /** Event snapshots that could not be ordered against the stored copy: a poll must decide. */
  needsPoll: number;
  /** Their external ids. */
  ambiguous: string[];
  /**
   * With `seenByRun`: external ids of snapshots whose row this call did not mark as seen by that run
   * (not written, and not already marked), for `markSeen`. An import page leaves none.
   */
  notMarkedSeen: string[];
}

export function emptyCounts(): ApplyCounts {
  return { created: 0, updated: 0, unchanged: 0, conflicts: 0, pushQueued: 0, orphaned: 0, needsPoll: 0, ambiguous: [], notMarkedSeen: [] };
}

/**
 * Merges tracker snapshots (a listing page, a webhook, a push answer) into the store. Returns what
 * happened; pushes that became necessary are queued.
 */
export async function applySnapshots(
  ctx: SyncContext,
  snapshots: readonly CanonicalIssue[],
  source: SnapshotSource = "listing",
  options: { seenByRun?: string; origins?: ReadonlyMap<string, ActivityOrigin> } = {},
): Promise<ApplyCounts> {
  const counts = emptyCounts();
  // Dedupe on external id, keeping the newest: a page re-read in the overlap window repeats items.
  const newest = new Map<string, CanonicalIssue>();
  for (const s of snapshots) {
    const seen = newest.get(s.externalId);
    if (!seen || s.updatedAt >= seen.updatedAt) newest.set(s.externalId, s);
  }
  // A renamed tracker login still maps: identities follow the tracker's user id to the new login.
  const seenUsers = new Map<string, string>();
  for (const s of newest.values()) for (const [login, id] of Object.entries(s.assigneeIds ?? {})) seenUsers.set(id, login);
  if (seenUsers.size > 0) await followRenamedLogins(ctx.db, spaceOf(ctx.project), seenUsers, nowIso());
  // Everything past this point is in local values (value maps); scope is judged on both vocabularies.
  const settings = settingsOf(ctx.project);
  const maps = valueMaps(settings.fieldMaps);
  const scoped = new Map<string, boolean>();
  for (const [id, s] of newest) {
    const mapped = mapSnapshot(maps, s);
    scoped.set(id, inScope(settings.scope, s, mapped.labels));
    newest.set(id, mapped);
  }
  const stateInbound = inboundAllowed(ctx.project, settings.fieldDirections, "state");
  if (settings.scope?.onLeave === "unlink") await unlinkLeaving(ctx, [...newest.values()].filter((s) => !scoped.get(s.externalId)));
  let pending = [...newest.values()];
  const moved = pending.filter((s) => s.movedTo);
  if (moved.length > 0) {
    pending = pending.filter((s) => !s.movedTo);
    if (options.seenByRun) counts.notMarkedSeen.push(...moved.map((s) => s.externalId));
    const locals = await loadByExternalIds(ctx.db, ctx.project.id, moved.map((s) => s.externalId));
    for (const s of moved) {
      const local = locals.get(s.externalId);
      if (!local) continue; // never imported: nothing to keep
      const outcome = await applyGone(ctx, local, { status: "moved", movedTo: s.movedTo ?? null }, s.updatedAt);
      if (outcome === "orphaned" || outcome === "deleted") counts.orphaned++;
      else if (outcome === "recreated") counts.pushQueued++;
      else counts.unchanged++;
    }
  }
  const hashes = new Map<string, string>();
  for (const s of pending) hashes.set(s.externalId, await snapshotHash(normalizeFields(s)));

  for (let attempt = 0; attempt < 4 && pending.length > 0; attempt++) {
    const now = nowIso();
    const locals = await loadByExternalIds(ctx.db, ctx.project.id, pending.map((s) => s.externalId));
    // Frozen issues are marked (their comments wait too); ones back in scope lose the mark.
    if (attempt === 0) await markFrozen(ctx, pending.flatMap((s) => (locals.has(s.externalId) ? [{ issue: locals.get(s.externalId)!, inScope: scoped.get(s.externalId)! }] : [])));
    const unmatched = pending.filter((s) => !locals.has(s.externalId));
    const adoptable = unmatched.length > 0 && ctx.project.syncDirection !== "inbound" ? await unconfirmedCreates(ctx) : [];
    // Issues proven deleted and removed here (tombstones): only a copy changed after the deletion
    // revives one (imported again); an older copy — a listing read before it — changes nothing.
    const stones = unmatched.length > 0 ? await loadTombstones(ctx.db, ctx.project.id, unmatched.map((s) => s.externalId)) : new Map<string, Tombstone>();
    const revived = new Set<string>();

    const inserts: RowWrite[] = [];
    const updates: { row: RowWrite; before: IssueRow; snapshot: CanonicalIssue; decision: Extract<Decision, { kind: "update" }> }[] = [];
    const inserted = new Map<string, CanonicalIssue>();
    for (const snapshot of pending) {
      let local = locals.get(snapshot.externalId);
      let adopt = false;
      if (!local) {
        // Our own create whose answer was lost: link it instead of importing a duplicate.
        const index = await findAdoptable(ctx, adoptable, snapshot);
        if (index >= 0) {
          local = adoptable[index]!.issue;
          adoptable.splice(index, 1);
          adopt = true;
        }
      }
      const stone = local ? undefined : stones.get(snapshot.externalId);
      if (stone !== undefined && snapshot.updatedAt > stone.proof) revived.add(snapshot.externalId);
      // Out of scope: never imported; a linked issue that left scope is frozen (nothing synced,
      // nothing closed or deleted) until it is back in scope.
      const decided: Decision = scoped.get(snapshot.externalId) && (stone === undefined || revived.has(snapshot.externalId))
        ? decideSnapshot(ctx.project, snapshot, hashes.get(snapshot.externalId)!, local, adopt, now, source, settings.fieldDirections)
        : { kind: "skip" };
      const decision = withCloseReason(decided, snapshot, stateInbound);
      const marked = options.seenByRun !== undefined && local?.lastSeenRunId === options.seenByRun;
      if ((decision.kind === "skip" || decision.kind === "ambiguous") && options.seenByRun && !marked) counts.notMarkedSeen.push(snapshot.externalId);
      if (decision.kind === "skip") counts.unchanged++;
      else if (decision.kind === "ambiguous") {
        counts.needsPoll++;
        counts.ambiguous.push(snapshot.externalId);
      }
      else if (decision.kind === "insert") {
        // A revived issue gets its old local id back, and with it its comments.
        const oldId = stone && revived.has(snapshot.externalId) ? stone.issueId : null;
        if (oldId) decision.row.id = oldId;
        inserts.push(decision.row);
        inserted.set(decision.row.id, snapshot);
      } else updates.push({ row: decision.row, before: local!, snapshot, decision });
    }

    const conflictRows: ConflictWrite[] = [];
    const outboxRows: OutboxWrite[] = [];
    for (const { row, decision } of updates) {
      for (const c of decision.conflicts) {
        conflictRows.push({
          id: newId(),
          issueId: row.id,
          version: row.version + 1,
          field: c.field,
          baseValue: JSON.stringify(c.base ?? null),
          localValue: JSON.stringify(c.local ?? null),
          trackerValue: JSON.stringify(c.tracker ?? null),
          resolution: c.resolution,
          createdAt: now,
        });
      }
      if (decision.push) outboxRows.push({ id: newId(), issueId: row.id, version: row.version + 1, op: "update", now });
    }

    const origin = originOf(ctx, source === "event" ? "webhook" : "poll");
    // Several deliveries merged in one call: each change is attributed to the delivery that carried it.
    const originFor = (externalId: string | null | undefined) => (externalId ? options.origins?.get(externalId) : undefined) ?? origin;
    const conflictOrigin = new Map<string, ActivityOrigin>();
    for (const { row } of updates) conflictOrigin.set(row.id, originFor(row.externalId));
    const activity: ActivityEntry[] = [];
    // A first import (no run has completed yet) records one summary entry per page instead of one
    // per issue: 4 rows written per page instead of 4 per issue. The events stream expands it.
    const summarize = source === "listing" && ctx.project.cursor === null;
    const importSummary = summarize ? { projectId: ctx.project.id, origin, createdAt: now, issueIds: inserts.map((row) => row.id) } : null;
    for (const row of summarize ? [] : inserts) {
      const entry = { projectId: ctx.project.id, issueId: row.id, origin: originFor(row.externalId), createdAt: now, onlyIfIssue: { id: row.id } };
      const how = revived.has(row.externalId!) ? `revived #${row.externalNumber}: the tracker has a copy changed after its deletion` : `imported #${row.externalNumber}`;
      activity.push({ ...entry, kind: "issue.created", changes: rowChanges(undefined, row), detail: how });
    }
    for (const { row, before } of updates) {
      const changes = rowChanges(before, row);
      if (changes) activity.push({ projectId: ctx.project.id, issueId: row.id, origin: originFor(row.externalId), createdAt: now, onlyIfIssue: { id: row.id, version: row.version + 1 }, kind: "issue.updated", changes });
    }
    for (const c of conflictRows) {
      activity.push({
        projectId: ctx.project.id,
        issueId: c.issueId,
        origin: conflictOrigin.get(c.issueId) ?? origin,
        createdAt: now,
        onlyIfIssue: { id: c.issueId, version: c.version },
        kind: "conflict.recorded",
        changes: fieldChanges({ [c.field]: JSON.parse(c.localValue) }, { [c.field]: JSON.parse(c.trackerValue) }),
        detail: `conflict ${c.id}: "${c.field}" changed on both sides; ${c.resolution} won`,
      });
    }
    // Freshness: how long each tracker change took to be written here (not for a first import, whose
    // issues changed on the tracker long before this project existed).
    const freshSource = origin.source === "webhook" || origin.source === "poll" || origin.source === "full" ? origin.source : null;
    const written = Date.parse(now);
    const lagOf = (id: string, version: number, snapshot: CanonicalIssue | undefined) =>
      snapshot ? [{ issueId: id, version, lagMs: written - Date.parse(snapshot.updatedAt) }] : [];
    const freshness =
      freshSource === null
        ? null
        : {
            source: freshSource,
            at: now,
            samples: [
              ...(summarize ? [] : inserts.flatMap((row) => lagOf(row.id, 1, inserted.get(row.id)))),
              ...updates.flatMap((u) => lagOf(u.row.id, u.row.version + 1, u.snapshot)),
            ],
          };
    const { insertedIds, updatedIds } = await writeSyncedRows(ctx.db, ctx.project.id, {
      inserts,
      updates: updates.map((u) => u.row),
      conflicts: conflictRows,
      outbox: outboxRows,
      activity,
      importSummary,
      freshness,
      seenByRun: options.seenByRun ?? null,
    });

    const retry: CanonicalIssue[] = [];
    const revivedNow: string[] = [];
    for (const row of inserts) {
      if (insertedIds.has(row.id)) {
        counts.created++;
        if (revived.has(row.externalId!)) revivedNow.push(row.externalId!);
      } else retry.push(inserted.get(row.id)!);
    }
    // The issue lives again: its tombstone goes (a stale delivery is then ordered against the row).
    if (revivedNow.length > 0) await removeTombstones(ctx.db, ctx.project.id, revivedNow);
    const pushIds: string[] = [];
    for (const { row, snapshot, decision } of updates) {
      if (!updatedIds.has(row.id)) {
        retry.push(snapshot);
        continue;
      }
      counts[decision.counted]++;
      counts.conflicts += decision.conflicts.length;
      if (decision.push) pushIds.push(row.id);
    }
    counts.pushQueued += pushIds.length;
    if (pushIds.length > 0) await enqueuePushes(ctx.env, ctx.project.id, pushIds);
    pending = retry;
  }
  if (pending.length > 0) throw new Error(`issues kept changing while being merged: ${pending.map((s) => s.externalId).join(", ")}`);
  return counts;
}

/**
 * Linked issues whose tracker snapshot left the scope, under `onLeave: "unlink"`: unlinked (never
 * closed or deleted). A snapshot older than the one stored (an out-of-order delivery) proves nothing.
 */
async function unlinkLeaving(ctx: SyncContext, leaving: readonly CanonicalIssue[]): Promise<void> {
  if (leaving.length === 0) return;
  const locals = await loadByExternalIds(ctx.db, ctx.project.id, leaving.map((s) => s.externalId));
  for (const s of leaving) {
    const local = locals.get(s.externalId);
    if (!local || local.deletedAt !== null || local.syncState === "orphaned") continue;
    if (local.externalUpdatedAt !== null && s.updatedAt < local.externalUpdatedAt) continue;
    await unlinkLeavingIssue(ctx, local);
  }
}

/** The decision's row with the tracker's close reason, where the local issue takes the tracker's state. */
function withCloseReason(decision: Decision, snapshot: CanonicalIssue, stateInbound: boolean): Decision {
  if (decision.kind !== "insert" && decision.kind !== "update") return decision;
  const reason = inboundCloseReason(snapshot, decision.row.state, stateInbound);
  return reason === undefined ? decision : { ...decision, row: { ...decision.row, closeReason: reason } };
}

interface Adoptable {
  issue: IssueRow;
  window: AdoptionWindow;
  /** The fields the create sent (stored as the base before it was sent). */
  sent: IssueFields;
}

/** Creates still in flight (outbox pending) that were sent but never confirmed. */
async function unconfirmedCreates(ctx: SyncContext): Promise<Adoptable[]> {
  const rows = await listUnconfirmedCreates(ctx.db, ctx.project.id);
  return rows.flatMap((r) => {
    const sent = baseOfRow(r.issue);
    return sent ? [{ issue: r.issue, sent, window: adoptionWindow(r.attemptedAt) }] : [];
  });
}

/**
 * The in-flight create this snapshot is, or -1, by the one adoption rule (adoption.ts): same title
 * and body as sent, inside the attempt's window, made by the token's own user — the last is asked
 * of the tracker (its creator-filtered search must return this very issue), so a person's
 * same-titled issue is imported as their own, never adopted.
 */
async function findAdoptable(ctx: SyncContext, adoptable: readonly Adoptable[], snapshot: CanonicalIssue): Promise<number> {
  const fields = normalizeFields(snapshot);
  const found = await firstAdoptable(
    adoptable,
    (a) => a.sent.title === fields.title && sameStoredText(a.sent.body, fields.body) && inAdoptionWindow(a.window, snapshot.createdAt),
    async (a) => (await ctx.tracker.findCreatedIssue(snapshot.title, a.window.from, (c) => c.externalId === snapshot.externalId)) !== null,
  );
  return found ? adoptable.indexOf(found) : -1;
}
