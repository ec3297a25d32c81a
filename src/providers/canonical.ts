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
  /** Assignees with the tracker's numeric user id, where the answer carries it. */
  assigneeUsers?: readonly { login: string; id?: number | null | undefined }[];
}

/**
 * A tracker's human URL (`html_url`, `web_url`), kept only when it is an absolute http(s) URL
 * without credentials or control characters; otherwise "" (served as null). A self-hosted tracker
 * answering `javascript:` or `data:` would otherwise hand every client that links it an XSS.
 */
export function webUrl(raw: string | null | undefined): string {
  if (!raw || /[\u0000-\u0020\u007f-\u009f\\]/.test(raw)) return "";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "";
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password || !/^https?:\/\/[^/]/i.test(raw)) return "";
  return raw;
}

export function canonicalIssue(parts: IssueParts): CanonicalIssue {
  return {
    externalId: String(parts.externalId),
    number: parts.number,
    url: webUrl(parts.url),
    title: parts.title,
    body: canonicalText(parts.body ?? ""),
    state: canonicalState(parts.state),
    labels: canonicalSet(parts.labels),
    assignees: canonicalSet(parts.assignees),
    milestone: parts.milestone ?? null,
    createdAt: toUtcIso(parts.createdAt),
    updatedAt: toUtcIso(parts.updatedAt),
    closedAt: toUtcIsoOrNull(parts.closedAt),
    ...assigneeIdsOf(parts.assigneeUsers),
  };
}

/** `assigneeIds` (login → tracker user id), only when the tracker said any. */
function assigneeIdsOf(users: IssueParts["assigneeUsers"]): { assigneeIds?: Record<string, string> } {
  const pairs = (users ?? []).flatMap((u) => (typeof u.id === "number" && u.login !== "" ? [[u.login, String(u.id)] as const] : []));
  return pairs.length > 0 ? { assigneeIds: Object.fromEntries(pairs) } : {};
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
