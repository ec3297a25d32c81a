import { describe, expect, it } from "vitest";
import { eventHeaderNames, eventNameOf, PROVIDERS, repositoryFormatProblem } from "../../../src/providers";

describe("repositoryFormatProblem", () => {
  it.each([
    ["github", "acme/widgets", null],
    ["github", "acme/widgets/extra", 'must be "owner/name"'],
    ["github", "widgets", 'must be "owner/name"'],
    ["gitea", "acme/wid.gets_1", null],
    ["gitea", "acme/wid gets", 'must be "owner/name"'],
    ["gitlab", "group/sub/project", null],
    ["gitlab", "4242", null],
    ["gitlab", "project", 'must be "group/project" (any depth) or a numeric id'],
  ] as const)("%s %j → %j", (provider, repository, problem) => {
    expect(repositoryFormatProblem(provider, repository)).toBe(problem);
  });
});

describe("eventHeaderNames", () => {
  it("names each tracker's event headers, finest first", () => {
    expect(eventHeaderNames("github")).toEqual(["x-github-event"]);
    expect(eventHeaderNames("gitlab")).toEqual(["x-gitlab-event"]);
    expect(eventHeaderNames("gitea")).toEqual(["x-gitea-event-type", "x-gitea-event"]);
  });

  it.each(PROVIDERS)("%s: a delivery that only carries one of those headers reads as that event", (provider) => {
    for (const name of eventHeaderNames(provider)) {
      expect(eventNameOf(provider, new Headers({ [name]: "issues" }))).toBe("issues");
    }
    expect(eventNameOf(provider, new Headers({ "x-other-event": "issues" }))).toBeNull();
  });
});
