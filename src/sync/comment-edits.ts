/**
 * Local comment writes through the API: the comment row and its outbox row in one atomic batch,
 * then the push job (best effort: the cron sweep re-sends a lost one). Refused for inbound
 * projects. Internal comments are stored only: they never get an outbox row.
 */
import { getComment, insertLocalComment, updateLocalComment } from "../db/comments";
import type { Database } from "../db/client";
import { getIssue } from "../db/issues";
import type { CommentRow, ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { DirectionRefused, NotFound, StateConflict } from "../errors";
import { newId, nowIso } from "../ids";
import type { ActivityOrigin } from "../db/activity";
import { canonicalText } from "../providers/canonical";
import { enqueueCommentPushes } from "../queue/send";
import { commentChangedEntry, commentCreatedEntry } from "./comment-activity";
import { leavesSyndarix } from "./comment-visibility";
import { settingsOf } from "./project-settings";

const MAX_ATTEMPTS = 5;

function assertLocalWritesAllowed(project: ProjectRow): void {
  if (project.syncDirection === "inbound" || settingsOf(project).fieldDirections.comments === "inbound") {
    throw new DirectionRefused(`project ${project.id} syncs inbound only: the tracker is the master and local comments are refused`);
  }
}

export interface NewLocalComment {
  body: string;
  author: string;
  visibility: "public" | "internal";
}

export async function createLocalComment(
  env: Env,
  db: Database,
  project: ProjectRow,
  issueId: string,
  input: NewLocalComment,
  origin: ActivityOrigin = { source: "api" },
): Promise<CommentRow> {
  assertLocalWritesAllowed(project);
  const issue = await getIssue(db, project.id, issueId);
  if (!issue) throw new NotFound("issue", issueId);
  if (issue.deletedAt !== null || issue.syncState === "orphaned") throw new StateConflict(`issue ${issueId} is orphaned: its tracker issue was deleted or moved`);
  const now = nowIso();
  const id = newId();
  const pushed = leavesSyndarix(project, input);
  const fields = {
    id,
    projectId: project.id,
    issueId,
    body: canonicalText(input.body),
    author: input.author,
    visibility: input.visibility,
    createdAt: now,
    updatedAt: now,
    syncState: pushed ? ("pending_push" as const) : ("synced" as const),
  };
  const row = await insertLocalComment(db, fields, pushed ? { outboxId: newId() } : null, [
    commentCreatedEntry({ projectId: project.id, origin, now }, { ...fields, externalId: null, deletedAt: null }, "created locally"),
  ]);
  if (pushed) await enqueueCommentPushes(env, project.id, [id]);
  return row;
}

async function loadLive(db: Database, project: ProjectRow, issueId: string, commentId: string): Promise<CommentRow> {
  const current = await getComment(db, project.id, commentId);
  if (!current || current.issueId !== issueId) throw new NotFound("comment", commentId);
  if (current.deletedAt !== null) throw new StateConflict(`comment ${commentId} is deleted`);
  return current;
}

export async function editLocalComment(
  env: Env,
  db: Database,
  project: ProjectRow,
  issueId: string,
  commentId: string,
  body: string,
  origin: ActivityOrigin = { source: "api" },
): Promise<CommentRow> {
  assertLocalWritesAllowed(project);
  body = canonicalText(body);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await loadLive(db, project, issueId, commentId);
    if (current.body === body) return current;
    const pushed = leavesSyndarix(project, current);
    const now = nowIso();
    const after = { ...current, body, syncState: pushed ? ("pending_push" as const) : current.syncState };
    const entry = commentChangedEntry({ projectId: project.id, origin, now }, current, after, "edited locally");
    const row = await updateLocalComment(db, current, { body }, pushed ? { outboxId: newId(), op: current.externalId ? "update" : "create" } : null, now, entry ? [entry] : []);
    if (row) {
      if (pushed) await enqueueCommentPushes(env, project.id, [commentId]);
      return row;
    }
  }
  throw new StateConflict(`comment ${commentId} is being changed concurrently; try again`);
}

export async function deleteLocalComment(
  env: Env,
  db: Database,
  project: ProjectRow,
  issueId: string,
  commentId: string,
  origin: ActivityOrigin = { source: "api" },
): Promise<void> {
  assertLocalWritesAllowed(project);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await loadLive(db, project, issueId, commentId);
    const pushed = leavesSyndarix(project, current);
    const now = nowIso();
    const after = { ...current, deletedAt: now, syncState: pushed ? ("pending_push" as const) : current.syncState };
    const entry = commentChangedEntry({ projectId: project.id, origin, now }, current, after, "deleted locally");
    const row = await updateLocalComment(db, current, { deletedAt: now }, pushed ? { outboxId: newId(), op: "delete" } : null, now, entry ? [entry] : []);
    if (row) {
      if (pushed) await enqueueCommentPushes(env, project.id, [commentId]);
      return;
    }
  }
  throw new StateConflict(`comment ${commentId} is being changed concurrently; try again`);
}

