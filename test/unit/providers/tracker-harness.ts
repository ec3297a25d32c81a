import { createTracker, type Provider, type Tracker } from "../../../src/providers";
import { routeFetch } from "../../fakes/fetch-router.ts";
import { FakeTracker, type FakeTrackerOptions } from "../../fakes/fake-tracker.ts";

export const BASE_URL: Record<Provider, string> = {
  github: "https://api.github.com",
  gitlab: "https://gitlab.example/api/v4",
  gitea: "https://gitea.example/api/v1",
};

/** A fake tracker and an adapter wired to it through the offline fetch router. */
export function trackerWithFake(
  provider: Provider,
  options: Partial<FakeTrackerOptions> = {},
  repository = "acme/widgets",
): { fake: FakeTracker; tracker: Tracker } {
  const fake = new FakeTracker(provider, { baseUrl: BASE_URL[provider], repository, ...options });
  const tracker = createTracker({
    provider,
    apiBaseUrl: BASE_URL[provider],
    repository,
    // The repository's tracker id, as a project stores it after its first run (GitHub then follows
    // `/repositories/<id>` links without first reading the repository).
    repositoryId: String(fake.store.repositoryId),
    token: "test-token",
    fetch: routeFetch({ [new URL(BASE_URL[provider]).origin]: fake }) as typeof fetch,
    sleep: async () => {},
    // The tracker's clock is the fake's, so rate-limit resets compare against it.
    now: () => fake.store.nowMs,
  });
  return { fake, tracker };
}

export async function allPages(tracker: Tracker, since?: string) {
  const pages = [];
  for await (const page of tracker.listIssues({ since: since ?? null })) pages.push(page);
  return pages;
}
