/**
 * The local-edit write, once for every record kind (issues, comments): a compare-and-set on the
 * row's version (D1 has no interactive transactions) that marks the row pending push when it is to
 * reach the tracker, with its activity (recorded only if the update applied) and its outbox row in
 * the same batch.
 */
import { and, eq, sql } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch, type Statement } from "./batch";
import type { Database } from "./client";
import { comments, issues } from "./schema";

const TABLES = { issue: issues, comment: comments } as const;

export interface LocalEdit {
  kind: keyof typeof TABLES;
  current: { id: string; version: number };
  /** The kind's own columns to change (fields, body, deletion). */
  columns: Record<string, unknown>;
  /** The outbox row for the new version, or null when nothing is to reach the tracker. */
  push: ((nextVersion: number) => Statement) | null;
  now: string;
  activity: readonly ActivityEntry[];
}

/** True when the row was still at `current.version` and the edit applied. */
export async function writeLocalEdit(db: Database, edit: LocalEdit): Promise<boolean> {
  // Both tables have the columns written here (id, version, updated_at, sync_state, sync_error).
  const table = TABLES[edit.kind] as typeof issues;
  const nextVersion = edit.current.version + 1;
  const update = db
    .update(table)
    .set({
      ...edit.columns,
      updatedAt: edit.now,
      version: nextVersion,
      ...(edit.push ? { syncState: "pending_push" as const, syncError: null } : {}),
    })
    .where(and(eq(table.id, edit.current.id), eq(table.version, edit.current.version)))
    .returning({ id: table.id });
  const [result] = await runBatch(db, [
    update,
    // Right after the update: recorded only if it changed the row (the version guard alone would
    // also hold if another writer moved the row to the same next version meanwhile).
    ...activityStatements(edit.activity, sql`changes() > 0`),
    ...(edit.push ? [edit.push(nextVersion)] : []),
  ]);
  return result!.results.length > 0;
}
