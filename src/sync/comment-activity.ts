/**
 * Activity entries for comment changes. Like issue entries, they are built here and written by the
 * db functions in the batch of the change, guarded on the comment's version so an entry is recorded
 * exactly when its write applied. The comment's id is in `detail` ("comment <id> …"); `issueId` is
 * the comment's issue.
 */
import { fieldChanges, type ActivityEntry, type ActivityOrigin, type FieldChanges } from "../db/activity";
import type { InboundWrite } from "../db/comments";
import type { CommentRow } from "../db/schema";

type CommentLike = Pick<CommentRow, "body" | "author" | "visibility" | "syncState" | "externalId" | "deletedAt">;

/** What an operator cares about in a comment row. */
export function commentFields(row: CommentLike): Record<string, unknown> {
  return {
    body: row.body,
    author: row.author,
    visibility: row.visibility,
    syncState: row.syncState,
    externalId: row.externalId,
    deletedAt: row.deletedAt,
  };
}

export function commentChanges(before: CommentLike | undefined, after: CommentLike): FieldChanges | null {
  return fieldChanges(before ? commentFields(before) : undefined, commentFields(after));
}

interface Where {
  projectId: string;
  origin: ActivityOrigin;
  now: string;
}

/** `comment.created` for a new row (recorded only if the row exists at version 1 after the batch). */
export function commentCreatedEntry(w: Where, row: CommentLike & { id: string; issueId: string }, how: string): ActivityEntry {
  return {
    projectId: w.projectId,
    issueId: row.issueId,
    kind: "comment.created",
    origin: w.origin,
    createdAt: w.now,
    changes: commentChanges(undefined, row),
    detail: `comment ${row.id} ${how}`,
    onlyIfComment: { id: row.id, version: 1 },
  };
}

/**
 * `comment.deleted` when the row went from live to deleted, else `comment.updated`; none when no
 * tracked field changed. Recorded only if the write moved the row from `before.version` to the next.
 */
export function commentChangedEntry(w: Where, before: CommentRow, after: CommentLike, how: string | null = null): ActivityEntry | null {
  const changes = commentChanges(before, after);
  if (!changes) return null;
  const deleted = before.deletedAt === null && after.deletedAt !== null;
  return {
    projectId: w.projectId,
    issueId: before.issueId,
    kind: deleted ? "comment.deleted" : "comment.updated",
    origin: w.origin,
    createdAt: w.now,
    changes,
    detail: `comment ${before.id}${how ? ` ${how}` : ""}`,
    onlyIfComment: { id: before.id, version: before.version + 1 },
  };
}

/** The entries of one inbound write (poll, full run, webhook, or a merge made by a push). */
export function inboundActivity(w: Where, write: InboundWrite): ActivityEntry[] {
  if (write.kind === "insert") {
    return [commentCreatedEntry(w, { ...write.row, visibility: write.row.visibility ?? "public", syncState: write.row.syncState ?? "synced", externalId: write.row.externalId ?? null, deletedAt: write.row.deletedAt ?? null }, "imported from the tracker")];
  }
  const entries: ActivityEntry[] = [];
  const before = write.current;
  const how =
    write.set.deletedAt !== undefined && before.deletedAt === null
      ? "deleted on the tracker"
      : write.set.deletedAt === null && before.deletedAt !== null
        ? "revived: the tracker has a copy newer than its deletion"
        : write.set.externalId !== undefined && before.externalId === null
          ? "linked to the tracker comment its lost create made"
          : write.set.body !== undefined && write.set.body !== before.body
            ? "changed on the tracker"
            : null;
  const changed = commentChangedEntry(w, before, { ...before, ...write.set }, how);
  if (changed) entries.push(changed);
  if (write.conflict) {
    const c = write.conflict;
    entries.push({
      projectId: w.projectId,
      issueId: before.issueId,
      kind: "conflict.recorded",
      origin: w.origin,
      createdAt: w.now,
      changes: fieldChanges({ "comment.body": c.local }, { "comment.body": c.tracker }),
      detail: `conflict ${c.id}: comment ${before.id} body changed on both sides; ${c.resolution} won`,
      onlyIfComment: { id: before.id, version: before.version + 1 },
    });
  }
  return entries;
}
