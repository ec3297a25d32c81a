/**
 * People: identity mappings (platform user ↔ tracker login per tracker origin) through the Worker,
 * on GitHub, GitLab and Gitea. Logins stay as the tracker holds them; a login no identity maps is
 * kept, never dropped, whichever side edits the assignees.
 */
import { describe, expect, it, vi } from "vitest";
import { api, expectProblem, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import type { Provider } from "../../src/providers/types";

const TRACKERS: Provider[] = ["github", "gitlab", "gitea"];

async function putIdentities(items: Record<string, unknown>[]): Promise<Response> {
  return api("/api/v1/identities", { method: "PUT", body: { items } });
}

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

const writes = (fake: { requests: { method: string }[] }) => fake.requests.filter((r) => r.method !== "GET").length;
const origin = (fake: { baseUrl: string }) => new URL(fake.baseUrl).origin;

describe("identities API", () => {
  it("is in the OpenAPI document, with the dry run and the new settings", async () => {
    const doc = await json(await api("/openapi.json", { token: null }));
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/api/v1/identities", "/api/v1/identities/{identityId}", "/api/v1/projects/{projectId}/identities/unmapped"]));
    expect(Object.keys(doc.paths["/api/v1/identities"])).toEqual(expect.arrayContaining(["put", "get"]));
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["DryRun", "FieldDirections", "FieldMaps", "SyncScope", "Identity"]));
    expect(doc.paths["/api/v1/projects/{projectId}"].patch.parameters.map((p: any) => p.name)).toContain("dryRun");
  });

  it("upserts in bulk, lists by user or login, deletes, and records each change on the tracker's projects", async () => {
    const { fake, project } = await projectWithTracker("github");
    const first = await putIdentities([
      { userId: "user-ann", provider: "github", trackerOrigin: fake.baseUrl, login: "ann", trackerUserId: 41 },
      { userId: "user-ben", provider: "github", trackerOrigin: origin(fake), login: "ben" },
    ]);
    expect(first.status).toBe(200);
    const stored = (await json(first)).items;
    expect(stored.map((i: any) => [i.login, i.userId, i.trackerOrigin, i.trackerUserId])).toEqual(
      expect.arrayContaining([["ann", "user-ann", origin(fake), "41"], ["ben", "user-ben", origin(fake), null]]),
    );
    // Upsert on (provider, origin, login): the same login now maps another user.
    const again = await json(await putIdentities([{ userId: "user-other", provider: "github", trackerOrigin: origin(fake), login: "ben" }]));
    expect(again.items[0].id).toBe(stored.find((i: any) => i.login === "ben").id);

    const byUser = await json(await api("/api/v1/identities?userId=user-other"));
    expect(byUser.items.map((i: any) => i.login)).toEqual(["ben"]);
    const byLogin = await json(await api("/api/v1/identities?login=ann"));
    expect(byLogin.items.some((i: any) => i.userId === "user-ann")).toBe(true);

    const ann = stored.find((i: any) => i.login === "ann");
    expect((await api(`/api/v1/identities/${ann.id}`, { method: "DELETE" })).status).toBe(204);
    await expectProblem(await api(`/api/v1/identities/${ann.id}`, { method: "DELETE" }), 404);

    const activity = await json(await api(`/api/v1/projects/${project.id}/activity?kind=identity.mapped,identity.unmapped`));
    const entries = activity.items.map((e: any) => [e.kind, e.changes, e.actor !== null]);
    expect(entries).toEqual([
      ["identity.mapped", { "login:ann": { before: null, after: "user-ann" } }, true],
      ["identity.mapped", { "login:ben": { before: null, after: "user-ben" } }, true],
      ["identity.mapped", { "login:ben": { before: "user-ben", after: "user-other" } }, true],
      ["identity.unmapped", { "login:ann": { before: "user-ann", after: null } }, true],
    ]);
  });

  it("bad inputs answer problem+json naming the field", async () => {
    const unknownKey = await expectProblem(await putIdentities([{ userId: "u", provider: "github", trackerOrigin: "https://api.github.com", login: "x", displayName: "X" }]), 400);
    expect(unknownKey.errors!.map((e) => e.field)).toContain("items.0.displayName");
    const badProvider = await expectProblem(await putIdentities([{ userId: "u", provider: "jira", trackerOrigin: "https://x.test", login: "x" }]), 400);
    expect(badProvider.errors!.map((e) => e.field)).toContain("items.0.provider");
    const badOrigin = await expectProblem(await putIdentities([{ userId: "u", provider: "gitlab", trackerOrigin: "not a url", login: "x" }]), 422);
    expect(badOrigin.errors!.map((e) => e.field)).toEqual(["items.0.trackerOrigin"]);
    const twice = await expectProblem(
      await putIdentities([
        { userId: "u1", provider: "gitea", trackerOrigin: "https://gitea.test", login: "same" },
        { userId: "u2", provider: "gitea", trackerOrigin: "https://gitea.test/api/v1", login: "same" },
      ]),
      422,
    );
    expect(twice.errors!.map((e) => e.field)).toEqual(["items.1.login"]);
    const badId = await expectProblem(await putIdentities([{ userId: "u", provider: "github", trackerOrigin: "https://api.github.com", login: "x", trackerUserId: "abc" }]), 400);
    expect(badId.errors!.map((e) => e.field)).toContain("items.0.trackerUserId");
  });
});

describe.each(TRACKERS)("%s: people", (provider) => {
  it("a mapping added later applies at once, without a tracker write; unmapped logins are listed, and comment authors map too", async () => {
    const { fake, project } = await projectWithTracker(provider);
    for (const login of ["ann", "zed"]) fake.store.addUser(login);
    const seeded = fake.seedIssue({ title: "People", assignees: ["ann", "zed"] });
    fake.addComment(seeded.number, { body: "hello", author: "carol" });
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(seeded.number)!;
    expect(issue.assignees).toEqual(["ann", "zed"]);
    expect(issue.assigneeUsers).toEqual([]);
    const unmapped = await json(await api(`/api/v1/projects/${project.id}/identities/unmapped`));
    await vi.waitFor(async () => {
      const u = await json(await api(`/api/v1/projects/${project.id}/identities/unmapped`));
      expect(u.items.map((i: any) => i.login)).toEqual(["ann", "carol", "zed"]);
    }, { timeout: 10_000, interval: 50 });
    expect(unmapped.items.find((i: any) => i.login === "ann")?.seen).toBe(1);

    const before = writes(fake);
    expect((await putIdentities([
      { userId: "user-ann", provider, trackerOrigin: origin(fake), login: "ann" },
      { userId: "user-carol", provider, trackerOrigin: origin(fake), login: "carol" },
    ])).status).toBe(200);
    const mapped = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`));
    expect(mapped.assignees).toEqual(["ann", "zed"]);
    expect(mapped.assigneeUsers).toEqual(["user-ann"]);
    const comments = await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments`));
    expect(comments.items.map((c: any) => [c.author, c.authorUser])).toEqual([["carol", "user-carol"]]);
    expect((await json(await api(`/api/v1/projects/${project.id}/identities/unmapped`))).items.map((i: any) => i.login)).toEqual(["zed"]);
    await syncAndWait(project.id);
    expect(writes(fake)).toBe(before);

    // A mapping on another tracker origin does not apply here.
    await putIdentities([{ userId: "user-zed", provider, trackerOrigin: "https://elsewhere.test", login: "zed" }]);
    expect((await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`))).assigneeUsers).toEqual(["user-ann"]);
  });

  it("a local edit naming users keeps the assignee no identity maps, on the tracker too", async () => {
    const { fake, project } = await projectWithTracker(provider);
    for (const login of ["ann", "ben", "zed"]) fake.store.addUser(login);
    if (provider === "gitlab") fake.store.singleAssignee = true;
    const seeded = fake.seedIssue({ title: "Reassign", assignees: provider === "gitlab" ? ["zed"] : ["ann", "zed"] });
    await putIdentities([
      { userId: "user-ann", provider, trackerOrigin: origin(fake), login: "ann" },
      { userId: "user-ben", provider, trackerOrigin: origin(fake), login: "ben" },
    ]);
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(seeded.number)!;

    const res = await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { assigneeUsers: ["user-ben"] } });
    expect(res.status).toBe(200);
    const edited = await json(res);
    expect(edited.assignees).toEqual(["ben", "zed"]);
    expect(edited.assigneeUsers).toEqual(["user-ben"]);
    const settled = await waitSettled(project.id, issue.id);
    if (provider === "gitlab") {
      // GitLab Free holds one assignee: the tracker keeps the first sent (logins go sorted), so the
      // second — here the unmapped one — is not on the tracker; local keeps both and says so.
      expect(fake.issue(seeded.number)!.assignees).toEqual(["ben"]);
      expect(settled.assignees).toEqual(["ben", "zed"]);
      expect(settled.syncWarnings).toMatchObject([{ field: "assignees", sent: ["ben", "zed"] }]);
    } else {
      expect(fake.issue(seeded.number)!.assignees.sort()).toEqual(["ben", "zed"]);
      expect(settled.assignees).toEqual(["ben", "zed"]);
    }
    // A later full run neither drops the unmapped login locally nor writes again.
    const before = writes(fake);
    await syncAndWait(project.id, "full");
    expect((await localByNumber(project.id)).get(seeded.number)!.assignees).toEqual(["ben", "zed"]);
    expect(writes(fake)).toBe(before);

    const unknown = await expectProblem(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { assigneeUsers: ["user-nobody"] } }), 422);
    expect(unknown.errors!.map((e) => e.field)).toEqual(["assigneeUsers.0"]);
    const both = await expectProblem(await api(`/api/v1/projects/${project.id}/issues/${issue.id}`, { method: "PATCH", body: { assigneeUsers: ["user-ben"], assignees: ["ben"] } }), 400);
    expect(both.errors!.map((e) => e.field)).toEqual(["assigneeUsers"]);
  });

  it("a renamed tracker login still maps through the tracker's user id", async () => {
    const { fake, project } = await projectWithTracker(provider);
    const ann = fake.store.addUser("ann");
    const seeded = fake.seedIssue({ title: "Renamed", assignees: ["ann"] });
    await putIdentities([{ userId: "user-ann", provider, trackerOrigin: origin(fake), login: "ann", trackerUserId: ann.id }]);
    await syncAndWait(project.id);
    fake.store.renameUser("ann", "ann-renamed");
    fake.edit(seeded.number, { title: "Renamed (touched)" });
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(seeded.number)!;
    expect(issue.assignees).toEqual(["ann-renamed"]);
    expect(issue.assigneeUsers).toEqual(["user-ann"]);
    const listed = await json(await api("/api/v1/identities?userId=user-ann"));
    expect(listed.items.find((i: any) => i.trackerOrigin === origin(fake)).login).toBe("ann-renamed");
  });
});
