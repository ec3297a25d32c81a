import { describe, expect, it, vi } from "vitest";
import { api, createProject, expectProblem, json, projectBody } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";

async function post(projectId: string, issueId: string, body: Record<string, unknown>): Promise<any> {
  const res = await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments`, { method: "POST", body });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

async function stored(projectId: string, issueId: string, id: string): Promise<any> {
  return (await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments?limit=100`))).items.find((c: any) => c.id === id);
}

describe("GitLab internal notes (opt-in per project)", () => {
  it("with gitlabInternalNotes on, an internal comment is created, edited and deleted as an internal note; public ones stay public; the echo changes nothing", async () => {
    const { fake, project } = await projectWithTracker("gitlab", { gitlabInternalNotes: true });
    expect(project.gitlabInternalNotes).toBe(true);
    const tracked = fake.seedIssue();
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(tracked.number)!;

    const internal = await post(project.id, issue.id, { body: "for the team", author: "jane", visibility: "internal" });
    const pub = await post(project.id, issue.id, { body: "for everyone", author: "jane" });
    await vi.waitFor(async () => expect((await stored(project.id, issue.id, internal.id)).syncState).toBe("synced"), { timeout: 10_000, interval: 25 });
    await vi.waitFor(async () => expect((await stored(project.id, issue.id, pub.id)).syncState).toBe("synced"), { timeout: 10_000, interval: 25 });
    const notes = fake.commentsOf(tracked.number);
    expect(notes.map((n) => [n.body, n.internal])).toEqual([
      ["for the team", true],
      ["for everyone", false],
    ]);
    const posts = fake.requests.filter((r) => r.method === "POST" && /\/notes(\?|$)/.test(r.path));
    expect(posts).toHaveLength(2);

    await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments/${internal.id}`, { method: "PATCH", body: { body: "for the team, edited" } });
    await vi.waitFor(() => expect(fake.comment(notes[0]!.id)!.body).toBe("for the team, edited"), { timeout: 10_000, interval: 25 });
    expect(fake.comment(notes[0]!.id)!.internal).toBe(true);

    // Our own notes coming back (a full listing) change nothing and write nothing.
    const writes = fake.requests.filter((r) => r.method !== "GET").length;
    await syncAndWait(project.id, "full");
    expect(fake.requests.filter((r) => r.method !== "GET").length).toBe(writes);
    expect(await stored(project.id, issue.id, internal.id)).toMatchObject({ visibility: "internal", body: "for the team, edited", syncState: "synced" });

    await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments/${internal.id}`, { method: "DELETE" });
    await vi.waitFor(() => expect(fake.comment(notes[0]!.id)!.deleted).toBe(true), { timeout: 10_000, interval: 25 });
  });

  it("is off by default (internal comments never leave Syndarix), can be switched on by PATCH, and is refused for GitHub and Gitea", async () => {
    const { fake, project } = await projectWithTracker("gitlab");
    expect(project.gitlabInternalNotes).toBe(false);
    const tracked = fake.seedIssue();
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(tracked.number)!;
    await post(project.id, issue.id, { body: "stays here", visibility: "internal" });
    await syncAndWait(project.id);
    expect(fake.commentsOf(tracked.number)).toEqual([]);

    const patched = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { gitlabInternalNotes: true } });
    expect(patched.status).toBe(200);
    expect((await json(patched)).gitlabInternalNotes).toBe(true);

    for (const provider of ["github", "gitea"]) {
      const problem = await expectProblem(await api("/api/v1/projects", { method: "POST", body: projectBody({ provider, apiBaseUrl: provider === "gitea" ? "https://gitea.example.com/api/v1" : undefined, gitlabInternalNotes: true }) }), 400);
      expect(problem.errors?.map((e) => e.field)).toContain("gitlabInternalNotes");
    }
    const github = await createProject({ provider: "github" });
    const refused = await expectProblem(await api(`/api/v1/projects/${github.id}`, { method: "PATCH", body: { gitlabInternalNotes: true } }), 400);
    expect(refused.errors?.map((e) => e.field)).toContain("gitlabInternalNotes");
    expect((await json(await api(`/api/v1/projects/${github.id}`))).gitlabInternalNotes).toBe(false);
  });
});

