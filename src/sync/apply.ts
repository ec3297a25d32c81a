/**
 * Applying tracker snapshots to the local store: the one place where polls, reconciliation and
 * webhooks change issues, so every path follows the same rules (ADR-011):
 *
 * - an inbound snapshot older than the stored external `updated_at` is ignored (no rollback);
 * - one equal to the base snapshot changes no field (echo suppression: our own pushes come back so);
 * - inbound projects take the tracker's fields; outbound projects put tracker drift back (recorded,
 *   pushed); bidirectional projects merge three-way against the base, conflicts settled by master;
 * - after a merge the base becomes the tracker's current fields, so a pending push sends exactly the
 *   fields where local differs from the tracker, and the next merge sees only newer tracker edits.
 *
 * Writes are computed in code and written in one atomic D1 batch, each row guarded by its version
 * (D1 has no interactive transactions): a row that a local API edit changed meanwhile is re-merged.
 */
import { and, eq, inArray, isNotNull, isNull, sql, type SQL } from "drizzle-orm";
import { runBatch, type Statement } from "../db/batch";
import type { Database } from "../db/client";
import { baseOfRow, fieldsOfRow } from "../db/issues";
import { stringifySet } from "../db/json";
import { conflicts, issues, outbox, type IssueRow } from "../db/schema";
import { newId, nowIso } from "../ids";
import type { CanonicalIssue, IssueFields } from "../providers/types";
import type { SyncContext } from "./context";
import { mergeThreeWay, type FieldConflict } from "./merge";
import { changedFields, fieldsEqual, normalizeFields, snapshotHash } from "./snapshot";

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
}

export function emptyCounts(): ApplyCounts {
  return { created: 0, updated: 0, unchanged: 0, conflicts: 0, pushQueued: 0, orphaned: 0, needsPoll: 0 };
}

/** The full state of an issue row after a sync write. */
interface RowWrite {
  id: string;
  /** The version the row must still have (updates only). */
  version: number;
  title: string;
  body: string;
  state: "open" | "closed";
  labels: string;
  assignees: string;
  milestone: string | null;
  createdAt: string;
  updatedAt: string;
  externalId: string;
  externalNumber: number;
  externalUrl: string;
  externalUpdatedAt: string;
  base: string;
  baseHash: string;
  syncState: IssueRow["syncState"];
  syncError: string | null;
  deletedAt: string | null;
}

interface ConflictWrite {
  id: string;
  issueId: string;
  /** The row version after the write: the conflict is recorded only if that write happened. */
  version: number;
  field: string;
  baseValue: string;
  localValue: string;
  trackerValue: string;
  resolution: "tracker" | "local";
  createdAt: string;
}

interface OutboxWrite {
  id: string;
  issueId: string;
  version: number;
  op: "create" | "update" | "recreate";
  now: string;
}

type Decision =
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
  } else if (project.syncDirection === "outbound" || adopt) {
    // Local is master (or this is our own create coming back): tracker edits are drift to put back.
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

  const push = !fieldsEqual(merged, tracker);
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

/**
 * Merges tracker snapshots (a listing page, a webhook, a push answer) into the store. Returns what
 * happened; pushes that became necessary are queued.
 */
/** Where snapshots come from: a tracker listing or lookup, or an event (webhook) about one issue. */
export type SnapshotSource = "listing" | "event";

export async function applySnapshots(ctx: SyncContext, snapshots: readonly CanonicalIssue[], source: SnapshotSource = "listing"): Promise<ApplyCounts> {
  const counts = emptyCounts();
  // Dedupe on external id, keeping the newest: a page re-read in the overlap window repeats items.
  const newest = new Map<string, CanonicalIssue>();
  for (const s of snapshots) {
    const seen = newest.get(s.externalId);
    if (!seen || s.updatedAt >= seen.updatedAt) newest.set(s.externalId, s);
  }
  let pending = [...newest.values()];
  const moved = pending.filter((s) => s.movedTo);
  if (moved.length > 0) {
    pending = pending.filter((s) => !s.movedTo);
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
    const unmatched = pending.filter((s) => !locals.has(s.externalId));
    const adoptable = unmatched.length > 0 && ctx.project.syncDirection !== "inbound" ? await loadUnconfirmedCreates(ctx.db, ctx.project.id) : [];

    const inserts: RowWrite[] = [];
    const updates: { row: RowWrite; snapshot: CanonicalIssue; decision: Extract<Decision, { kind: "update" }> }[] = [];
    const inserted = new Map<string, CanonicalIssue>();
    for (const snapshot of pending) {
      let local = locals.get(snapshot.externalId);
      let adopt = false;
      if (!local) {
        // Our own create whose answer was lost: link it instead of importing a duplicate.
        const index = adoptable.findIndex((row) => row.issue.title === snapshot.title && row.attemptedAt <= snapshot.createdAt);
        if (index >= 0) {
          local = adoptable[index]!.issue;
          adoptable.splice(index, 1);
          adopt = true;
        }
      }
      const decision = decideSnapshot(ctx.project, snapshot, hashes.get(snapshot.externalId)!, local, adopt, now, source);
      if (decision.kind === "skip") counts.unchanged++;
      else if (decision.kind === "ambiguous") counts.needsPoll++;
      else if (decision.kind === "insert") {
        inserts.push(decision.row);
        inserted.set(decision.row.id, snapshot);
      } else updates.push({ row: decision.row, snapshot, decision });
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

    const { insertedIds, updatedIds } = await writeRows(ctx.db, ctx.project.id, inserts, updates.map((u) => u.row), conflictRows, outboxRows);

    const retry: CanonicalIssue[] = [];
    for (const row of inserts) {
      if (insertedIds.has(row.id)) counts.created++;
      else retry.push(inserted.get(row.id)!);
    }
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
    await enqueuePushes(ctx, pushIds);
    pending = retry;
  }
  if (pending.length > 0) throw new Error(`issues kept changing while being merged: ${pending.map((s) => s.externalId).join(", ")}`);
  return counts;
}

async function loadByExternalIds(db: Database, projectId: string, externalIds: string[]): Promise<Map<string, IssueRow>> {
  const byExternal = new Map<string, IssueRow>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < externalIds.length; i += 90) {
    const chunk = externalIds.slice(i, i + 90);
    const rows = await db
      .select()
      .from(issues)
      .where(and(eq(issues.projectId, projectId), inArray(issues.externalId, chunk)))
      .all();
    for (const row of rows) byExternal.set(row.externalId!, row);
  }
  return byExternal;
}

/** Local issues whose tracker create was sent but never confirmed. */
async function loadUnconfirmedCreates(db: Database, projectId: string): Promise<{ issue: IssueRow; attemptedAt: string }[]> {
  const rows = await db
    .select({ issue: issues, attemptedAt: outbox.createAttemptedAt })
    .from(issues)
    .innerJoin(outbox, eq(outbox.issueId, issues.id))
    .where(and(eq(issues.projectId, projectId), isNull(issues.externalId), isNotNull(outbox.createAttemptedAt)))
    .all();
  // Allow for clock skew between this Worker and the tracker.
  return rows.map((r) => ({ issue: r.issue, attemptedAt: new Date(Date.parse(r.attemptedAt!) - 5 * 60_000).toISOString() }));
}

/** JSON parameters stay well under D1's per-value limit; larger sets are split across statements. */
const MAX_JSON_PARAM = 900_000;

function chunkByJsonSize<T>(items: readonly T[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const item of items) {
    const json = JSON.stringify(item);
    if (current.length > 0 && size + json.length + 1 > MAX_JSON_PARAM) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(",")}]`);
  return chunks;
}

const j = (path: string) => sql.raw(`json_extract(j.value, '$.${path}')`);

/**
 * Writes a page's decisions in one atomic batch. Multi-row statements take their rows as one JSON
 * parameter (`json_each`), so a page costs a handful of statements whatever its size, within D1's
 * 100-bound-parameter limit. Conflicts and outbox rows are written only for rows whose guarded
 * update went through.
 */
async function writeRows(
  db: Database,
  projectId: string,
  inserts: RowWrite[],
  updates: RowWrite[],
  conflictRows: ConflictWrite[],
  outboxRows: OutboxWrite[],
): Promise<{ insertedIds: Set<string>; updatedIds: Set<string> }> {
  const statements: { kind: "insert" | "update" | "other"; query: Statement }[] = [];
  for (const chunk of chunkByJsonSize(inserts)) {
    statements.push({
      kind: "insert",
      query: sql`
        INSERT INTO ${issues} (id, project_id, title, body, state, labels, assignees, milestone, created_at, updated_at, version,
          external_id, external_number, external_url, external_updated_at, base, base_hash, sync_state, sync_error, deleted_at)
        SELECT ${j("id")}, ${projectId}, ${j("title")}, ${j("body")}, ${j("state")}, ${j("labels")}, ${j("assignees")}, ${j("milestone")},
          ${j("createdAt")}, ${j("updatedAt")}, 1, ${j("externalId")}, ${j("externalNumber")}, ${j("externalUrl")}, ${j("externalUpdatedAt")},
          ${j("base")}, ${j("baseHash")}, ${j("syncState")}, NULL, NULL
        FROM json_each(${chunk}) AS j WHERE true
        ON CONFLICT DO NOTHING
        RETURNING id`,
    });
  }
  for (const chunk of chunkByJsonSize(updates)) {
    statements.push({ kind: "update", query: updateRowsStatement(projectId, chunk) });
  }
  for (const chunk of chunkByJsonSize(conflictRows)) {
    statements.push({
      kind: "other",
      query: sql`
        INSERT INTO ${conflicts} (id, project_id, issue_id, field, base_value, local_value, tracker_value, resolution, created_at)
        SELECT ${j("id")}, ${projectId}, ${j("issueId")}, ${j("field")}, ${j("baseValue")}, ${j("localValue")}, ${j("trackerValue")},
          ${j("resolution")}, ${j("createdAt")}
        FROM json_each(${chunk}) AS j
        WHERE EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = ${j("issueId")} AND i.version = ${j("version")})`,
    });
  }
  for (const chunk of chunkByJsonSize(outboxRows)) {
    statements.push({ kind: "other", query: outboxUpsertFromJson(projectId, chunk) });
  }
  if (statements.length === 0) return { insertedIds: new Set(), updatedIds: new Set() };
  const results = await runBatch(db, statements.map((s) => s.query));
  const insertedIds = new Set<string>();
  const updatedIds = new Set<string>();
  statements.forEach((s, i) => {
    if (s.kind === "other") return;
    for (const r of results[i]!.results) (s.kind === "insert" ? insertedIds : updatedIds).add(String(r.id));
  });
  return { insertedIds, updatedIds };
}

/**
 * Updates issue rows from a JSON array of RowWrite, each guarded by its version; returns the ids
 * updated. `+issues.project_id` keeps SQLite from driving the join with the project index (D1 has
 * no ANALYZE statistics): rows are found by primary key instead of scanning the whole project.
 */
export function updateRowsStatement(projectId: string, json: string): SQL {
  return sql`
    UPDATE ${issues} SET
      title = ${j("title")}, body = ${j("body")}, state = ${j("state")}, labels = ${j("labels")}, assignees = ${j("assignees")},
      milestone = ${j("milestone")}, updated_at = ${j("updatedAt")}, external_id = ${j("externalId")},
      external_number = ${j("externalNumber")}, external_url = ${j("externalUrl")}, external_updated_at = ${j("externalUpdatedAt")},
      base = ${j("base")}, base_hash = ${j("baseHash")}, sync_state = ${j("syncState")}, sync_error = ${j("syncError")},
      deleted_at = ${j("deletedAt")}, version = issues.version + 1
    FROM json_each(${json}) AS j
    WHERE issues.id = ${j("id")} AND +issues.project_id = ${projectId} AND issues.version = ${j("version")}
    RETURNING issues.id AS id`;
}

/** Upserts outbox rows from a JSON array of {id, issueId, version, op, now}, guarded by the issue's version. */
export function outboxUpsertFromJson(projectId: string, json: string): Statement {
  return sql`
    INSERT INTO ${outbox} (id, project_id, issue_id, op, status, attempts, created_at, updated_at)
    SELECT ${j("id")}, ${projectId}, ${j("issueId")}, ${j("op")}, 'pending', 0, ${j("now")}, ${j("now")}
    FROM json_each(${json}) AS j
    WHERE EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = ${j("issueId")} AND i.version = ${j("version")})
    ON CONFLICT (issue_id) DO UPDATE SET
      status = 'pending', attempts = 0, last_error = NULL, next_attempt_at = NULL,
      op = CASE WHEN outbox.op = 'create' AND outbox.status = 'pending' THEN 'create' ELSE excluded.op END,
      updated_at = excluded.updated_at`;
}

async function enqueuePushes(ctx: SyncContext, issueIds: string[]): Promise<void> {
  for (let i = 0; i < issueIds.length; i += 100) {
    const batch = issueIds.slice(i, i + 100).map((issueId) => ({ body: { type: "push" as const, projectId: ctx.project.id, issueId } }));
    try {
      await ctx.env.PUSH_QUEUE.sendBatch(batch);
    } catch (err) {
      // The outbox rows are written; the cron sweep re-sends their jobs.
      console.error(JSON.stringify({ msg: "push enqueue failed; the cron sweep will retry", projectId: ctx.project.id, error: String(err) }));
    }
  }
}

export type GoneReason = { status: "deleted" } | { status: "moved"; movedTo: string | null };

/**
 * An issue whose tracker copy is gone (deleted, transferred, moved): the project's deletion policy
 * decides. `orphan` keeps it marked; `delete` removes it locally; `recreate` (outbound) creates it
 * in the tracker again through the push path. Returns what was done.
 */
export async function applyGone(
  ctx: SyncContext,
  local: IssueRow,
  reason: GoneReason,
  /** The tracker's `updated_at` on the event that reported it gone, when there was one. */
  seenAt: string | null = null,
): Promise<"orphaned" | "deleted" | "recreated" | "unchanged"> {
  const now = nowIso();
  const externalUpdatedAt = seenAt && (!local.externalUpdatedAt || seenAt > local.externalUpdatedAt) ? seenAt : local.externalUpdatedAt;
  const why = reason.status === "moved" ? `moved in the tracker${reason.movedTo ? ` to ${reason.movedTo}` : ""}` : "deleted in the tracker";
  const policy = ctx.project.deletionPolicy === "recreate" && ctx.project.syncDirection !== "outbound" ? "orphan" : ctx.project.deletionPolicy;
  if (policy === "delete") {
    await runBatch(ctx.db, [
      ctx.db.delete(outbox).where(eq(outbox.issueId, local.id)),
      ctx.db.delete(conflicts).where(eq(conflicts.issueId, local.id)),
      ctx.db.delete(issues).where(eq(issues.id, local.id)),
    ]);
    return "deleted";
  }
  if (policy === "recreate") {
    const guard = and(eq(issues.id, local.id), eq(issues.version, local.version));
    await runBatch(ctx.db, [
      ctx.db
        .update(issues)
        .set({
          externalId: null,
          externalNumber: null,
          externalUrl: null,
          externalUpdatedAt: null,
          base: null,
          baseHash: null,
          syncState: "pending_push",
          syncError: `${why}; recreating`,
          deletedAt: null,
          version: local.version + 1,
        })
        .where(guard),
      sql`
        INSERT INTO ${outbox} (id, project_id, issue_id, op, status, attempts, created_at, updated_at)
        SELECT ${newId()}, ${ctx.project.id}, ${local.id}, 'recreate', 'pending', 0, ${now}, ${now}
        WHERE EXISTS (SELECT 1 FROM ${issues} WHERE id = ${local.id} AND version = ${local.version + 1})
        ON CONFLICT (issue_id) DO UPDATE SET op = 'recreate', status = 'pending', attempts = 0, create_attempted_at = NULL,
          last_error = NULL, next_attempt_at = NULL, updated_at = excluded.updated_at`,
    ]);
    await enqueuePushes(ctx, [local.id]);
    return "recreated";
  }
  if (local.syncState === "orphaned") return "unchanged";
  await ctx.db
    .update(issues)
    .set({ syncState: "orphaned", syncError: why, deletedAt: now, externalUpdatedAt, version: local.version + 1 })
    .where(and(eq(issues.id, local.id), eq(issues.version, local.version)));
  return "orphaned";
}
