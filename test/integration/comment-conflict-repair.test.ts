import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { database } from "../../src/db/client";
import { getComment, storeInbound } from "../../src/db/comments";
import { newId, nowIso } from "../../src/ids";
import { api, API_TOKEN, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";

/**
 * Comment conflicts settled by hand through `POST …/conflicts/:id/resolve`. The conflict is written
 * the way an inbound merge writes it (storeInbound), so the scenario does not hinge on timing a
 * held-back push against a tracker edit.
 */
async function setup(master: "tracker" | "local") {
  const { fake, project } = await projectWithTracker("github", { master });
  const tracked = fake.seedIssue({ title: "with a comment" });
  const c = fake.addComment(tracked.number, { body: "original", author: "alice" });
  await syncAndWait(project.id);
  const issue = (await localByNumber(project.id)).get(tracked.number)!;
  const [listed] = (await json(await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments`))).items;
  const db = database(env.DB);
  const current = (await getComment(db, project.id, listed.id))!;
  return { fake, project, issue, c, db, current };
}

async function conflictOf(projectId: string, commentId: string): Promise<any> {
  const list = await json(await api(`/api/v1/projects/${projectId}/conflicts`));
  return list.items.find((x: any) => x.field === "comment.body" && x.commentId === commentId);
}

async function resolve(projectId: string, conflictId: string, keep: "local" | "tracker") {
  return api(`/api/v1/projects/${projectId}/conflicts/${conflictId}/resolve`, { method: "POST", body: { keep } });
}

async function resolvedEntries(projectId: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/activity?kind=conflict.resolved&limit=100`))).items;
}

describe("comment conflicts resolved by hand", () => {
  it("keep local: the local body is applied and pushed, the tracker ends with it; a second resolve is 409", async () => {
    const { fake, project, issue, c, db, current } = await setup("tracker");
    // The tracker won: the comment holds the tracker's body, which is also its base.
    fake.editComment(c.id, "tracker edit");
    const conflictId = newId();
    await storeInbound(db, [
      {
        kind: "update",
        current,
        set: { body: "tracker edit", base: "tracker edit", syncState: "synced", updatedAt: nowIso() },
        conflict: { id: conflictId, issueId: issue.id, base: "original", local: "local edit", tracker: "tracker edit", resolution: "tracker" },
      },
    ]);

    expect(await conflictOf(project.id, current.id)).toMatchObject({ id: conflictId, issueId: issue.id, resolvedAt: null, localValue: "local edit", trackerValue: "tracker edit" });
    const res = await resolve(project.id, conflictId, "local");
    expect(res.status).toBe(200);
    const body: any = await json(res);
    expect(body).toMatchObject({ pushQueued: true, conflict: { id: conflictId, resolvedKeep: "local" } });

    await vi.waitFor(() => expect(fake.comment(c.id)!.body).toBe("local edit"), { timeout: 10_000, interval: 25 });
    await vi.waitFor(async () => expect((await getComment(db, project.id, current.id))!).toMatchObject({ body: "local edit", base: "local edit", syncState: "synced" }), { timeout: 10_000, interval: 25 });

    const entries = await resolvedEntries(project.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      issueId: issue.id,
      source: "api",
      actor: "default",
      changes: { body: { before: "tracker edit", after: "local edit" }, syncState: { before: "synced", after: "pending_push" } },
    });
    expect(entries[0].detail).toContain(`comment ${current.id}`);

    const again = await resolve(project.id, conflictId, "tracker");
    expect(again.status).toBe(409);
    expect(fake.comment(c.id)!.body).toBe("local edit");
    expect(await resolvedEntries(project.id)).toHaveLength(1);
  });

  it("take tracker: the tracker's body is applied locally and pushed back when the local one already reached the tracker; a second resolve is 409", async () => {
    const { fake, project, issue, c, db, current } = await setup("local");
    // Local won and its push went through: the tracker and the base hold the local body.
    fake.editComment(c.id, "local edit");
    const conflictId = newId();
    await storeInbound(db, [
      {
        kind: "update",
        current,
        set: { body: "local edit", base: "local edit", syncState: "synced", updatedAt: nowIso() },
        conflict: { id: conflictId, issueId: issue.id, base: "original", local: "local edit", tracker: "tracker edit", resolution: "local" },
      },
    ]);

    const res = await resolve(project.id, conflictId, "tracker");
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ pushQueued: true, conflict: { id: conflictId, resolvedKeep: "tracker" } });
    await vi.waitFor(() => expect(fake.comment(c.id)!.body).toBe("tracker edit"), { timeout: 10_000, interval: 25 });
    await vi.waitFor(async () => expect((await getComment(db, project.id, current.id))!).toMatchObject({ body: "tracker edit", syncState: "synced" }), { timeout: 10_000, interval: 25 });

    const entries = await resolvedEntries(project.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ source: "api", actor: "default", changes: { body: { before: "local edit", after: "tracker edit" } } });

    expect((await resolve(project.id, conflictId, "local")).status).toBe(409);
    expect((await resolve(project.id, conflictId, "tracker")).status).toBe(409);
    expect(fake.comment(c.id)!.body).toBe("tracker edit");
  });

  it("take tracker when the tracker still holds its body: applied locally, nothing pushed", async () => {
    const { fake, project, issue, c, db, current } = await setup("tracker");
    fake.editComment(c.id, "tracker edit");
    const conflictId = newId();
    // Local won but its push has not gone out: the base is still the tracker's body.
    await storeInbound(db, [
      {
        kind: "update",
        current,
        set: { body: "local edit", base: "tracker edit", syncState: "pending_push", updatedAt: nowIso() },
        conflict: { id: conflictId, issueId: issue.id, base: "original", local: "local edit", tracker: "tracker edit", resolution: "local" },
      },
    ]);
    const writesBefore = fake.requests.filter((r) => r.method === "PATCH").length;
    const res = await resolve(project.id, conflictId, "tracker");
    expect(await json(res)).toMatchObject({ pushQueued: false });
    expect((await getComment(db, project.id, current.id))!.body).toBe("tracker edit");
    await syncAndWait(project.id);
    expect(fake.comment(c.id)!.body).toBe("tracker edit");
    expect(fake.requests.filter((r) => r.method === "PATCH").length).toBe(writesBefore);
  });
});

describe("comment conflicts on the dashboard", () => {
  const ORIGIN = "http://sync.test";
  function ui(path: string, init: { method?: string; cookie?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = init.cookie ? { cookie: init.cookie } : {};
    const body = init.form ? new URLSearchParams(init.form) : undefined;
    return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: init.method ?? "GET", headers, body, redirect: "manual" }));
  }

  it("lists the comment conflict with keep local / take tracker, and keep local applies and pushes it", async () => {
    const { fake, project, issue, c, db, current } = await setup("tracker");
    fake.editComment(c.id, "tracker edit");
    const conflictId = newId();
    await storeInbound(db, [
      {
        kind: "update",
        current,
        set: { body: "tracker edit", base: "tracker edit", syncState: "synced", updatedAt: nowIso() },
        conflict: { id: conflictId, issueId: issue.id, base: "original", local: "local edit", tracker: "tracker edit", resolution: "tracker" },
      },
    ]);
    const signedIn = await ui("/ui/login", { method: "POST", form: { token: API_TOKEN } });
    const cookie = signedIn.headers.get("set-cookie")!.split(";")[0]!;
    const page = await (await ui(`/ui/projects/${project.id}`, { cookie })).text();
    const row = page.split("<tr>").find((r) => r.includes(`/conflicts/${conflictId}/resolve`))!;
    expect(row).toContain(current.id);
    expect(row).toContain("local edit");
    expect(row).toContain("Keep local");
    expect(row).toContain("Take tracker");

    const csrf = /name="_csrf" value="([^"]+)"/.exec(row)![1]!;
    const res = await ui(`/ui/projects/${project.id}/conflicts/${conflictId}/resolve`, { method: "POST", cookie, form: { _csrf: csrf, keep: "local" } });
    expect(res.status).toBe(303);
    await vi.waitFor(() => expect(fake.comment(c.id)!.body).toBe("local edit"), { timeout: 10_000, interval: 25 });
    const after = await (await ui(`/ui/projects/${project.id}`, { cookie })).text();
    expect(after).not.toContain(`/conflicts/${conflictId}/resolve`);
    expect(await resolvedEntries(project.id)).toHaveLength(1);
  });
});
