/**
 * Gitea webhook mapping. Gitea's payloads mirror GitHub's; its event names are finer
 * (`issue_label`, `issue_assign`, `issue_milestone`) and a pull request's issue events arrive as
 * issue events with `pull_request` set.
 */
import { parseGitHubStyleCommentEvent } from "../comment-webhooks";
import { z } from "zod";
import { toCanonical } from "../github-compatible/client";
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
import type { IssueAction, NormalizedEvent } from "../types";
import { nonIssueEvent, parsePayload, WebhookPayloadError } from "../webhook-events";
import { giteaIssue } from "./client";

const ISSUE_ACTIONS: Record<string, IssueAction> = {
  ...COMMON_ISSUE_ACTIONS,
  label_updated: "labeled",
  label_cleared: "labeled",
};

const issuePayload = z.object({
  action: z.string(),
  // Gitea before 1.11 sends no `issue.html_url`: derived from the repository's below.
  issue: giteaIssue.extend({ html_url: z.string().optional() }),
  repository: z.object({ html_url: z.string().optional() }).nullish(),
  changes: z.record(z.string(), z.unknown()).nullish(),
});

/** `event` is `X-Gitea-Event-Type` when sent (issue_label…), else `X-Gitea-Event` (issues…). */
export function parseGiteaWebhook(event: string, payload: unknown): NormalizedEvent {
  // No event header: the body is left unclassified, not even read for an `action`.
  if (event === "") return nonIssueEvent("gitea", "other", event, "");
  if (event === "issue_comment") return parseGitHubStyleCommentEvent("gitea", event, payload);
  if (event === "issues" || event === "issue_assign" || event === "issue_label" || event === "issue_milestone") {
    return parseIssueEvent(event, payload);
  }
  if (event.startsWith("pull_request") && !event.includes("comment") && !event.includes("review")) {
    const p = parsePayload(pullRequestPayload, payload, "gitea pull_request payload");
    return { ...nonIssueEvent("gitea", "pull_request", event, p.action ?? "", pullRequestSummary(p, { draft: false })), pullRequest: canonicalPullRequest(payload, "gitea") };
  }
  if (event === "push") {
    const p = parsePayload(pushPayload, payload, "gitea push payload");
    return { ...nonIssueEvent("gitea", "push", event, "push", pushSummary(p)), push: canonicalPush(payload) };
  }
  return nonIssueEvent("gitea", "other", event, actionOf(payload));
}

function parseIssueEvent(event: string, payload: unknown): NormalizedEvent {
  const p = parsePayload(issuePayload, payload, "gitea issues payload");
  if (p.issue.pull_request != null) {
    return nonIssueEvent("gitea", "pull_request", event, p.action, { number: p.issue.number, title: p.issue.title });
  }
  const action = ISSUE_ACTIONS[p.action] ?? "other";
  const repositoryUrl = p.repository?.html_url?.replace(/\/+$/, "");
  const htmlUrl = p.issue.html_url ?? (repositoryUrl ? `${repositoryUrl}/issues/${p.issue.number}` : undefined);
  if (htmlUrl === undefined) throw new WebhookPayloadError("gitea issues payload: issue.html_url: required (or repository.html_url)");
  return {
    provider: "gitea",
    kind: "issue",
    action,
    event,
    issue: toCanonical({ ...p.issue, html_url: htmlUrl }),
    // Gitea sends the full API issue; a null `assignees` means nobody, not unknown.
    complete: p.issue.labels !== undefined,
    summary: { action: p.action, number: p.issue.number },
    changedFields: issueChangedFields(action, p.changes),
    movedTo: null,
  };
}
