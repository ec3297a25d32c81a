/**
 * Development links, the pure part: which issues a pull request, branch or commit names, with which
 * relation, by each tracker's documented grammar; and the development status those links add up to.
 * No I/O here: the table-of-cases unit test pins every rule.
 *
 * The closing-keyword grammar of each tracker is a tracker fact: providers/closing-keywords.ts.
 */
import { CLOSING_GRAMMAR } from "../providers/closing-keywords";
import type { Provider } from "../providers/types";

export type Relation = "closes" | "references";
export type DevelopmentStatus = "none" | "in_progress" | "in_review" | "merged" | "abandoned";
export type PullRequestState = "open" | "draft" | "merged" | "closed";

/** An issue named in text: `repository` null means the repository the text lives in. */
export interface IssueReference {
  /** "owner/name" (GitLab: the full path) as written, or null for a bare `#N`. */
  repository: string | null;
  /** The web host of an issue URL, lower case; null for `#N` and `owner/repo#N`. */
  host: string | null;
  number: number;
  relation: Relation;
}


/**
 * Issue URLs (`https://host/owner/repo/issues/12`, GitLab `…/group/sub/project/-/issues/12`),
 * `owner/repo#12` (GitLab: any depth of groups) and bare `#12`. Word characters right before a `#`
 * (`abc#1`, HTML entities `&#123;`) are not references.
 */
const REFERENCE =
  /https?:\/\/([A-Za-z0-9.-]+(?::\d+)?)\/((?:[A-Za-z0-9_.-]+\/)+?[A-Za-z0-9_.-]+)\/(?:-\/)?issues\/(\d+)(?![\d/])|(?<![A-Za-z0-9_&/#])((?:[A-Za-z0-9_.-]+\/)+[A-Za-z0-9_.-]+)?#(\d+)(?![A-Za-z0-9_])/g;

/** Every issue reference in a title or description, with the relation the tracker's grammar gives it. */
export function textReferences(provider: Provider, text: string): IssueReference[] {
  const { keyword, listJoin } = CLOSING_GRAMMAR[provider];
  const found: IssueReference[] = [];
  let previousEnd = -1;
  let previousClosing = false;
  for (const m of text.matchAll(REFERENCE)) {
    const start = m.index;
    const number = Number(m[3] ?? m[5]);
    if (!Number.isSafeInteger(number) || number <= 0) continue;
    let closing = keyword.test(text.slice(Math.max(0, start - 64), start));
    // GitLab lists: "Closes #1, #2 and #3" closes all three.
    if (!closing && listJoin && previousClosing && listJoin.test(text.slice(previousEnd, start))) closing = true;
    found.push({
      repository: m[2] ?? m[4] ?? null,
      host: m[1] ? m[1].toLowerCase() : null,
      number,
      relation: closing ? "closes" : "references",
    });
    previousEnd = start + m[0].length;
    previousClosing = closing;
  }
  return dedupe(found);
}

/**
 * The issue a branch name points at: a path segment starting with the number (`12-fix-x`,
 * `feature/12-x`, `feature/#12-x`, `12`). A branch only ever references; it never closes.
 */
export function branchIssueNumber(branch: string): number | null {
  for (const segment of branch.split("/")) {
    const m = /^#?(\d+)(?:[-_]|$)/.exec(segment);
    if (m) {
      const n = Number(m[1]);
      if (Number.isSafeInteger(n) && n > 0) return n;
    }
  }
  return null;
}

/** A commit message's references: closing keywords close only on the default branch. */
export function commitReferences(provider: Provider, message: string, onDefaultBranch: boolean): IssueReference[] {
  const refs = textReferences(provider, message);
  return onDefaultBranch ? refs : refs.map((r) => ({ ...r, relation: "references" as const }));
}

/** The branch a push ref names (`refs/heads/x` → `x`); null for tags and other refs. */
export function pushedBranch(ref: string): string | null {
  return ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : null;
}

/** One entry per (repository, host, number): `closes` wins over `references`. */
function dedupe(refs: IssueReference[]): IssueReference[] {
  const byKey = new Map<string, IssueReference>();
  for (const r of refs) {
    const key = `${r.host ?? ""}|${(r.repository ?? "").toLowerCase()}|${r.number}`;
    const seen = byKey.get(key);
    if (!seen || (seen.relation === "references" && r.relation === "closes")) byKey.set(key, r);
  }
  return [...byKey.values()];
}

/**
 * An issue's development status from its linked pull requests (and whether any branch or commit
 * names it): a PR in review wins, then a draft, then a merge; all PRs closed unmerged is abandoned.
 */
export function developmentStatus(prStates: readonly PullRequestState[], hasBranchOrCommit: boolean): DevelopmentStatus {
  if (prStates.includes("open")) return "in_review";
  if (prStates.includes("draft")) return "in_progress";
  if (prStates.includes("merged")) return "merged";
  if (prStates.length > 0) return "abandoned";
  return hasBranchOrCommit ? "in_progress" : "none";
}

/**
 * Whether merging the PR (as `closes`) should close the issue now: every other `closes` PR of the
 * issue is merged or abandoned (closed unmerged PRs never hold an issue open, nor close it).
 */
export function lastClosingPrMerged(otherClosingStates: readonly PullRequestState[]): boolean {
  return otherClosingStates.every((s) => s === "merged" || s === "closed");
}
