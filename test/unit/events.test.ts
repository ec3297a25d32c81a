import { describe, expect, it } from "vitest";
import type { ActivityRow } from "../../src/db/schema";
import { MAX_ATTEMPTS, retryAfterMs, retryDelayMs } from "../../src/events/schedule";
import { eventsOfActivity, patternProblem, typeMatches } from "../../src/events/types";
import { checkSubscriptionUrl } from "../../src/events/url";

function row(over: Partial<ActivityRow>): ActivityRow {
  return { seq: 7, projectId: "p", issueId: "i", kind: "issue.updated", source: "webhook", actor: null, runId: null, deliveryId: null, changes: null, detail: null, createdAt: "2026-12-01T00:00:00.000Z", ...over };
}

describe("event types from the activity stream", () => {
  it("names a state change closed or reopened, a first push's number linked, a pause project.paused", () => {
    const t = (over: Partial<ActivityRow>) => eventsOfActivity(row(over)).map((e) => e.type);
    expect(t({ changes: JSON.stringify({ state: { before: "open", after: "closed" }, title: { before: "a", after: "b" } }) })).toEqual(["issue.closed"]);
    expect(t({ changes: JSON.stringify({ state: { before: "closed", after: "open" } }) })).toEqual(["issue.reopened"]);
    expect(t({ changes: JSON.stringify({ title: { before: "a", after: "b" } }) })).toEqual(["issue.updated"]);
    expect(t({ kind: "issue.pushed", changes: JSON.stringify({ externalNumber: { before: null, after: 12 } }) })).toEqual(["issue.linked"]);
    expect(t({ kind: "issue.pushed", changes: null })).toEqual([]);
    expect(t({ kind: "sync.paused", issueId: null })).toEqual(["project.paused"]);
    expect(t({ kind: "project.updated", issueId: null })).toEqual([]);
    expect(eventsOfActivity(row({ kind: "comment.created", detail: "comment c-1 created" }))[0]).toMatchObject({ type: "comment.created", commentId: "c-1", eventId: "evt_7" });
  });

  it("expands an import summary into one issue.created per id with ids <seq>-<index>, and an unreadable one into none", () => {
    const events = eventsOfActivity(row({ kind: "issue.imported", issueId: null, detail: JSON.stringify({ issueIds: ["a", "b", "c"] }) }));
    expect(events.map((e) => [e.eventId, e.type, e.issueId, e.positionIndex])).toEqual([
      ["evt_7-0", "issue.created", "a", 0],
      ["evt_7-1", "issue.created", "b", 1],
      ["evt_7-2", "issue.created", "c", 2],
    ]);
    expect(eventsOfActivity(row({ kind: "issue.imported", detail: "{not json" }))).toEqual([]);
  });

  it("qualifies a shard-n entry's position and event id by its shard, leaving shard 0's its seq", () => {
    expect(eventsOfActivity(row({}), 0).map((e) => [e.eventId, e.position])).toEqual([["evt_7", 7]]);
    expect(eventsOfActivity(row({}), 1).map((e) => [e.eventId, e.position])).toEqual([["evt_1000000000007", 1_000_000_000_007]]);
    expect(eventsOfActivity(row({ kind: "issue.imported", issueId: null, detail: JSON.stringify({ issueIds: ["a"] }) }), 2)[0]!.eventId).toBe("evt_2000000000007-0");
  });

  it("matches exact types and families, and names unknown patterns", () => {
    expect(typeMatches(["issue.*"], "issue.closed")).toBe(true);
    expect(typeMatches(["issue.*"], "issues.closed")).toBe(false);
    expect(typeMatches(["comment.created"], "comment.updated")).toBe(false);
    expect(patternProblem("pull_request.*")).toBeNull();
    expect(patternProblem("*")).toContain("neither");
    expect(patternProblem("nope.*")).toContain("neither");
  });
});

describe("retry schedule", () => {
  it("retries immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h within ±20 %, then stops", () => {
    const base = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
    base.forEach((ms, i) => {
      expect(retryDelayMs(i + 1, () => 0)).toBe(Math.round(ms * 0.8));
      expect(retryDelayMs(i + 1, () => 1)).toBe(Math.round(ms * 1.2));
    });
    expect(retryDelayMs(MAX_ATTEMPTS, () => 0.5)).toBeNull();
    expect(MAX_ATTEMPTS).toBe(9);
  });

  it("reads Retry-After as seconds or an HTTP date, capped at 12 hours", () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    expect(retryAfterMs("120", now)).toBe(120_000);
    expect(retryAfterMs("Tue, 01 Dec 2026 00:02:00 GMT", now)).toBe(120_000);
    expect(retryAfterMs("999999", now)).toBe(12 * 3_600_000);
    expect(retryAfterMs("soon", now)).toBeNull();
    expect(retryAfterMs(null, now)).toBeNull();
  });
});

describe("subscription URLs", () => {
  it("refuses internal addresses in every spelling the URL parser normalises", () => {
    for (const url of ["https://017700000001/", "https://127.0.0.1./", "https://[::ffff:7f00:1]/", "https://[0:0:0:0:0:0:0:1]/", "https://[fc00::1]/", "https://224.0.0.1/"]) {
      expect(checkSubscriptionUrl(url, []).ok, url).toBe(false);
    }
    expect(checkSubscriptionUrl("https://hooks.example.com/a?b=c", [])).toEqual({ ok: true, value: "https://hooks.example.com/a?b=c" });
  });

  it("lets an operator list one exact host (with its port) for a local receiver, and nothing else on that address", () => {
    expect(checkSubscriptionUrl("http://127.0.0.1:8790/hook", ["127.0.0.1:8790"]).ok).toBe(true);
    expect(checkSubscriptionUrl("http://127.0.0.1:8791/hook", ["127.0.0.1:8790"]).ok).toBe(false);
    expect(checkSubscriptionUrl("http://127.0.0.1/hook", ["127.0.0.1:8790"]).ok).toBe(false);
    expect(checkSubscriptionUrl("http://user@127.0.0.1:8790/hook", ["127.0.0.1:8790"]).ok).toBe(false);
  });
});
