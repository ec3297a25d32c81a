/**
 * Email suggestions for unmapped logins: the tracker's public email of a login, matched against the
 * emails given with identities, suggests a platform user — and never maps one.
 */
import { describe, expect, it } from "vitest";
import { api, expectProblem, json } from "../support/api";
import { projectWithTracker, syncAndWait } from "../support/trackers";
import type { Provider } from "../../src/providers/types";

const TRACKERS: Provider[] = ["github", "gitlab", "gitea"];
const profileReads = (fake: { requests: { method: string; path: string }[] }) => fake.requests.filter((r) => r.method === "GET" && /^\/users\/[^/?]+/.test(r.path));
const writes = (fake: { requests: { method: string }[] }) => fake.requests.filter((r) => r.method !== "GET").length;

describe.each(TRACKERS)("%s: email suggestions", (provider) => {
  it("suggests the one platform user whose identity email is the login's public email, maps nobody, and reads profiles only when asked", async () => {
    const { fake, project } = await projectWithTracker(provider);
    fake.store.addUser("dana").publicEmail = "Dana@Example.com";
    fake.store.addUser("eve");
    fake.store.addUser("gus").publicEmail = "gus@example.com";
    fake.seedIssue({ title: "people", assignees: ["dana", "eve", "gus"] });
    const put = await api("/api/v1/identities", {
      method: "PUT",
      body: {
        items: [
          { userId: "user-dana", provider: "github", trackerOrigin: "https://elsewhere.example", login: "dana-elsewhere", email: "dana@example.com" },
          { userId: "user-g1", provider: "github", trackerOrigin: "https://elsewhere.example", login: "g1", email: "gus@example.com" },
          { userId: "user-g2", provider: "github", trackerOrigin: "https://elsewhere.example", login: "g2", email: "GUS@example.com" },
        ],
      },
    });
    expect(put.status).toBe(200);
    expect((await json(put)).items.find((i: any) => i.login === "g2").email).toBe("gus@example.com");
    await syncAndWait(project.id);

    const plain = await json(await api(`/api/v1/projects/${project.id}/identities/unmapped`));
    expect(plain.items.map((i: any) => i.login)).toEqual(["dana", "eve", "gus"]);
    expect(plain.items[0]).not.toHaveProperty("suggestedUserId");
    expect(profileReads(fake)).toHaveLength(0);

    const before = writes(fake);
    const suggested = await json(await api(`/api/v1/projects/${project.id}/identities/unmapped?suggest=true`));
    expect(suggested.items).toEqual([
      { login: "dana", seen: 1, suggestedUserId: "user-dana" },
      { login: "eve", seen: 1, suggestedUserId: null },
      // Two platform users share that email: nobody is suggested.
      { login: "gus", seen: 1, suggestedUserId: null },
    ]);
    expect(profileReads(fake).length).toBeGreaterThan(0);
    expect(writes(fake)).toBe(before);
    // A suggestion maps nothing: dana is still unmapped and no identity names her.
    expect((await json(await api("/api/v1/identities?login=dana"))).items).toEqual([]);
    const issues = await json(await api(`/api/v1/projects/${project.id}/issues`));
    expect(issues.items[0].assigneeUsers).toEqual([]);
  });
});

describe("email suggestions: bad input", () => {
  it("refuses an identity email that is not an email with 400 naming items.<i>.email, and a bad suggest flag naming suggest", async () => {
    const bad = await expectProblem(
      await api("/api/v1/identities", { method: "PUT", body: { items: [{ userId: "u", provider: "github", trackerOrigin: "https://api.github.com", login: "x", email: "not-an-email" }] } }),
      400,
    );
    expect(bad.errors!.map((e) => e.field)).toContain("items.0.email");
    const { project } = await projectWithTracker("github");
    const flag = await expectProblem(await api(`/api/v1/projects/${project.id}/identities/unmapped?suggest=yes`), 400);
    expect(flag.errors!.map((e) => e.field)).toContain("suggest");
  });
});
