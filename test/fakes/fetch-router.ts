/**
 * A fetch that sends each request to the fake tracker owning its URL and rejects everything else:
 * the offline catch-all. Use with `vi.spyOn(globalThis, "fetch").mockImplementation(routeFetch({...}))`.
 * Keys are origins (`https://api.github.com`) or API bases (`http://127.0.0.1:8788/gitlab/api/v4`);
 * the longest matching key wins.
 */
import type { FakeTracker } from "./fake-tracker.ts";

export type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

export class UnexpectedRequestError extends Error {
  override readonly name = "UnexpectedRequestError";
}

/** What the router sends requests to: a fake tracker, or several sharing one API base. */
export type FakeHost = Pick<FakeTracker, "handle">;

export function routeFetch(fakes: Record<string, FakeHost>): FetchLike {
  const routes = Object.entries(fakes)
    .map(([prefix, fake]) => ({ prefix: prefix.replace(/\/+$/, ""), fake }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  const send = async (request: Request): Promise<Response> => {
    const route = routes.find(({ prefix }) => request.url === prefix || request.url.startsWith(`${prefix}/`) || request.url.startsWith(`${prefix}?`));
    if (!route) throw new UnexpectedRequestError(`offline test: unexpected ${request.method} ${request.url}`);
    return route.fake.handle(request);
  };
  return async (input, init) => {
    let request = new Request(input, init);
    // Like the runtime's fetch with `redirect: "follow"` (the default): up to 20 hops; 303, and
    // 301/302 after a POST, become a GET without a body; on a cross-origin hop `Authorization` is
    // removed (Fetch standard) but any other header — GitLab's `PRIVATE-TOKEN` — is sent along.
    const follow = (init?.redirect ?? "follow") === "follow";
    const body = request.method === "GET" || request.method === "HEAD" ? null : await request.clone().arrayBuffer();
    for (let hop = 0; ; hop++) {
      const res = await send(request);
      const location = res.headers.get("location");
      if (!follow || ![301, 302, 303, 307, 308].includes(res.status) || location === null || hop >= 20) return res;
      const next = new URL(location, request.url);
      const headers = new Headers(request.headers);
      if (next.origin !== new URL(request.url).origin) headers.delete("authorization");
      const toGet = res.status === 303 || ((res.status === 301 || res.status === 302) && request.method === "POST");
      const method = toGet ? "GET" : request.method;
      request = new Request(next, { method, headers, body: toGet || method === "GET" || method === "HEAD" ? null : body });
    }
  };
}
