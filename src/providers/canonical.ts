/**
 * The last step of every mapping, API read or webhook: one place decides how a canonical issue
 * looks, so two trackers describing the same issue produce equal snapshots.
 */
import { toUtcIso, toUtcIsoOrNull } from "./timestamps";
import type { CanonicalIssue, IssueState } from "./types";

export interface IssueParts {
  externalId: string | number;
  number: number;
  url: string;
  title: string;
  body: string | null | undefined;
  /** GitLab says `opened`; everyone else `open`. */
  state: string;
  labels: readonly string[];
  assignees: readonly string[];
  milestone: string | null | undefined;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null | undefined;
}

export function canonicalIssue(parts: IssueParts): CanonicalIssue {
  return {
    externalId: String(parts.externalId),
    number: parts.number,
    url: parts.url,
    title: parts.title,
    body: canonicalText(parts.body ?? ""),
    state: canonicalState(parts.state),
    labels: canonicalSet(parts.labels),
    assignees: canonicalSet(parts.assignees),
    milestone: parts.milestone ?? null,
    createdAt: toUtcIso(parts.createdAt),
    updatedAt: toUtcIso(parts.updatedAt),
    closedAt: toUtcIsoOrNull(parts.closedAt),
  };
}

export function canonicalState(state: string): IssueState {
  return state === "closed" ? "closed" : "open";
}

/** Labels and assignees are sets: sorted, unique, empty names dropped. */
export function canonicalSet(values: readonly string[]): string[] {
  return [...new Set(values.filter((v) => v !== ""))].sort();
}

/**
 * The one text form stored and compared, whatever the entry path (API, poll, webhook): line ends
 * are LF. Trackers hand back what they were sent (GitHub keeps CRLF) or rewrite it (GitLab deletes
 * every CR), so a body compared in another form would never settle.
 */
export function canonicalText(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}
