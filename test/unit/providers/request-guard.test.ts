/**
 * The HTTP layer's own guards (issue 17), on the real adapters with a recording fetch: the token
 * goes only to the project's repository paths on the API origin; redirects are followed by hand
 * (307/308 replay method and body, 303 and POST-after-301/302 become GET), bounded, never to
 * another origin or outside the repository; answers are read up to a size limit.
 */
import { describe, expect, it } from "vitest";
import { createTracker } from "../../../src/providers";
import { MAX_RESPONSE_BYTES } from "../../../src/providers/http";
import { TrackerError, type Provider } from "../../../src/providers/types";

type Call = { method: string; url: string; headers: Headers; body: string | null };

function recording(answer: (call: Call, n: number) => Response) {
  const calls: Call[] = [];
  const fetchStub = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const call = { method: request.method, url: request.url, headers: request.headers, body: request.method === "GET" ? null : await request.text() };
    calls.push(call);
    expect(init?.redirect).toBe("manual");
    return answer(call, calls.length);
  };
  return { calls, fetch: fetchStub as typeof fetch };
}

const issueJson = (number: number) =>
  JSON.stringify({ id: 100 + number, number, iid: number, title: "T", body: "", description: "", state: "open", html_url: "https://x/1", web_url: "https://x/1", labels: [], assignees: [], created_at: "2024-01-01T00:00:00Z", updated_at: "2024-01-01T00:00:00Z" });

function tracker(provider: Provider, fetchImpl: typeof fetch, repository = provider === "gitlab" ? "group/project" : "acme/widgets") {
  // repositoryId: the tracker id a project stores after its first run (a redirect to `/repositories/9` is then its own).
  return createTracker({ provider, apiBaseUrl: "https://tracker.test/api", repository, repositoryId: "9", token: "tok_secret_0000000000", fetch: fetchImpl, sleep: async () => {} });
}

describe("request guard", () => {
  it.each(["github", "gitea"] as Provider[])("%s: a Link next URL outside the repository is refused before anything is sent", async (provider) => {
    const { calls, fetch } = recording(() => new Response("[]"));
    const t = tracker(provider, fetch);
    await expect(t.listPage({ url: "https://tracker.test/api/user/issues?page=2" })).rejects.toThrow(/not under the project's repository/);
    await expect(t.listPage({ url: "https://tracker.test/api/repos/acme/widgets/../../admin/issues" })).rejects.toThrow(TrackerError);
    await expect(t.listPage({ url: "https://tracker.test/api/repos/acme/widgets-evil/issues" })).rejects.toThrow(TrackerError);
    expect(calls).toEqual([]);
  });

  it("an adapter built with a dot-segment repository sends nothing", async () => {
    const { calls, fetch } = recording(() => new Response("[]"));
    await expect(tracker("github", fetch, "../user").listPage({})).rejects.toThrow(TrackerError);
    await expect(tracker("gitlab", fetch, "..").listPage({})).rejects.toThrow(TrackerError);
    expect(calls).toEqual([]);
  });
});

describe("redirects by hand", () => {
  it("307 replays the method, headers and body on the same origin; 308 too", async () => {
    for (const status of [307, 308]) {
      const { calls, fetch } = recording((_c, n) =>
        n === 1 ? new Response(null, { status, headers: { location: "/api/repositories/9/issues/1" } }) : new Response(issueJson(1), { status: 200 }),
      );
      await tracker("github", fetch).updateIssue(1, { title: "New" });
      expect(calls.map((c) => `${c.method} ${new URL(c.url).pathname}`)).toEqual(["PATCH /api/repos/acme/widgets/issues/1", "PATCH /api/repositories/9/issues/1"]);
      expect(JSON.parse(calls[1]!.body!)).toEqual({ title: "New" });
      expect(calls[1]!.headers.get("authorization")).toBe("Bearer tok_secret_0000000000");
    }
  });

  it("303, and 301/302 after a POST, continue as GET without a body", async () => {
    for (const status of [301, 302, 303]) {
      const { calls, fetch } = recording((_c, n) =>
        n === 1 ? new Response(null, { status, headers: { location: "https://tracker.test/api/repos/acme/widgets/issues/5" } }) : new Response(issueJson(5), { status: 200 }),
      );
      await tracker("github", fetch).createIssue({ title: "T", body: "", labels: [], assignees: [], milestone: null });
      expect(calls[1]).toMatchObject({ method: "GET", body: null });
    }
  });

  it("a redirect to another origin is not followed: GitLab's PRIVATE-TOKEN goes nowhere else", async () => {
    const { calls, fetch } = recording(() => new Response(null, { status: 302, headers: { location: "https://elsewhere.test/api/projects/group%2Fproject/issues" } }));
    await expect(tracker("gitlab", fetch).listPage({})).rejects.toThrow(/redirect not followed/);
    expect(calls.map((c) => new URL(c.url).origin)).toEqual(["https://tracker.test"]);
  });

  it("a redirect loop stops after a bounded number of hops", async () => {
    const { calls, fetch } = recording(() => new Response(null, { status: 301, headers: { location: "/api/repos/acme/widgets/issues" } }));
    await expect(tracker("github", fetch).listPage({})).rejects.toThrow(/redirected more than/);
    expect(calls.length).toBeLessThanOrEqual(6);
  });
});

describe("response size limit", () => {
  it("an answer over the limit is refused while reading, not buffered whole", async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += chunk.byteLength;
        controller.enqueue(chunk);
        if (sent > MAX_RESPONSE_BYTES * 2) controller.close();
      },
    });
    const { fetch } = recording(() => new Response(body, { status: 200 }));
    await expect(tracker("github", fetch).listPage({})).rejects.toThrow(/over \d+ bytes/);
    expect(sent).toBeLessThan(MAX_RESPONSE_BYTES + 4 * chunk.byteLength);
  });
});
