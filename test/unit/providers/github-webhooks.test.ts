import examples from "@octokit/webhooks-examples/api.github.com/index.json";
import { describe, expect, it } from "vitest";
import { parseWebhook, WebhookPayloadError, type IssueAction } from "../../../src/providers";
import { FakeTracker } from "../../fakes/fake-tracker.ts";

interface ExampleGroup {
  name: string;
  examples: Record<string, unknown>[];
}
interface RawIssue {
  id: number;
  number: number;
  title: string;
  body: string | null;
  state?: string;
  html_url: string;
  labels?: { name: string }[];
  assignees: { login: string; id: number }[];
  milestone: { title: string } | null;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
}

const groups = examples as unknown as ExampleGroup[];
const group = (name: string) => groups.find((g) => g.name === name)?.examples ?? [];
const event = (name: string) => new Headers({ "X-GitHub-Event": name });

const CANONICAL: Record<string, IssueAction> = {
  opened: "opened",
  edited: "edited",
  closed: "closed",
  reopened: "reopened",
  deleted: "deleted",
  transferred: "transferred",
  labeled: "labeled",
  unlabeled: "labeled",
  assigned: "assigned",
  unassigned: "assigned",
  milestoned: "milestoned",
  demilestoned: "milestoned",
  locked: "other",
  unlocked: "other",
  pinned: "other",
  unpinned: "other",
  typed: "other",
  untyped: "other",
};

const iso = (s: string) => new Date(s).toISOString();

describe("GitHub issues examples from @octokit/webhooks-examples", () => {
  const issues = group("issues");

  it("has examples to check", () => {
    expect(issues.length).toBeGreaterThan(20);
  });

  it.each(issues.map((p, i) => [`${i}: ${String(p.action)}`, p] as const))("%s maps to its canonical action and snapshot", (_, payload) => {
    const raw = payload.issue as RawIssue;
    const normalized = parseWebhook("github", event("issues"), payload);
    expect(normalized.kind).toBe("issue");
    expect(normalized.event).toBe("issues");
    expect(normalized.action).toBe(CANONICAL[String(payload.action)]);
    expect(normalized.issue).toEqual({
      externalId: String(raw.id),
      number: raw.number,
      url: raw.html_url,
      title: raw.title,
      body: raw.body ?? "",
      state: raw.state ?? (raw.closed_at ? "closed" : "open"),
      labels: [...new Set((raw.labels ?? []).map((l) => l.name))].sort(),
      assignees: [...new Set(raw.assignees.map((a) => a.login))].sort(),
      milestone: raw.milestone?.title ?? null,
      createdAt: iso(raw.created_at),
      updatedAt: iso(raw.updated_at),
      closedAt: raw.closed_at ? iso(raw.closed_at) : null,
      // Assignees carry GitHub's user ids: renamed logins are followed through them.
      ...(raw.assignees.length > 0 ? { assigneeIds: Object.fromEntries(raw.assignees.map((a) => [a.login, String(a.id)])) } : {}),
    });
    // The pinned/unpinned examples carry a trimmed issue (no state, no labels): no full snapshot.
    expect(normalized.complete).toBe(raw.labels !== undefined && raw.state !== undefined);
  });

  it("points a transfer at the new issue's html_url", () => {
    const transferred = issues.find((p) => p.action === "transferred");
    const changes = transferred?.changes as { new_issue: { html_url: string } };
    const normalized = parseWebhook("github", event("issues"), transferred);
    expect(normalized.action).toBe("transferred");
    expect(normalized.movedTo).toBe(changes.new_issue.html_url);
  });

  it("lists the fields an edit changed", () => {
    const edited = issues.find((p) => p.action === "edited" && Object.keys(p.changes as object).length > 0);
    const payload = edited ?? { ...issues.find((p) => p.action === "edited"), changes: { title: { from: "Old" } } };
    expect(parseWebhook("github", event("issues"), payload).changedFields).toContain("title");
    const labeled = issues.find((p) => p.action === "labeled");
    expect(parseWebhook("github", event("issues"), labeled).changedFields).toEqual(["labels"]);
  });
});

describe("GitHub non-issue events", () => {
  it.each(group("pull_request").map((p, i) => [`${i}: ${String(p.action)}`, p] as const))("pull_request %s is kind pull_request", (_, payload) => {
    const normalized = parseWebhook("github", event("pull_request"), payload);
    const pr = payload.pull_request as { number: number; html_url: string };
    expect(normalized.kind).toBe("pull_request");
    expect(normalized.issue).toBeNull();
    expect(normalized.action).toBe(payload.action);
    expect(normalized.summary).toMatchObject({ number: pr.number, url: pr.html_url });
  });

  it.each(group("push").map((p, i) => [i, p] as const))("push example %s is kind push", (_, payload) => {
    const normalized = parseWebhook("github", event("push"), payload);
    expect(normalized.kind).toBe("push");
    expect(normalized.summary).toMatchObject({ ref: payload.ref, commits: (payload.commits as unknown[]).length });
  });

  it("ping and unknown events are kind other; issue comments are kind comment (issue 12)", () => {
    for (const p of group("issue_comment")) expect(parseWebhook("github", event("issue_comment"), p).kind).toBe("comment");
    for (const name of ["ping", "star"]) {
      const payload = group(name)[0];
      expect(parseWebhook("github", event(name), payload).kind).toBe("other");
    }
    expect(parseWebhook("github", new Headers(), {}).kind).toBe("other");
  });
});

describe("GitHub payload validation", () => {
  const opened = group("issues").find((p) => p.action === "opened") as Record<string, unknown>;

  it("names the missing field of an issue event", () => {
    const { number: _, ...issue } = opened.issue as Record<string, unknown>;
    expect(() => parseWebhook("github", event("issues"), { ...opened, issue })).toThrow(WebhookPayloadError);
    expect(() => parseWebhook("github", event("issues"), { ...opened, issue })).toThrow(/issue\.number/);
    expect(() => parseWebhook("github", event("issues"), { action: "opened" })).toThrow(/issue/);
    expect(() => parseWebhook("github", event("issues"), null)).toThrow(WebhookPayloadError);
  });

  it("rejects a bad timestamp in an issue event", () => {
    const issue = { ...(opened.issue as Record<string, unknown>), updated_at: "not a time" };
    expect(() => parseWebhook("github", event("issues"), { ...opened, issue })).toThrow();
  });
});

describe("GitHub deliveries built by the fake", () => {
  it("label, assign and milestone actions carry a complete snapshot", async () => {
    const fake = new FakeTracker("github", { baseUrl: "https://api.github.com" });
    fake.seedIssue({ title: "T", labels: ["b", "a"], assignees: ["bob", "alice"], milestone: "v1" });
    for (const [action, canonical] of [["labeled", "labeled"], ["unassigned", "assigned"], ["demilestoned", "milestoned"]] as const) {
      const delivery = await fake.webhook(action, 1);
      const normalized = parseWebhook("github", new Headers(delivery.headers), JSON.parse(delivery.body));
      expect(normalized.action).toBe(canonical);
      expect(normalized.complete).toBe(true);
      expect(normalized.issue).toMatchObject({ labels: ["a", "b"], assignees: ["alice", "bob"], milestone: "v1" });
    }
  });

  it("a transfer names the new issue", async () => {
    const fake = new FakeTracker("github", { baseUrl: "https://api.github.com" });
    fake.seedIssue();
    fake.transfer(1);
    const delivery = await fake.webhook("transferred", 1);
    const normalized = parseWebhook("github", new Headers(delivery.headers), delivery.payload);
    expect(normalized.movedTo).toBe("https://github.com/acme/elsewhere/issues/901");
  });
});
