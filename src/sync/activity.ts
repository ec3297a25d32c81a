/**
 * Building activity entries in the engine (the db functions write them in the batch of the change).
 */
import { fieldChanges, type ActivityOrigin, type ActivitySource, type FieldChanges } from "../db/activity";
import { fieldsOfRow } from "../db/issues";
import type { IssueRow } from "../db/schema";
import type { SyncContext } from "./context";

/** The write path's origin, or `fallback` when the caller set none. */
export function originOf(ctx: SyncContext, fallback: ActivitySource = "poll"): ActivityOrigin {
  return ctx.origin ?? { source: fallback };
}

type RowLike = Pick<IssueRow, "title" | "body" | "state" | "labels" | "assignees" | "milestone" | "syncState">;

/** What an operator cares about in an issue row: its synced fields (lists parsed) and its sync state. */
export function trackedFields(row: RowLike): Record<string, unknown> {
  return { ...fieldsOfRow(row), syncState: row.syncState };
}

/** Field changes between two rows (before undefined: a new issue). */
export function rowChanges(before: RowLike | undefined, after: RowLike): FieldChanges | null {
  return fieldChanges(before ? trackedFields(before) : undefined, trackedFields(after));
}
