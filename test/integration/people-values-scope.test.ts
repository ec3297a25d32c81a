/**
 * People, values and scope through the Worker: value maps and creation policies, sync scope and
 * per-field direction, on every tracker that has the field, and the settings' bad inputs.
 */
import { describe, expect, it, vi } from "vitest";
import { api, createIssue, expectProblem, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import type { Provider } from "../../src/providers/types";

const TRACKERS: Provider[] = ["github", "gitlab", "gitea"];

async function waitSettled(projectId: string, issueId: string): Promise<any> {
  return vi.waitFor(
    async () => {
      const issue = await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}`));
      if (issue.syncState === "pending_push") throw new Error("still pending");
      return issue;
    },
    { timeout: 15_000, interval: 25 },
  );
}

async function patchProject(projectId: string, body: Record<string, unknown>, query = ""): Promise<Response> {
  return api(`/api/v1/projects/${projectId}${query}`, { method: "PATCH", body });
}

const writes = (fake: { requests: { method: string }[] }) => fake.requests.filter((r) => r.method !== "GET").length;

describe("settings: validation and activity", () => {
  it("answers the settings it stores, defaults included, and records each change as an activity entry with before and after", async () => {
    const { project } = await projectWithTracker("github");
    expect(project.labelPolicy).toEqual({ createMissing: "always" });
    expect(project.scope).toBeNull();
    expect(project.fieldDirections).toEqual({});
    const res = await patchProject(project.id, {
      fieldMaps: { labels: [{ local: "P1", tracker: ["priority/high", "prio-1"] }] },
      fieldDirections: { state: "inbound" },
    });
    expect(res.status).toBe(200);
    const updated = await json(res);
    expect(updated.fieldMaps.labels).toEqual([{ local: "P1", tracker: ["priority/high", "prio-1"] }]);
    expect(updated.fieldDirections).toEqual({ state: "inbound" });
    const activity = await json(await api(`/api/v1/projects/${project.id}/activity?kind=project.updated`));
    const entry = activity.items.at(-1);
    expect(entry.actor).toBeTruthy();
    expect(entry.changes.fieldDirections).toEqual({ before: {}, after: { state: "inbound" } });
    expect(entry.changes.fieldMaps.after.labels[0].local).toBe("P1");
  });

  it("refuses unknown setting names with 400 naming the field", async () => {
    const { project } = await projectWithTracker("github");
    const bad = await expectProblem(await patchProject(project.id, { fieldDirections: { titel: "inbound" } }), 400);
    expect(bad.errors!.map((e) => e.field)).toContain("fieldDirections.titel");
    const bad2 = await expectProblem(await patchProject(project.id, { scope: { labelAny: ["x"] } }), 400);
    expect(bad2.errors!.map((e) => e.field)).toContain("scope.labelAny");
    const bad3 = await expectProblem(await patchProject(project.id, { fieldMaps: { lables: [] } }), 400);
    expect(bad3.errors!.map((e) => e.field)).toContain("fieldMaps.lables");
  });

  it("refuses a label mapped twice with 400 naming the second mapping", async () => {
    const { project } = await projectWithTracker("gitlab");
    const body = { fieldMaps: { labels: [{ local: "P1", tracker: ["priority::high"] }, { local: "P2", tracker: ["priority::low", "priority::high"] }] } };
    const bad = await expectProblem(await patchProject(project.id, body), 400);
    expect(bad.errors).toEqual([expect.objectContaining({ field: "fieldMaps.labels.1.tracker.1" })]);
    const twiceLocal = { fieldMaps: { labels: [{ local: "P1", tracker: ["a"] }, { local: "P1", tracker: ["b"] }] } };
    expect((await expectProblem(await patchProject(project.id, twiceLocal), 400)).errors![0]!.field).toBe("fieldMaps.labels.1.local");
  });

  it("refuses a field direction wider than the project's with 422 naming the field, also when the project's direction narrows", async () => {
    const { project } = await projectWithTracker("gitea", { syncDirection: "inbound" });
    const bad = await expectProblem(await patchProject(project.id, { fieldDirections: { title: "both" } }), 422);
    expect(bad.errors).toEqual([expect.objectContaining({ field: "fieldDirections.title" })]);
    expect((await patchProject(project.id, { fieldDirections: { title: "none" } })).status).toBe(200);

    const { project: two } = await projectWithTracker("github", { fieldDirections: { labels: "outbound" } });
    const narrowed = await expectProblem(await patchProject(two.id, { syncDirection: "inbound" }), 422);
    expect(narrowed.errors![0]!.field).toBe("fieldDirections.labels");
    const created = await api("/api/v1/projects", { method: "POST", body: { name: "x", provider: "github", repository: "o/r", token: "t", webhookSecret: "x".repeat(20), syncDirection: "outbound", fieldDirections: { body: "inbound" } } });
    expect((await expectProblem(created, 422)).errors![0]!.field).toBe("fieldDirections.body");
  });

  it("accepts a scope that matches nothing, with a warning naming scope", async () => {
    const { project } = await projectWithTracker("github");
    const res = await patchProject(project.id, { scope: { labelsAny: ["sync"], labelsNone: ["sync"] } });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.warnings).toEqual([expect.objectContaining({ field: "scope" })]);
    expect(body.scope).toEqual({ labelsAny: ["sync"], labelsNone: ["sync"], onLeave: "freeze" });
  });
});

describe.each(TRACKERS)("%s: value maps", (provider) => {
  it("imports any listed tracker label as its local value and writes a local value as the first tracker value", async () => {
    const { fake, project } = await projectWithTracker(provider, {
      fieldMaps: { labels: [{ local: "P1", tracker: ["priority-high", "prio-1"] }] },
    });
    const a = fake.seedIssue({ title: "A", labels: ["prio-1", "bug"] });
    const b = fake.seedIssue({ title: "B", labels: ["priority-high"] });
    await syncAndWait(project.id);
    const local = await localByNumber(project.id);
    expect(local.get(a.number)!.labels).toEqual(["P1", "bug"]);
    expect(local.get(b.number)!.labels).toEqual(["P1"]);

    const created = await createIssue(project.id, { title: "Local P1", labels: ["P1", "docs"] });
    const settled = await waitSettled(project.id, created.id);
    expect(settled.syncState).toBe("synced");
    expect(fake.issue(settled.external.number)!.labels.sort()).toEqual(["docs", "priority-high"]);
    expect(settled.labels).toEqual(["P1", "docs"]);

    // The tracker-side alias stays as it is until local labels change: no write for a re-read.
    const before = writes(fake);
    await syncAndWait(project.id, "full");
    expect(writes(fake)).toBe(before);
    expect(fake.issue(a.number)!.labels.sort()).toEqual(["bug", "prio-1"]);
  });
});

async function commentsOf(projectId: string, issueId: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments?limit=500`))).items;
}

describe.each(TRACKERS)("%s: sync scope", (provider) => {
  it("imports only issues in scope; one entering scope is imported with its comments; one leaving is frozen, never closed or deleted", async () => {
    const { fake, project } = await projectWithTracker(provider, { scope: { labelsAny: ["syndarix"], labelsNone: ["wontsync"] } });
    const inside = fake.seedIssue({ title: "in scope", labels: ["syndarix"] });
    const outside = fake.seedIssue({ title: "out of scope", labels: ["bug"] });
    const excluded = fake.seedIssue({ title: "excluded", labels: ["syndarix", "wontsync"] });
    fake.addComment(outside.number, { body: "said before it was in scope", author: "carol" });
    await syncAndWait(project.id);
    let local = await localByNumber(project.id);
    expect([...local.keys()]).toEqual([inside.number]);
    expect(local.has(excluded.number)).toBe(false);

    // Entering scope: the next poll imports it, with the comments it already had.
    fake.edit(outside.number, { labels: ["bug", "syndarix"] });
    await syncAndWait(project.id);
    local = await localByNumber(project.id);
    const entered = local.get(outside.number);
    expect(entered?.labels).toEqual(["bug", "syndarix"]);
    await vi.waitFor(async () => expect((await commentsOf(project.id, entered.id)).map((c) => c.body)).toEqual(["said before it was in scope"]), { timeout: 10_000, interval: 50 });

    // Leaving scope: frozen. Tracker edits stop arriving, local edits stop leaving, nothing closes.
    fake.edit(inside.number, { labels: [] });
    await syncAndWait(project.id);
    fake.edit(inside.number, { title: "renamed on the tracker", state: "closed" });
    await syncAndWait(project.id, "full");
    const frozen = (await localByNumber(project.id)).get(inside.number)!;
    expect(frozen.title).toBe("in scope");
    expect(frozen.state).toBe("open");
    expect(frozen.labels).toEqual(["syndarix"]);
    expect(frozen.syncState).not.toBe("orphaned");
    expect(frozen.deletedAt).toBeNull();
    const before = writes(fake);
    const res = await api(`/api/v1/projects/${project.id}/issues/${frozen.id}`, { method: "PATCH", body: { body: "edited locally while frozen" } });
    expect(res.status).toBe(200);
    // The push job finds the issue out of scope and sends nothing (the change waits for scope).
    await new Promise((r) => setTimeout(r, 500));
    expect(writes(fake)).toBe(before);
    expect(fake.issue(inside.number)!.title).toBe("renamed on the tracker");
    expect(fake.issue(inside.number)!.body).not.toBe("edited locally while frozen");
  });

  it("a local issue out of scope is not created on the tracker; one in scope is", async () => {
    const { fake, project } = await projectWithTracker(provider, { scope: { labelsAny: ["syndarix"] } });
    const outside = await createIssue(project.id, { title: "local only" });
    const inside = await createIssue(project.id, { title: "goes out", labels: ["syndarix"] });
    const pushed = await waitSettled(project.id, inside.id);
    expect(fake.issue(pushed.external.number)!.title).toBe("goes out");
    await new Promise((r) => setTimeout(r, 200));
    const kept = await json(await api(`/api/v1/projects/${project.id}/issues/${outside.id}`));
    expect(kept.external).toBeNull();
    expect([...fake.store.issues.values()].some((i) => i.title === "local only")).toBe(false);
  });

  it("state: open leaves closed tracker issues out", async () => {
    const { fake, project } = await projectWithTracker(provider, { scope: { state: "open" } });
    const open = fake.seedIssue({ title: "open one" });
    const closed = fake.seedIssue({ title: "closed one", state: "closed" });
    await syncAndWait(project.id);
    const local = await localByNumber(project.id);
    expect(local.has(open.number)).toBe(true);
    expect(local.has(closed.number)).toBe(false);
  });
});

describe.each(TRACKERS)("%s: per-field direction", (provider) => {
  it("state inbound: the tracker's close arrives, a local state edit is refused; title outbound: tracker drift is put back; body none: neither way", async () => {
    const { fake, project } = await projectWithTracker(provider, { fieldDirections: { state: "inbound", title: "outbound", body: "none" } });
    const seeded = fake.seedIssue({ title: "Original", body: "tracker body" });
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(seeded.number)!;
    expect(issue.body).toBe("tracker body"); // imported: creation follows syncDirection

    const refused = await expectProblem(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { state: "closed" } }), 409);
    expect(refused.detail).toMatch(/state/);

    fake.edit(seeded.number, { state: "closed", title: "Renamed on the tracker", body: "new tracker body" });
    await syncAndWait(project.id);
    await waitSettled(project.id, issue.id);
    const after = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`));
    expect(after.state).toBe("closed");
    expect(after.body).toBe("tracker body");
    expect(after.title).toBe("Original");
    expect(fake.issue(seeded.number)!.title).toBe("Original");
    expect(fake.issue(seeded.number)!.body).toBe("new tracker body");

    const edited = await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { body: "local body", title: "Local title" } });
    expect(edited.status).toBe(200);
    await waitSettled(project.id, issue.id);
    expect(fake.issue(seeded.number)!.title).toBe("Local title");
    expect(fake.issue(seeded.number)!.body).toBe("new tracker body");
    const conflicts = await json(await api(`/api/v1/projects/${project.id}/conflicts`));
    expect(conflicts.items ?? conflicts).toEqual([]);
  });
});

describe.each(TRACKERS)("%s: creation policies", (provider) => {
  it("labelPolicy never: a label the tracker lacks is a syncWarnings entry, the rest of the push goes through, and nothing loops", async () => {
    const { fake, project } = await projectWithTracker(provider, { labelPolicy: { createMissing: "never" } });
    fake.store.ensureLabel("bug");
    const created = await createIssue(project.id, { title: "Labels", labels: ["bug", "brand-new"] });
    const issue = await waitSettled(project.id, created.id);
    expect(issue.syncState).toBe("synced");
    expect(fake.issue(issue.external.number)!.labels).toEqual(["bug"]);
    expect(fake.store.labels.has("brand-new")).toBe(false);
    expect(issue.labels).toEqual(["brand-new", "bug"]);
    expect(issue.syncWarnings).toEqual([expect.objectContaining({ field: "labels", reason: expect.stringContaining('"brand-new"') })]);

    await api(`/api/v1/projects/${project.id}/issues/${created.id}`, { method: "PATCH", body: { title: "Labels (edited)" } });
    const edited = await waitSettled(project.id, created.id);
    expect(fake.issue(issue.external.number)!.title).toBe("Labels (edited)");
    const before = writes(fake);
    await syncAndWait(project.id);
    await new Promise((r) => setTimeout(r, 200));
    expect(writes(fake)).toBe(before);
    expect(edited.labels).toEqual(["brand-new", "bug"]);
  });

  it("labelPolicy mapped_only: a mapped label may be created, an unmapped one may not", async () => {
    const { fake, project } = await projectWithTracker(provider, {
      labelPolicy: { createMissing: "mapped_only" },
      fieldMaps: { labels: [{ local: "P1", tracker: ["priority-high"] }] },
    });
    const created = await createIssue(project.id, { title: "Mapped only", labels: ["P1", "stray"] });
    const issue = await waitSettled(project.id, created.id);
    expect(fake.issue(issue.external.number)!.labels).toEqual(["priority-high"]);
    expect(issue.labels).toEqual(["P1", "stray"]);
    expect(issue.syncWarnings.map((w: any) => w.field)).toEqual(["labels"]);
  });

  it("milestonePolicy: a missing milestone is created when allowed, else kept locally with a warning while the rest is pushed", async () => {
    const { fake, project } = await projectWithTracker(provider, { milestonePolicy: { createMissing: true } });
    const made = await createIssue(project.id, { title: "Milestone made", milestone: "v9" });
    const one = await waitSettled(project.id, made.id);
    expect(one.syncState).toBe("synced");
    expect(fake.store.milestones.has("v9")).toBe(true);
    expect(fake.issue(one.external.number)!.milestone).toBe("v9");

    await patchProject(project.id, { milestonePolicy: { createMissing: false } });
    const res = await api(`/api/v1/projects/${project.id}/issues/${made.id}`, { method: "PATCH", body: { milestone: "v10", title: "Milestone kept" } });
    expect(res.status).toBe(200);
    const two = await waitSettled(project.id, made.id);
    expect(two.syncState).toBe("synced");
    expect(fake.issue(one.external.number)!.title).toBe("Milestone kept");
    expect(fake.issue(one.external.number)!.milestone).toBe("v9");
    expect(fake.store.milestones.has("v10")).toBe(false);
    expect(two.milestone).toBe("v10");
    expect(two.syncWarnings).toEqual([expect.objectContaining({ field: "milestone", reason: expect.stringContaining("v10") })]);
  });
});

describe.each(TRACKERS)("%s: dry run", (provider) => {
  it("PATCH ?dryRun=true answers what the new settings would do and changes nothing on either side", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const a = fake.seedIssue({ title: "A", labels: ["prio-1", "syndarix"] });
    const b = fake.seedIssue({ title: "B", labels: ["bug"] });
    await syncAndWait(project.id);
    const before = await localByNumber(project.id);
    const activityBefore = (await json(await api(`/api/v1/projects/${project.id}/activity?limit=500`))).items.length;
    const trackerWrites = writes(fake);

    const res = await patchProject(
      project.id,
      { fieldMaps: { labels: [{ local: "P1", tracker: ["prio-1"] }] }, scope: { labelsAny: ["syndarix"] } },
      "?dryRun=true",
    );
    expect(res.status).toBe(200);
    const report = await json(res);
    expect(report).toMatchObject({ dryRun: true, wouldCreate: 0, wouldUpdate: 1, wouldLeaveScope: 1, wouldOrphan: 0, complete: true });
    const update = report.samples.find((s: any) => s.action === "update");
    expect(update).toMatchObject({ externalNumber: a.number, changes: { labels: { before: ["prio-1", "syndarix"], after: ["P1", "syndarix"] } }, push: [] });
    expect(report.samples.find((s: any) => s.action === "leave_scope")).toMatchObject({ externalNumber: b.number });

    const stored = await json(await api(`/api/v1/projects/${project.id}`));
    expect(stored.fieldMaps.labels).toEqual([]);
    expect(stored.scope).toBeNull();
    expect((await json(await api(`/api/v1/projects/${project.id}/activity?limit=500`))).items.length).toBe(activityBefore);
    expect(await localByNumber(project.id)).toEqual(before);
    expect(writes(fake)).toBe(trackerWrites);
  });

  it("POST sync { mode: full, dryRun: true } counts imports, updates and would-be orphans without starting a run", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const kept = fake.seedIssue({ title: "kept" });
    const gone = fake.seedIssue({ title: "gone" });
    await syncAndWait(project.id);
    const runs = (await json(await api(`/api/v1/projects/${project.id}/sync-runs`))).items.length;
    fake.edit(kept.number, { title: "kept, renamed" });
    fake.delete(gone.number);
    fake.seedIssue({ title: "new" });
    const res = await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "full", dryRun: true } });
    expect(res.status).toBe(200);
    const report = await json(res);
    expect(report).toMatchObject({ dryRun: true, wouldCreate: 1, wouldUpdate: 1, wouldOrphan: 1, wouldLeaveScope: 0 });
    expect(report.samples.map((s: any) => s.action).sort()).toEqual(["create", "orphan", "update"]);
    expect((await json(await api(`/api/v1/projects/${project.id}/sync-runs`))).items.length).toBe(runs);
    expect((await localByNumber(project.id)).get(kept.number)!.title).toBe("kept");

    const incremental = await expectProblem(await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: { mode: "incremental", dryRun: true } }), 400);
    expect(incremental.errors!.map((e) => e.field)).toEqual(["dryRun"]);
    const withToken = await expectProblem(await patchProject(project.id, { token: "another-token", labelPolicy: { createMissing: "never" } }, "?dryRun=true"), 400);
    expect(withToken.errors!.map((e) => e.field)).toEqual(["token"]);
  });
});

describe.each(TRACKERS)("%s: comment direction", (provider) => {
  it("comments inbound: tracker comments arrive, local comments are refused; comments none: tracker comments stay out and local ones stay local", async () => {
    const { fake, project } = await projectWithTracker(provider, { fieldDirections: { comments: "inbound" } });
    const seeded = fake.seedIssue({ title: "talk" });
    fake.addComment(seeded.number, { body: "from the tracker", author: "carol" });
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(seeded.number)!;
    await vi.waitFor(async () => expect((await commentsOf(project.id, issue.id)).map((c) => c.body)).toEqual(["from the tracker"]), { timeout: 10_000, interval: 50 });
    await expectProblem(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments`, { method: "POST", body: { body: "local" } }), 409);

    await patchProject(project.id, { fieldDirections: { comments: "none" } });
    fake.addComment(seeded.number, { body: "second from the tracker" });
    fake.edit(seeded.number, { title: "talk (touched)" });
    const before = writes(fake);
    const res = await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments`, { method: "POST", body: { body: "stays local" } });
    expect(res.status).toBe(201);
    await syncAndWait(project.id);
    await new Promise((r) => setTimeout(r, 300));
    expect((await commentsOf(project.id, issue.id)).map((c) => c.body).sort()).toEqual(["from the tracker", "stays local"]);
    expect(fake.requests.slice(0).filter((r) => r.method !== "GET").length).toBe(before);
  });
});
