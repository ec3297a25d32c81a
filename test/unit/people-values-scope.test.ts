/** The pure parts of people, values and scope: value maps, the scope predicate and per-field direction. */
import { describe, expect, it } from "vitest";
import { directDecision, narrows, outboundFields } from "../../src/sync/field-directions";
import { inScope, scopeMatchesNothing } from "../../src/sync/scope";
import { mapInbound, mapOutbound, valueMaps } from "../../src/sync/value-maps";

const fields = (over: Record<string, unknown> = {}) => ({ title: "t", body: "b", state: "open" as const, labels: [], assignees: [], milestone: null, ...over });

describe("value maps", () => {
  const maps = valueMaps({
    labels: [{ local: "P1", tracker: ["priority/high", "prio-1"] }],
    milestone: [{ local: "2026.1", tracker: ["Release 2026.1", "r2026.1"] }],
  });

  it("maps any listed tracker value inbound and the first one outbound; other values pass through", () => {
    expect(mapInbound(maps, { labels: ["prio-1", "bug"], milestone: "r2026.1" })).toEqual({ labels: ["P1", "bug"], milestone: "2026.1" });
    expect(mapOutbound(maps, { labels: ["P1", "bug"], milestone: "2026.1" })).toEqual({ labels: ["bug", "priority/high"], milestone: "Release 2026.1" });
    expect(mapOutbound(maps, { milestone: null })).toEqual({ milestone: null });
    expect(mapInbound(maps, { labels: ["priority/high", "prio-1"] })).toEqual({ labels: ["P1"] });
  });
});

describe("scope", () => {
  const issue = { labels: ["syndarix"], state: "open" as const, createdAt: "2026-03-01T00:00:00Z" };
  it("needs one of labelsAny, none of labelsNone, the state and the creation date", () => {
    expect(inScope(null, issue)).toBe(true);
    expect(inScope({ labelsAny: ["syndarix", "x"], onLeave: "freeze" }, issue)).toBe(true);
    expect(inScope({ labelsAny: ["x"], onLeave: "freeze" }, issue)).toBe(false);
    expect(inScope({ labelsAny: ["P1"], onLeave: "freeze" }, issue, ["P1"])).toBe(true);
    expect(inScope({ labelsNone: ["syndarix"], onLeave: "freeze" }, issue)).toBe(false);
    expect(inScope({ state: "open", onLeave: "freeze" }, { ...issue, state: "closed" })).toBe(false);
    expect(inScope({ createdSince: "2026-04-01T00:00:00Z", onLeave: "freeze" }, issue)).toBe(false);
  });

  it("warns about a scope no issue can match", () => {
    expect(scopeMatchesNothing({ labelsAny: ["a"], labelsNone: ["a"], onLeave: "freeze" })).toMatch(/labelsNone/);
    expect(scopeMatchesNothing({ labelsAny: ["a", "b"], labelsNone: ["a"], onLeave: "freeze" })).toBeNull();
  });
});

describe("per-field direction", () => {
  it("a field may narrow the project's direction, never widen it", () => {
    expect(narrows("inbound", "inbound")).toBe(true);
    expect(narrows("inbound", "none")).toBe(true);
    expect(narrows("inbound", "both")).toBe(false);
    expect(narrows("inbound", "outbound")).toBe(false);
    expect(narrows("outbound", "inbound")).toBe(false);
    expect(narrows("bidirectional", "outbound")).toBe(true);
    expect(outboundFields({ syncDirection: "bidirectional" }, { title: "inbound", body: "none" })).toEqual(["state", "labels", "assignees", "milestone"]);
  });

  it("filters a decision: inbound fields take the tracker, outbound and none keep local, conflicts only on both fields", () => {
    const local = fields({ title: "L", body: "L", state: "closed" });
    const tracker = fields({ title: "T", body: "T", state: "open" });
    const conflicts = (["title", "body", "state"] as const).map((field) => ({ field, base: "B", local: "L", tracker: "T", resolution: "tracker" as const, value: "T" }));
    const merged = fields({ title: "T", body: "T", state: "open" });
    const d = directDecision({ syncDirection: "bidirectional" }, { title: "inbound", body: "none", state: "outbound" }, local, tracker, merged, conflicts);
    expect(d.merged).toMatchObject({ title: "T", body: "L", state: "closed" });
    expect(d.conflicts).toEqual([]);
    expect(d.pushFields).toEqual(["state"]);
    const unset = directDecision({ syncDirection: "bidirectional" }, {}, local, tracker, merged, conflicts);
    expect(unset.conflicts).toHaveLength(3);
  });
});
