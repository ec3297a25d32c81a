import { describe, expect, it } from "vitest";
import { listFilterParams } from "../../src/providers/gitlab/client";
import { inScope, scopeListFilter } from "../../src/sync/scope";

const noMaps = { labels: [], milestone: [] };

describe("scopeListFilter", () => {
  it("is null without a scope or with nothing to push down", () => {
    expect(scopeListFilter(null, noMaps)).toBeNull();
    expect(scopeListFilter({ labelsAny: ["a", "b"], onLeave: "freeze" }, noMaps)).toBeNull();
    expect(scopeListFilter({ state: "all", onLeave: "freeze" }, noMaps)).toBeNull();
  });

  it("pushes one required label, every excluded label in both vocabularies, open only and the creation floor", () => {
    const maps = { labels: [{ local: "P1", tracker: ["priority::high"] }, { local: "skip", tracker: ["wontfix", "invalid"] }], milestone: [] };
    expect(scopeListFilter({ labelsAny: ["P1"], labelsNone: ["skip"], state: "open", createdSince: "2026-01-01T00:00:00Z", onLeave: "freeze" }, maps)).toEqual({
      labelsNone: ["skip", "wontfix", "invalid"],
      openOnly: true,
      createdSince: "2026-01-01T00:00:00Z",
    });
    expect(scopeListFilter({ labelsAny: ["sync"], onLeave: "unlink" }, maps)).toEqual({ labelsAll: ["sync"] });
  });

  it("never leaves out an issue the local filter keeps", () => {
    const maps = { labels: [{ local: "P1", tracker: ["prio-1"] }], milestone: [] };
    const scope = { labelsAny: ["prio-1"], labelsNone: ["P1"], onLeave: "freeze" as const };
    const filter = scopeListFilter(scope, maps)!;
    for (const labels of [["prio-1"], ["P1"], ["x"], []]) {
      const mapped = labels.map((l) => (l === "prio-1" ? "P1" : l));
      const kept = inScope(scope, { labels, state: "open", createdAt: "2026-01-01T00:00:00Z" }, mapped);
      const listed = (filter.labelsAll ?? []).every((l) => labels.includes(l)) && !(filter.labelsNone ?? []).some((l) => labels.includes(l));
      if (kept) expect(listed).toBe(true);
    }
  });
});

describe("GitLab list filter parameters", () => {
  it("maps the filter to labels, not[labels], state=opened and created_after", () => {
    expect(listFilterParams({ labelsAll: ["a"], labelsNone: ["x", "y"], openOnly: true, createdSince: "2026-01-01T00:00:00Z" })).toEqual({
      labels: "a",
      "not[labels]": "x,y",
      state: "opened",
      created_after: "2026-01-01T00:00:00.000Z",
    });
  });

  it("leaves keywords and comma-holding names to the local filter", () => {
    expect(listFilterParams({ labelsAll: ["Any"] })).toEqual({});
    expect(listFilterParams({ labelsAll: ["a,b"] })).toEqual({});
    expect(listFilterParams({ labelsNone: ["none", "ok", "c,d"] })).toEqual({ "not[labels]": "ok" });
    expect(listFilterParams(null)).toEqual({});
  });
});
