/**
 * GitLab webhook mapping: Issue Hook (and work items) to a canonical snapshot, merge request and
 * push hooks to summaries. Hooks give labels and assignees as objects but the milestone only as
 * `milestone_id`, and leave `assignees` out when nobody is assigned.
 */
import { z } from "zod";
import { canonicalIssue, webUrl } from "../canonical";
import { parseGitLabNoteEvent } from "../comment-webhooks";
import type { IssueAction, IssueFields, NormalizedEvent } from "../types";
import { changedFieldsOf, nonIssueEvent, parsePayload } from "../webhook-events";

const HOOK_ACTIONS: Record<string, IssueAction> = {
  open: "opened",
  update: "edited",
  close: "closed",
  reopen: "reopened",
};

/** `changes` keys that name synced fields. */
const CHANGE_FIELDS: Readonly<Record<string, keyof IssueFields>> = {
  title: "title",
  description: "body",
  state_id: "state",
  closed_at: "state",
  labels: "labels",
  assignees: "assignees",
  milestone_id: "milestone",
};

const hookLabel = z.object({ title: z.string() });

const issueHook = z.object({
  object_kind: z.string(),
  object_attributes: z.object({
    id: z.number(),
    iid: z.number(),
    title: z.string(),
    description: z.string().nullish(),
    state: z.string(),
    url: z.string(),
    action: z.string().optional(),
    created_at: z.string(),
    updated_at: z.string(),
    closed_at: z.string().nullish(),
    milestone_id: z.number().nullish(),
    moved_to_id: z.number().nullish(),
    assignee_ids: z.array(z.number()).optional(),
    labels: z.array(hookLabel).optional(),
    type: z.string().optional(),
  }),
  labels: z.array(hookLabel).optional(),
  assignees: z.array(z.object({ username: z.string() })).optional(),
  changes: z.record(z.string(), z.unknown()).optional(),
});

const mergeRequestHook = z.object({
  object_attributes: z
    .object({
      iid: z.number().optional(),
      title: z.string().optional(),
      state: z.string().optional(),
      action: z.string().optional(),
      url: z.string().optional(),
      source_branch: z.string().optional(),
      target_branch: z.string().optional(),
    })
    .optional(),
});

const pushHook = z.object({
  object_kind: z.string().optional(),
  ref: z.string().optional(),
  before: z.string().optional(),
  after: z.string().optional(),
  total_commits_count: z.number().optional(),
});

const ISSUE_EVENTS = new Set(["Issue Hook", "Confidential Issue Hook"]);
const PUSH_EVENTS = new Set(["Push Hook", "Tag Push Hook"]);

export function parseGitLabWebhook(event: string, payload: unknown): NormalizedEvent {
  const objectKind = (payload as { object_kind?: unknown } | null)?.object_kind;
  if (ISSUE_EVENTS.has(event) || objectKind === "issue" || objectKind === "work_item") {
    return parseIssueHook(event, payload);
  }
  if (event === "Note Hook" || event === "Confidential Note Hook" || objectKind === "note") return parseGitLabNoteEvent(event, payload);
  if (event === "Merge Request Hook" || objectKind === "merge_request") {
    const mr = parsePayload(mergeRequestHook, payload, "gitlab merge request payload").object_attributes ?? {};
    return nonIssueEvent("gitlab", "pull_request", event, mr.action ?? "", {
      number: mr.iid ?? null,
      title: mr.title ?? null,
      state: mr.state ?? null,
      url: webUrl(mr.url) || null,
      headRef: mr.source_branch ?? null,
      baseRef: mr.target_branch ?? null,
    });
  }
  if (PUSH_EVENTS.has(event) || objectKind === "push" || objectKind === "tag_push") {
    const p = parsePayload(pushHook, payload, "gitlab push payload");
    return nonIssueEvent("gitlab", "push", event, p.object_kind ?? "push", {
      ref: p.ref ?? null,
      before: p.before ?? null,
      after: p.after ?? null,
      commits: p.total_commits_count ?? 0,
    });
  }
  return nonIssueEvent("gitlab", "other", event, typeof objectKind === "string" ? objectKind : "");
}

function parseIssueHook(event: string, payload: unknown): NormalizedEvent {
  const p = parsePayload(issueHook, payload, "gitlab issue payload");
  const a = p.object_attributes;
  // Tasks, incidents and other work items share the hook; only plain issues are synced.
  if (a.type !== undefined && a.type.toLowerCase() !== "issue") {
    return nonIssueEvent("gitlab", "other", event, a.action ?? "", { number: a.iid, type: a.type });
  }
  const labels = p.labels ?? a.labels;
  // GitLab leaves `assignees` out when nobody is assigned; `assignee_ids` tells the two apart.
  const assignees = p.assignees ?? ((a.assignee_ids ?? []).length === 0 ? [] : undefined);
  // Only `milestone_id` is sent: a set milestone's title is unknown to the payload.
  const milestoneKnown = a.milestone_id == null;

  let action = HOOK_ACTIONS[a.action ?? ""] ?? "other";
  // A move closes the old issue and sets `moved_to_id`: report it as the transfer it is.
  if (a.moved_to_id) action = "transferred";

  return {
    provider: "gitlab",
    kind: "issue",
    action,
    event,
    issue: canonicalIssue({
      externalId: a.id,
      number: a.iid,
      url: a.url,
      title: a.title,
      body: a.description,
      state: a.state,
      labels: (labels ?? []).map((l) => l.title),
      assignees: (assignees ?? []).map((u) => u.username),
      milestone: null,
      createdAt: a.created_at,
      updatedAt: a.updated_at,
      closedAt: a.closed_at,
    }),
    complete: labels !== undefined && assignees !== undefined && milestoneKnown,
    summary: { action: a.action ?? null, number: a.iid, milestoneId: a.milestone_id ?? null, movedToId: a.moved_to_id ?? null },
    changedFields: changedFieldsOf(action, p.changes, CHANGE_FIELDS),
    movedTo: null,
  };
}
