/**
 * The sync scope pushed down to GitLab's issue list filters (`labels`, `not[labels]`, `state`,
 * `created_after`), with the local filter still applied to what is listed.
 */
import { describe, expect, it } from "vitest";
import { api, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";

/** The query of every issue listing request (first pages: the ones the adapter built). */
function listingQueries(fake: { requests: { method: string; path: string }[] }): URLSearchParams[] {
  return fake.requests
    .filter((r) => r.method === "GET" && /\/issues\?/.test(r.path) && !r.path.includes("/notes"))
    .map((r) => new URLSearchParams(r.path.split("?")[1]));
}

describe("gitlab: scope pushdown", () => {
  it("sends labels, not[labels], state and created_after, and imports exactly the issues in scope", async () => {
    const { fake, project } = await projectWithTracker("gitlab", {
      scope: { labelsAny: ["syndarix"], labelsNone: ["wontsync"], state: "open", createdSince: "2000-01-01T00:00:00Z" },
    });
    const inside = fake.seedIssue({ title: "in", labels: ["syndarix", "bug"] });
    fake.seedIssue({ title: "no label", labels: ["bug"] });
    fake.seedIssue({ title: "excluded", labels: ["syndarix", "wontsync"] });
    const closed = fake.seedIssue({ title: "closed", labels: ["syndarix"] });
    fake.edit(closed.number, { state: "closed" });
    const run = await syncAndWait(project.id);
    const local = await localByNumber(project.id);
    expect([...local.values()].map((i) => i.title)).toEqual(["in"]);
    expect(local.get(inside.number)).toBeDefined();
    const query = listingQueries(fake)[0]!;
    expect(query.get("labels")).toBe("syndarix");
    expect(query.get("not[labels]")).toBe("wontsync");
    expect(query.get("state")).toBe("opened");
    expect(query.get("created_after")).toBe("2000-01-01T00:00:00.000Z");
    // The tracker answered only the issue in scope.
    expect(run.stats.fetched).toBe(1);
  });

  it("does not push down an OR of labels or a label value maps give several tracker names; the local filter decides", async () => {
    const { fake, project } = await projectWithTracker("gitlab", {
      fieldMaps: { labels: [{ local: "P1", tracker: ["priority::high", "prio-1"] }] },
      scope: { labelsAny: ["P1"], labelsNone: ["P1-ignored"] },
    });
    const a = fake.seedIssue({ title: "alias one", labels: ["prio-1"] });
    const b = fake.seedIssue({ title: "alias two", labels: ["priority::high"] });
    fake.seedIssue({ title: "other", labels: ["bug"] });
    await syncAndWait(project.id);
    const local = await localByNumber(project.id);
    expect([...local.keys()].sort()).toEqual([a.number, b.number].sort());
    const query = listingQueries(fake)[0]!;
    expect(query.has("labels")).toBe(false);
    expect(query.get("not[labels]")).toBe("P1-ignored");

    const { fake: two, project: or } = await projectWithTracker("gitlab", { scope: { labelsAny: ["a", "b"], labelsNone: ["x"] } });
    const first = two.seedIssue({ title: "a", labels: ["a"] });
    const second = two.seedIssue({ title: "b", labels: ["b", "other"] });
    two.seedIssue({ title: "a but x", labels: ["a", "x"] });
    two.seedIssue({ title: "neither", labels: [] });
    await syncAndWait(or.id);
    expect([...(await localByNumber(or.id)).keys()].sort()).toEqual([first.number, second.number].sort());
    expect(listingQueries(two)[0]!.has("labels")).toBe(false);
  });

  it("leaves a label named like a GitLab keyword (None, Any) to the local filter", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { scope: { labelsAny: ["None"] } });
    const literal = fake.seedIssue({ title: "labelled None", labels: ["None"] });
    fake.seedIssue({ title: "no labels", labels: [] });
    await syncAndWait(project.id);
    expect([...(await localByNumber(project.id)).keys()]).toEqual([literal.number]);
    expect(listingQueries(fake)[0]!.has("labels")).toBe(false);
  });

  it("an issue leaving scope drops out of the filtered listing; the full run's probe still finds it and unlinks it (onLeave unlink), closing nothing", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { scope: { labelsAny: ["syndarix"], onLeave: "unlink" } });
    const seeded = fake.seedIssue({ title: "in scope", labels: ["syndarix"] });
    await syncAndWait(project.id);
    const local = (await localByNumber(project.id)).get(seeded.number)!;
    fake.edit(seeded.number, { labels: [] });
    await syncAndWait(project.id);
    // Not listed any more (the tracker filters it out): still linked after an incremental run.
    expect((await json(await api(`/api/v1/projects/${project.id}/issues/${local.id}`))).external).not.toBeNull();
    await syncAndWait(project.id, "full");
    const after = await json(await api(`/api/v1/projects/${project.id}/issues/${local.id}`));
    expect(after).toMatchObject({ external: null, state: "open", deletedAt: null, syncState: "synced" });
    expect(fake.issue(seeded.number)).toMatchObject({ state: "open", deleted: false });
  });
});

describe("github and gitea: scope filtered locally", () => {
  it.each(["github", "gitea"] as const)("%s lists every issue and imports only those in scope", async (provider) => {
    const { fake, project } = await projectWithTracker(provider, { scope: { labelsAny: ["syndarix"] } });
    const inside = fake.seedIssue({ title: "in", labels: ["syndarix"] });
    fake.seedIssue({ title: "out", labels: ["bug"] });
    await syncAndWait(project.id);
    expect([...(await localByNumber(project.id)).keys()]).toEqual([inside.number]);
    for (const query of listingQueries(fake)) expect(query.has("labels")).toBe(false);
  });
});
