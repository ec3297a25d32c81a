/**
 * Closing keywords, as each tracker documents them (used by sync/dev-links.ts):
 * - GitHub (docs "Linking a pull request to an issue"): close, closes, closed, fix, fixes, fixed,
 *   resolve, resolves, resolved, any case, optionally followed by a colon; one keyword per reference
 *   ("Fixes #1, #2" closes #1 and only mentions #2).
 * - GitLab (default `issue_closing_pattern`, docs "Closing issues automatically"):
 *   `[Cc]los(e[sd]?|ing)|[Ff]ix(e[sd]|ing)?|[Rr]esolv(e[sd]?|ing)|[Ii]mplement(s|ed|ing)?`, optional
 *   colon, then one or more references joined by ",", " and " or spaces, each optionally preceded by
 *   "issue"/"issues"; only the first letter may be a capital.
 * - Gitea (`setting.Repository.PullRequest.CloseKeywords`, default close/closes/closed/fix/fixes/
 *   fixed/resolve/resolves/resolved, any case, optional colon), one keyword per reference.
 */
import type { Provider } from "./types";

const GITHUB_KEYWORD = /(?:^|[^A-Za-z0-9_])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?:\s*:\s*|\s+)$/i;
const GITEA_KEYWORD = GITHUB_KEYWORD;
const GITLAB_KEYWORD = /(?:^|[^A-Za-z0-9_])(?:[Cc]los(?:e[sd]?|ing)|[Ff]ix(?:e[sd]|ing)?|[Rr]esolv(?:e[sd]?|ing)|[Ii]mplement(?:s|ed|ing)?):? +(?:issues? +)?$/;
/** GitLab: what may join two references of one closing list. */
const GITLAB_LIST_JOIN = /^(?: *,? +and +| *,? *)(?:issues? +)?$/;


export interface ClosingGrammar {
  /** Matches the text right before a reference when it makes that reference a closing one. */
  keyword: RegExp;
  /** What may join two references of one closing list ("Closes #1, #2 and #3"); null: one keyword per reference. */
  listJoin: RegExp | null;
}

export const CLOSING_GRAMMAR: Record<Provider, ClosingGrammar> = {
  github: { keyword: GITHUB_KEYWORD, listJoin: null },
  gitlab: { keyword: GITLAB_KEYWORD, listJoin: GITLAB_LIST_JOIN },
  gitea: { keyword: GITEA_KEYWORD, listJoin: null },
};
