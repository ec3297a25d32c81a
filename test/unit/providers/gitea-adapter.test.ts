import { describe, expect, it } from "vitest";
import { RateLimitedError } from "../../../src/providers";
import { allPages, trackerWithFake } from "./tracker-harness";

describe("Gitea adapter against the fake", () => {
  it("reads every page of an unordered list, without pull requests", async () => {
    const { fake, tracker } = trackerWithFake("gitea", { perPage: 10 });
    fake.seed(35, { pullRequestEvery: 5 });
    fake.edit(2, { title: "Edited old issue" });
    expect(tracker.orderedByUpdate).toBe(false);
    expect(tracker.pageSize).toBe(50);
    const pages = await allPages(tracker);
    expect(pages).toHaveLength(3);
    const issues = pages.flatMap((p) => p.issues);
    expect(issues).toHaveLength(28);
    // Newest created first: the edited old issue stays near the end, not at the front.
    expect(issues.map((i) => i.number).slice(-2)).toEqual([2, 1]);
    expect(issues.at(-2)).toMatchObject({ title: "Edited old issue" });
    expect(fake.requests[0]?.path).toBe("/repos/acme/widgets/issues?state=all&type=issues&limit=50");
    expect(fake.requests[0]?.headers.authorization).toBe("token test-token");
  });

  it("normalizes +02:00 timestamps to UTC", async () => {
    const { fake, tracker } = trackerWithFake("gitea");
    fake.seed(1);
    expect(String(fake.apiIssue(1).created_at)).toBe("2024-01-01T02:00:00+02:00");
    const page = await tracker.listPage({});
    expect(page.issues[0]?.createdAt).toBe("2024-01-01T00:00:00.000Z");
  });

  it("compares since in whole seconds, inclusive", async () => {
    const { fake, tracker } = trackerWithFake("gitea", { tickMs: 250 });
    fake.seed(2);
    fake.advance(5_000);
    const edited = fake.edit(1, { title: "x" });
    // Later in the same second than the edit: Gitea's whole-second comparison still includes it.
    const sinceWithMillis = new Date(Math.floor(edited.updatedAt / 1000) * 1000 + 999).toISOString();
    const page = await tracker.listPage({ since: sinceWithMillis });
    expect(page.issues.map((i) => i.number)).toEqual([1]);
    expect(fake.requests.at(-1)?.path).toContain(`since=${encodeURIComponent(sinceWithMillis.slice(0, 19) + "Z")}`);
  });

  it("handles PATCH answering 201 and sets labels by id through their own endpoint", async () => {
    const { fake, tracker } = trackerWithFake("gitea");
    fake.seedIssue({ labels: ["old"] });
    fake.store.ensureLabel("bug");
    fake.store.addMilestone("1.0");
    const updated = await tracker.updateIssue(1, { title: "T2", labels: ["bug", "brand-new"], assignees: ["alice"], milestone: "1.0", state: "closed" });
    expect(updated).toMatchObject({ title: "T2", labels: ["brand-new", "bug"], assignees: ["alice"], milestone: "1.0", state: "closed" });
    const patch = fake.requests.find((r) => r.method === "PATCH");
    expect(patch?.status).toBe(201);
    expect(patch?.body).toEqual({ title: "T2", state: "closed", assignees: ["alice"], milestone: fake.store.milestones.get("1.0")?.id });
    const put = fake.requests.find((r) => r.method === "PUT");
    expect(put?.path).toBe("/repos/acme/widgets/issues/1/labels");
    expect(put?.body).toEqual({ labels: [fake.store.labels.get("bug")?.id, fake.store.labels.get("brand-new")?.id] });
    expect(fake.requests.some((r) => r.method === "POST" && r.path === "/repos/acme/widgets/labels")).toBe(true);
  });

  it("updates labels alone without a PATCH and clears a milestone with 0", async () => {
    const { fake, tracker } = trackerWithFake("gitea");
    fake.seedIssue({ labels: ["a"], milestone: "m" });
    expect(await tracker.updateIssue(1, { labels: [] })).toMatchObject({ labels: [], milestone: "m" });
    expect(fake.requests.some((r) => r.method === "PATCH")).toBe(false);
    expect(await tracker.updateIssue(1, { milestone: null })).toMatchObject({ milestone: null });
    expect(fake.requests.at(-1)?.body).toEqual({ milestone: 0 });
  });

  it("creates closed issues with label ids in one request", async () => {
    const { fake, tracker } = trackerWithFake("gitea");
    fake.store.ensureLabel("bug");
    const created = await tracker.createIssue({ title: "C", body: "", labels: ["bug"], assignees: [], milestone: null, state: "closed" });
    expect(created).toMatchObject({ title: "C", state: "closed", labels: ["bug"], assignees: [] });
    expect(fake.requests.find((r) => r.path === "/repos/acme/widgets/issues" && r.method === "POST")?.body).toEqual({
      title: "C",
      body: "",
      assignees: [],
      labels: [fake.store.labels.get("bug")?.id],
      closed: true,
    });
  });

  it("reports 404 as deleted and adopts a lost create by created_by", async () => {
    const { fake, tracker } = trackerWithFake("gitea");
    fake.seed(1);
    fake.delete(1);
    expect(await tracker.getIssue(1)).toEqual({ status: "deleted" });
    const since = fake.now;
    fake.dropCreateResponse(1, "server_error");
    await expect(tracker.createIssue({ title: "Once", body: "", labels: [], assignees: [], milestone: null })).rejects.toThrow();
    expect(await tracker.findCreatedIssue("Once", since)).toMatchObject({ number: 2 });
    expect(fake.requests.at(-1)?.path).toContain("created_by=syndarix-bot");
  });

  it("reads a proxy's 429 Retry-After", async () => {
    const { fake, tracker } = trackerWithFake("gitea");
    fake.fail({ kind: "rate_limit", resetInSeconds: 45 });
    const error = (await tracker.listPage({}).catch((e: unknown) => e)) as RateLimitedError;
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.retryAt).toBe("2024-01-01T00:00:45.000Z");
  });
});
