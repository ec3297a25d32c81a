/**
 * The writes of one batch of merged tracker snapshots (see sync/apply-snapshots.ts): issue inserts
 * and version-guarded updates, the conflicts they recorded and the pushes they need, in one atomic
 * batch. Multi-row statements take their rows as one JSON parameter (`json_each`), so a page costs a
 * handful of statements whatever its size, within D1's 100-bound-parameter limit.
 */
import { sql, type SQL } from "drizzle-orm";
import { runBatch, type Statement } from "./batch";
import type { Database } from "./client";
import { activityStatements, importSummaryStatement, type ActivityEntry, type ImportSummary } from "./activity";
import { issueAtVersion, packText, replacePartsStatements } from "./issue-texts";
import { chunkByJsonSize, jsonField as j } from "./json";
import { freshnessStatement, type FreshnessSample, type FreshnessSource } from "./freshness";
import { outboxUpsertJson, type OutboxWrite } from "./outbox";
import { conflicts, issues, projects, type IssueRow } from "./schema";

/** The full state of an issue row after a sync write. */
export interface RowWrite {
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
  /** The tracker's state reason to store; absent: the stored one is kept. */
  closeReason?: string | null;
}

export interface ConflictWrite {
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

/**
 * Writes a batch's decisions atomically. Conflicts and outbox rows are written only for rows whose
 * guarded update went through. Returns the ids actually inserted and updated. `seenByRun` marks the
 * written rows as listed by that full run in the same write (`markSeen` then skips them: no second
 * row write per imported issue).
 */
export async function writeSyncedRows(
  db: Database,
  projectId: string,
  writes: {
    inserts: RowWrite[];
    updates: RowWrite[];
    conflicts: ConflictWrite[];
    outbox: OutboxWrite[];
    activity?: ActivityEntry[];
    /** A first import's page: one `issue.imported` entry for its inserts (activity then has none for them). */
    importSummary?: ImportSummary | null;
    /** Each written row's lag behind its tracker change, counted only if its write applied. */
    freshness?: { source: FreshnessSource; at: string; samples: FreshnessSample[] } | null;
    seenByRun?: string | null;
  },
): Promise<{ insertedIds: Set<string>; updatedIds: Set<string> }> {
  const statements: { kind: "insert" | "update" | "other"; query: Statement }[] = [];
  // Texts over a row's share of D1's byte limit go to issue_text_parts (issue-texts.ts).
  const inserts = writes.inserts.map((row) => packRow(row, 1));
  const updates = writes.updates.map((row) => packRow(row, row.version + 1));
  for (const chunk of chunkByJsonSize(inserts.map((p) => p.row))) {
    statements.push({
      kind: "insert",
      query: sql`
        INSERT INTO ${issues} (id, project_id, title, body, state, labels, assignees, milestone, created_at, updated_at, version,
          external_id, external_number, external_url, external_updated_at, base, base_hash, sync_state, sync_error, deleted_at,
          body_parts, base_parts, last_seen_run_id, close_reason)
        SELECT ${j("id")}, ${projectId}, ${j("title")}, ${j("body")}, ${j("state")}, ${j("labels")}, ${j("assignees")}, ${j("milestone")},
          ${j("createdAt")}, ${j("updatedAt")}, 1, ${j("externalId")}, ${j("externalNumber")}, ${j("externalUrl")}, ${j("externalUpdatedAt")},
          ${j("base")}, ${j("baseHash")}, ${j("syncState")}, NULL, NULL, ${j("bodyParts")}, ${j("baseParts")}, ${writes.seenByRun ?? null},
          ${j("closeReason")}
        FROM json_each(${chunk}) AS j
        WHERE EXISTS (SELECT 1 FROM ${projects} p WHERE p.id = ${projectId})
        ON CONFLICT DO NOTHING
        RETURNING id`,
    });
  }
  for (const chunk of chunkByJsonSize(updates.map((p) => p.row))) {
    statements.push({ kind: "update", query: updateRowsStatement(projectId, chunk, writes.seenByRun ?? null) });
  }
  for (const packed of [...inserts, ...updates]) {
    for (const query of packed.partStatements(projectId)) statements.push({ kind: "other", query });
  }
  for (const chunk of chunkByJsonSize(writes.conflicts)) {
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
  for (const chunk of chunkByJsonSize(writes.outbox)) {
    statements.push({ kind: "other", query: outboxUpsertJson(projectId, chunk) });
  }
  // Last: each entry is guarded on its issue's write having applied (see ActivityEntry.onlyIfIssue).
  for (const query of activityStatements(writes.activity ?? [])) statements.push({ kind: "other", query });
  if (writes.importSummary && writes.importSummary.issueIds.length > 0) statements.push({ kind: "other", query: importSummaryStatement(writes.importSummary) });
  if (writes.freshness && writes.freshness.samples.length > 0) {
    const f = writes.freshness;
    statements.push({ kind: "other", query: freshnessStatement(projectId, f.source, f.at, f.samples) });
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
export function updateRowsStatement(projectId: string, json: string, seenByRun: string | null = null): SQL {
  return sql`
    UPDATE ${issues} SET
      title = ${j("title")}, body = ${j("body")}, state = ${j("state")}, labels = ${j("labels")}, assignees = ${j("assignees")},
      milestone = ${j("milestone")}, updated_at = ${j("updatedAt")}, external_id = ${j("externalId")},
      external_number = ${j("externalNumber")}, external_url = ${j("externalUrl")}, external_updated_at = ${j("externalUpdatedAt")},
      base = ${j("base")}, base_hash = ${j("baseHash")}, sync_state = ${j("syncState")}, sync_error = ${j("syncError")},
      deleted_at = ${j("deletedAt")}, body_parts = ${j("bodyParts")}, base_parts = ${j("baseParts")}, version = issues.version + 1,
      last_seen_run_id = COALESCE(${seenByRun}, issues.last_seen_run_id),
      close_reason = CASE WHEN json_type(j.value, '$.closeReason') IS NULL THEN issues.close_reason ELSE ${j("closeReason")} END
    FROM json_each(${json}) AS j
    WHERE issues.id = ${j("id")} AND +issues.project_id = ${projectId} AND issues.version = ${j("version")}
    RETURNING issues.id AS id`;
}

/**
 * The row with its body and base inline or split (then "" inline, and the statements writing the
 * parts, each guarded by the row being at `versionAfter`: written only if the row write happened).
 */
function packRow(row: RowWrite, versionAfter: number): { row: RowWrite & { bodyParts: number; baseParts: number }; partStatements(projectId: string): SQL[] } {
  const body = packText(row.body);
  const base = packText(row.base);
  return {
    row: { ...row, body: body.inline, base: base.inline, bodyParts: body.parts.length, baseParts: base.parts.length },
    partStatements(projectId) {
      // A row that had parts and now has none keeps stale part rows that count 0 ignores; clear them
      // only where there is something to write, to keep small pages at a handful of statements.
      const guard = issueAtVersion(row.id, versionAfter);
      return [
        ...(body.parts.length > 0 ? replacePartsStatements(projectId, row.id, "body", body.parts, guard) : []),
        ...(base.parts.length > 0 ? replacePartsStatements(projectId, row.id, "base", base.parts, guard) : []),
      ];
    },
  };
}
