import { describe, expect, it } from "vitest";
import { routeFetch } from "../../fakes/fetch-router.ts";
import { FakeTracker } from "../../fakes/fake-tracker.ts";

describe("fake trackers", () => {
  it("the fetch router sends each origin to its fake and rejects every other origin", async () => {
    const github = new FakeTracker("github", { baseUrl: "https://api.github.com" });
    const gitea = new FakeTracker("gitea", { baseUrl: "https://gitea.example/api/v1" });
    const fetchImpl = routeFetch({ "https://api.github.com": github, "https://gitea.example/api/v1": gitea });
    const me = await fetchImpl("https://gitea.example/api/v1/user", { headers: { Authorization: "token test-token" } });
    expect(await me.json()).toMatchObject({ login: "syndarix-bot" });
    await expect(fetchImpl("https://gitea.example/other")).rejects.toThrow(/offline/);
    await expect(fetchImpl("https://gitlab.com/api/v4/user")).rejects.toThrow(/offline/);
    expect(github.requests).toHaveLength(0);
  });

  it("answers 401 to a wrong or missing token", async () => {
    for (const provider of ["github", "gitlab", "gitea"] as const) {
      const fake = new FakeTracker(provider, { baseUrl: "https://t.example" });
      const res = await fake.handle(new Request("https://t.example/user", { headers: { Authorization: "Bearer wrong" } }));
      expect(res.status).toBe(401);
    }
  });

  it("injects a fault only for the next N matching requests", async () => {
    const fake = new FakeTracker("gitea", { baseUrl: "https://g.example/api/v1" });
    fake.fail({ kind: "server_error", match: "/issues", times: 2, status: 503 });
    const get = (path: string) => fake.handle(new Request(`https://g.example/api/v1${path}`, { headers: { Authorization: "token test-token" } }));
    expect((await get("/user")).status).toBe(200);
    expect((await get("/repos/acme/widgets/issues")).status).toBe(503);
    expect((await get("/repos/acme/widgets/issues")).status).toBe(503);
    expect((await get("/repos/acme/widgets/issues")).status).toBe(200);
    expect(fake.stats()).toMatchObject({ requests: 4, faults: 2 });
  });

  it("GitLab stops counting past 10,000 results, as GitLab does", async () => {
    const fake = new FakeTracker("gitlab", { baseUrl: "https://gl.example/api/v4" });
    fake.seed(10_001);
    const res = await fake.handle(
      new Request("https://gl.example/api/v4/projects/4242/issues?per_page=100", { headers: { "PRIVATE-TOKEN": "test-token" } }),
    );
    expect(res.headers.get("x-total")).toBeNull();
    expect(res.headers.get("x-next-page")).toBe("2");
    expect(res.headers.get("link")).not.toContain('rel="last"');
  });

  it("stamps every answer with the fake's clock as the Date header", async () => {
    const fake = new FakeTracker("github", { baseUrl: "https://api.github.com", startTime: "2024-02-03T04:05:06Z" });
    const res = await fake.handle(new Request("https://api.github.com/user", { headers: { Authorization: "Bearer test-token" } }));
    expect(res.headers.get("date")).toBe("Sat, 03 Feb 2024 04:05:06 GMT");
  });
});
