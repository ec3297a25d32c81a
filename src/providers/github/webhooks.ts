/**
 * GitHub webhook mapping: `issues` to a canonical snapshot, `pull_request` and `push` to
 * summaries, anything else to kind "other".
 */
import { z } from "zod";
import {
  actionOf,
  canonicalPullRequest,
  canonicalPush,
  COMMON_ISSUE_ACTIONS,
  issueChangedFields,
  pullRequestPayload,
  pullRequestSummary,
  pushPayload,
  pushSummary,
} from "../github-compatible/webhooks";
import { parseGitHubStyleCommentEvent } from "../comment-webhooks";
import type { IssueAction, NormalizedEvent } from "../types";
import { nonIssueEvent, parsePayload } from "../webhook-events";
import { githubCanonical, githubIssue } from "./client";

const ISSUE_ACTIONS: Record<string, IssueAction> = {
  ...COMMON_ISSUE_ACTIONS,
  transferred: "transferred",
  labeled: "labeled",
  unlabeled: "labeled",
};

const issuesPayload = z.object({
  action: z.string(),
  // Pinned/unpinned deliveries carry a trimmed issue (no state, no labels): accepted, not complete.
  issue: githubIssue.extend({ state: githubIssue.shape.state.optional() }),
  changes: z.record(z.string(), z.unknown()).optional(),
});

const transferChanges = z.object({ new_issue: z.object({ html_url: z.string() }) });

export function parseGitHubWebhook(event: string, payload: unknown): NormalizedEvent {
  if (event === "issues") return parseIssuesEvent(event, payload);
  if (event === "issue_comment") return parseGitHubStyleCommentEvent("github", event, payload);
  if (event === "pull_request") {
    const p = parsePayload(pullRequestPayload, payload, "github pull_request payload");
    return { ...nonIssueEvent("github", "pull_request", event, p.action ?? "", pullRequestSummary(p, { draft: true })), pullRequest: canonicalPullRequest(payload, "github") };
  }
  if (event === "push") {
    const p = parsePayload(pushPayload, payload, "github push payload");
    return { ...nonIssueEvent("github", "push", event, "push", pushSummary(p)), push: canonicalPush(payload) };
  }
  return nonIssueEvent("github", "other", event, actionOf(payload));
}

function parseIssuesEvent(event: string, payload: unknown): NormalizedEvent {
  const p = parsePayload(issuesPayload, payload, "github issues payload");
  const action = ISSUE_ACTIONS[p.action] ?? "other";
  const transfer = action === "transferred" ? transferChanges.safeParse(p.changes) : null;
  const state = p.issue.state ?? (p.issue.closed_at ? "closed" : "open");
  return {
    provider: "github",
    kind: "issue",
    action,
    event,
    issue: githubCanonical({ ...p.issue, state }),
    complete:
      p.issue.state !== undefined &&
      p.issue.labels !== undefined &&
      (p.issue.assignees != null || p.issue.assignee === null),
    summary: { action: p.action, number: p.issue.number },
    changedFields: issueChangedFields(action, p.changes),
    movedTo: transfer?.success ? transfer.data.new_issue.html_url : null,
  };
}
