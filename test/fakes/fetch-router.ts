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

export function routeFetch(fakes: Record<string, FakeTracker>): FetchLike {
  const routes = Object.entries(fakes)
    .map(([prefix, fake]) => ({ prefix: prefix.replace(/\/+$/, ""), fake }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  return async (input, init) => {
    const request = new Request(input, init);
    const route = routes.find(({ prefix }) => request.url === prefix || request.url.startsWith(`${prefix}/`) || request.url.startsWith(`${prefix}?`));
    if (!route) throw new UnexpectedRequestError(`offline test: unexpected ${request.method} ${request.url}`);
    return route.fake.handle(request);
  };
}
