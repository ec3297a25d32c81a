import { describe, expect, it } from "vitest";
import {
  branchIssueNumber,
  commitReferences,
  developmentStatus,
  lastClosingPrMerged,
  pushedBranch,
  textReferences,
  type IssueReference,
} from "../../src/sync/dev-links";
import type { Provider } from "../../src/providers/types";

type Ref = [repository: string | null, number: number, relation: "closes" | "references", host?: string];

function refs(provider: Provider, text: string): Ref[] {
  return textReferences(provider, text).map((r: IssueReference) => (r.host ? [r.repository, r.number, r.relation, r.host] : [r.repository, r.number, r.relation]));
}

const TEXT_CASES: [Provider, string, Ref[]][] = [
  // GitHub: every documented keyword form, any case, optional colon
  ["github", "Fixes #12", [[null, 12, "closes"]]],
  ["github", "fix #12", [[null, 12, "closes"]]],
  ["github", "FIXED #12", [[null, 12, "closes"]]],
  ["github", "Closes: #12", [[null, 12, "closes"]]],
  ["github", "close #1 and closed #2", [[null, 1, "closes"], [null, 2, "closes"]]],
  ["github", "Resolves #3\nresolved #4", [[null, 3, "closes"], [null, 4, "closes"]]],
  ["github", "This resolve #5.", [[null, 5, "closes"]]],
  // one keyword per reference on GitHub
  ["github", "Fixes #1, #2", [[null, 1, "closes"], [null, 2, "references"]]],
  ["github", "See #7", [[null, 7, "references"]]],
  ["github", "Closing #7", [[null, 7, "references"]]],
  ["github", "prefix#7 and &#123; are not references", []],
  ["github", "suffix #7abc is not a reference", []],
  ["github", "Fixes octo-org/octo-repo#100", [["octo-org/octo-repo", 100, "closes"]]],
  ["github", "Fixes https://github.com/Acme/Widgets/issues/9", [["Acme/Widgets", 9, "closes", "github.com"]]],
  ["github", "see https://github.com/acme/widgets/issues/9#issuecomment-1", [["acme/widgets", 9, "references", "github.com"]]],
  ["github", "https://github.com/acme/widgets/pull/9 is a PR", []],
  ["github", "Unfixes #3", [[null, 3, "references"]]],
  ["github", "Fixes #12 and fixes #12", [[null, 12, "closes"]]],
  ["github", "see #12, fixes #12", [[null, 12, "closes"]]],
  ["github", "Fixes #0", []],
  // GitLab: -ing forms, implement, lists, "issue" prefix, only the first letter may be capital
  ["gitlab", "Closing #4", [[null, 4, "closes"]]],
  ["gitlab", "Fixing #4", [[null, 4, "closes"]]],
  ["gitlab", "Resolving: #4", [[null, 4, "closes"]]],
  ["gitlab", "Implements #4", [[null, 4, "closes"]]],
  ["gitlab", "Closes #1, #2 and #3", [[null, 1, "closes"], [null, 2, "closes"], [null, 3, "closes"]]],
  ["gitlab", "Closes issue #6", [[null, 6, "closes"]]],
  ["gitlab", "Closes group/sub/project#6", [["group/sub/project", 6, "closes"]]],
  ["gitlab", "Closes https://gitlab.com/group/sub/project/-/issues/6", [["group/sub/project", 6, "closes", "gitlab.com"]]],
  ["gitlab", "CLOSES #4", [[null, 4, "references"]]],
  ["gitlab", "Closes #1. See #2", [[null, 1, "closes"], [null, 2, "references"]]],
  // Gitea: the GitHub keyword set, any case
  ["gitea", "Fixes #8", [[null, 8, "closes"]]],
  ["gitea", "Closing #8", [[null, 8, "references"]]],
  ["gitea", "Resolves: owner/repo#8", [["owner/repo", 8, "closes"]]],
  ["gitea", "fixes https://gitea.example/owner/repo/issues/8", [["owner/repo", 8, "closes", "gitea.example"]]],
];

describe("textReferences", () => {
  it.each(TEXT_CASES)("%s: %j", (provider, text, expected) => {
    expect(refs(provider, text)).toEqual(expected);
  });
});

describe("branchIssueNumber", () => {
  it.each([
    ["12-fix-x", 12],
    ["feature/12-x", 12],
    ["feature/#12-x", 12],
    ["fix/12", 12],
    ["12_fix", 12],
    ["release/1.0", null],
    ["main", null],
    ["v2-fix", null],
    ["feature/x-12", null],
  ] as const)("%s → %s", (branch, expected) => {
    expect(branchIssueNumber(branch)).toBe(expected);
  });
});

describe("commitReferences", () => {
  it("closes only on the default branch", () => {
    expect(commitReferences("github", "closes #12", true)).toEqual([{ repository: null, host: null, number: 12, relation: "closes" }]);
    expect(commitReferences("github", "closes #12", false)).toEqual([{ repository: null, host: null, number: 12, relation: "references" }]);
  });

  it("reads the branch of a push ref, not a tag", () => {
    expect(pushedBranch("refs/heads/feature/12-x")).toBe("feature/12-x");
    expect(pushedBranch("refs/tags/v1")).toBeNull();
  });
});

describe("developmentStatus", () => {
  it.each([
    [[], false, "none"],
    [[], true, "in_progress"],
    [["draft"], false, "in_progress"],
    [["open"], false, "in_review"],
    [["open", "draft", "merged"], false, "in_review"],
    [["merged"], false, "merged"],
    [["merged", "closed"], false, "merged"],
    [["closed"], false, "abandoned"],
    [["closed"], true, "abandoned"],
  ] as const)("%j (branch or commit: %s) → %s", (states, other, expected) => {
    expect(developmentStatus(states, other)).toBe(expected);
  });

  it("the last closing PR is the one whose others are all merged or abandoned", () => {
    expect(lastClosingPrMerged([])).toBe(true);
    expect(lastClosingPrMerged(["merged", "closed"])).toBe(true);
    expect(lastClosingPrMerged(["open"])).toBe(false);
    expect(lastClosingPrMerged(["draft", "merged"])).toBe(false);
  });
});
