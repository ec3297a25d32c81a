/**
 * Comment webhooks of all three trackers mapped to one event of kind "comment":
 * - GitHub `issue_comment` (created/edited/deleted) with `issue` and `comment`; comments on pull
 *   requests carry `issue.pull_request` and are not ours.
 * - Gitea `issue_comment` (created/edited/deleted), the same shape plus `is_pull`; pull request
 *   comments come as `pull_request_comment`.
 * - GitLab `Note Hook` (`Confidential Note Hook` for internal notes and any note of a confidential issue) with `object_kind: "note"`,
 *   `object_attributes` (id, note, noteable_type, action create/update, internal/confidential,
 *   url) and `issue` (id, iid); only `noteable_type: "Issue"` is ours. GitLab sends no hook for a
 *   deleted note: the poll finds it gone.
 */
import { z } from "zod";
import { githubStyleComment, isPullRequestComment, toCanonicalComment } from "./github-compatible/comments";
import { noteToCanonical } from "./gitlab/comments";
import type { CommentEvent, NormalizedEvent, Provider } from "./types";
import { nonIssueEvent, parsePayload, WebhookPayloadError } from "./webhook-events";

const ACTIONS: Record<string, CommentEvent["action"]> = { created: "created", edited: "edited", deleted: "deleted" };

const githubStylePayload = z.object({
  action: z.string(),
  issue: z.object({ id: z.number(), number: z.number(), pull_request: z.unknown().nullish() }),
  comment: githubStyleComment,
  is_pull: z.boolean().nullish(),
});

/** GitHub and Gitea `issue_comment`. */
export function parseGitHubStyleCommentEvent(provider: Provider, event: string, payload: unknown): NormalizedEvent {
  const p = parsePayload(githubStylePayload, payload, `${provider} issue_comment payload`);
  const action = ACTIONS[p.action];
  const isPull = p.issue.pull_request != null || p.is_pull === true || isPullRequestComment(p.comment);
  if (!action || isPull) return nonIssueEvent(provider, "other", event, p.action, { number: p.issue.number, commentId: p.comment.id });
  return commentEvent(provider, event, action, toCanonicalComment(p.comment, p.issue.number), p.issue.id);
}

const noteHook = z.object({
  object_kind: z.literal("note"),
  user: z.object({ username: z.string() }),
  object_attributes: z.object({
    id: z.number(),
    note: z.string().nullish(),
    noteable_type: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    system: z.boolean().nullish(),
    internal: z.boolean().nullish(),
    confidential: z.boolean().nullish(),
    url: z.string().nullish(),
    action: z.string().nullish(),
  }),
  issue: z.object({ id: z.number(), iid: z.number() }).nullish(),
});

/** GitLab Note Hook / Confidential Note Hook. */
export function parseGitLabNoteEvent(event: string, payload: unknown): NormalizedEvent {
  const p = parsePayload(noteHook, payload, "gitlab note payload");
  const a = p.object_attributes;
  if (a.noteable_type !== "Issue" || a.system) return nonIssueEvent("gitlab", "other", event, a.action ?? "note", { noteableType: a.noteable_type });
  if (!p.issue) throw new WebhookPayloadError("gitlab note payload: issue: an issue note names its issue");
  const comment = noteToCanonical(
    {
      id: a.id,
      body: a.note,
      // The hook names the user who acted; on a create that is the note's author.
      author: p.user,
      created_at: a.created_at,
      updated_at: a.updated_at,
      // `Confidential Note Hook` carries every note of a confidential issue, public ones too: only
      // the note's own attribute says it is internal.
      internal: a.internal === true,
      confidential: a.confidential,
    },
    p.issue.iid,
    a.url ?? "",
  );
  return commentEvent("gitlab", event, a.action === "update" ? "edited" : "created", comment, p.issue.id);
}

function commentEvent(provider: Provider, event: string, action: CommentEvent["action"], comment: CommentEvent["comment"], issueId: number): NormalizedEvent {
  return {
    provider,
    kind: "comment",
    action,
    event,
    issue: null,
    complete: true,
    summary: { number: comment.issueNumber, issueId: String(issueId), commentId: comment.externalId },
    changedFields: [],
    movedTo: null,
    comment: { action, comment },
  };
}
