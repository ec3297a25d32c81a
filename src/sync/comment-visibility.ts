/**
 * Which comments leave Syndarix: public ones always; internal ones only on GitLab projects that
 * opted in (`gitlabInternalNotes`), where they become internal notes. Otherwise internal comments
 * are stored locally only and never get an outbox row.
 */
import type { CommentRow, ProjectRow } from "../db/schema";
import { hasInternalComments } from "../providers";

export function internalNotesOn(project: Pick<ProjectRow, "provider" | "gitlabInternalNotes">): boolean {
  return hasInternalComments(project.provider) && project.gitlabInternalNotes;
}

export function leavesSyndarix(project: Pick<ProjectRow, "provider" | "gitlabInternalNotes">, comment: Pick<CommentRow, "visibility">): boolean {
  return comment.visibility === "public" || internalNotesOn(project);
}
