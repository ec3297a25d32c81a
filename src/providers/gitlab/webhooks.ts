/**
 * GitLab webhook mapping: Issue Hook (and work items) to a canonical snapshot, merge request and
 * push hooks to summaries. Hooks give labels and assignees as objects but the milestone only as
 * `milestone_id`, and leave `assignees` out when nobody is assigned.
 */
import { z } from "zod";
import { canonicalIssue, webUrl } from "../canonical";
import { parseGitLabNoteEvent } from "../comment-webhooks";
import { toUtcIso } from "../timestamps";
import type { CanonicalPullRequest, CanonicalPush, IssueAction, IssueFields, NormalizedEvent, PullRequestState } from "../types";
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
    return {
      ...nonIssueEvent("gitlab", "pull_request", event, mr.action ?? "", {
        number: mr.iid ?? null,
        title: mr.title ?? null,
        state: mr.state ?? null,
        url: webUrl(mr.url) || null,
        headRef: mr.source_branch ?? null,
        baseRef: mr.target_branch ?? null,
      }),
      pullRequest: canonicalMergeRequest(payload),
    };
  }
  if (PUSH_EVENTS.has(event) || objectKind === "push" || objectKind === "tag_push") {
    const p = parsePayload(pushHook, payload, "gitlab push payload");
    return {
      ...nonIssueEvent("gitlab", "push", event, p.object_kind ?? "push", {
        ref: p.ref ?? null,
        before: p.before ?? null,
        after: p.after ?? null,
        commits: p.total_commits_count ?? 0,
      }),
      push: canonicalPush(payload),
    };
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

/**
 * A merge request as a stored PR needs it (docs "Webhook events" → Merge request events:
 * `object_attributes.state` opened|closed|merged|locked, `draft` (older: `work_in_progress`),
 * `source_branch`/`target_branch`, `project.default_branch`; the author only by `author_id`, the
 * hook's `user` being whoever acted). Null when the payload lacks what a stored PR needs.
 */
const fullMergeRequest = z.object({
  object_attributes: z.object({
    id: z.number(),
    iid: z.number(),
    title: z.string(),
    description: z.string().nullish(),
    url: z.string(),
    state: z.string(),
    draft: z.boolean().nullish(),
    work_in_progress: z.boolean().nullish(),
    source_branch: z.string().nullish(),
    target_branch: z.string().nullish(),
    updated_at: z.string().nullish(),
    closed_at: z.string().nullish(),
    merged_at: z.string().nullish(),
    action: z.string().nullish(),
  }),
  user: z.object({ username: z.string().nullish() }).nullish(),
  project: z.object({ default_branch: z.string().nullish() }).nullish(),
});

function canonicalMergeRequest(payload: unknown): CanonicalPullRequest | null {
  const parsed = fullMergeRequest.safeParse(payload);
  if (!parsed.success) return null;
  const a = parsed.data.object_attributes;
  const draft = a.draft === true || a.work_in_progress === true;
  const state: PullRequestState = a.state === "merged" ? "merged" : a.state === "closed" || a.state === "locked" ? "closed" : draft ? "draft" : "open";
  const updatedAt = a.updated_at ? toUtcIso(a.updated_at) : null;
  return {
    externalId: String(a.id),
    number: a.iid,
    title: a.title,
    body: a.description ?? "",
    url: a.url,
    // The opener is only `author_id`; the acting user names the opener on the "open" action.
    author: a.action === "open" ? (parsed.data.user?.username ?? null) : null,
    state,
    baseRef: a.target_branch ?? null,
    headRef: a.source_branch ?? null,
    // The hook has no `merged_at`: the merge is the update that set state merged.
    mergedAt: a.merged_at ? toUtcIso(a.merged_at) : state === "merged" ? updatedAt : null,
    closedAt: a.closed_at ? toUtcIso(a.closed_at) : null,
    updatedAt,
    defaultBranch: parsed.data.project?.default_branch ?? null,
  };
}

const fullPushHook = z.object({
  ref: z.string(),
  commits: z.array(z.object({ id: z.string(), message: z.string(), url: z.string().nullish() })).nullish(),
  project: z.object({ default_branch: z.string().nullish() }).nullish(),
});

/** A push hook: the ref, its commits (GitLab sends at most 20) and the project's default branch. */
function canonicalPush(payload: unknown): CanonicalPush | null {
  const parsed = fullPushHook.safeParse(payload);
  if (!parsed.success) return null;
  return {
    ref: parsed.data.ref,
    defaultBranch: parsed.data.project?.default_branch ?? null,
    commits: (parsed.data.commits ?? []).map((c) => ({ sha: c.id, message: c.message, url: c.url ?? null })),
  };
}
