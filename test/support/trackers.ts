import { vi } from "vitest";
import { FakeTracker, type FakeTrackerOptions } from "../fakes/fake-tracker";
import { routeFetch, type FakeHost } from "../fakes/fetch-router";
import type { Provider } from "../../src/providers/types";
import { api, createProject, json } from "./api";

/**
 * Fake trackers for integration tests. Each test gets its own fake under its own API base, so tests
 * sharing a file (and its storage) never see each other's trackers. Every outbound request goes
 * through `routeFetch`, whose catch-all fails anything not addressed to a registered fake.
 */
const registered = new Map<string, FakeHost>();
/** Fakes registered under the same API base (GitHub App tests: the App's one base), newest last. */
const sharing = new Map<string, FakeTracker[]>();
let spyInstalled = false;

function installFetchSpy(): void {
  if (spyInstalled) return;
  spyInstalled = true;
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => routeFetch(Object.fromEntries(registered))(input as RequestInfo, init));
}

/** Routes requests under `baseUrl` to any fake with a `handle` (e.g. an event receiver), beside the trackers. */
export function routeToFake(baseUrl: string, fake: { handle(request: Request): Promise<Response> }): void {
  installFetchSpy();
  registered.set(baseUrl, fake as unknown as FakeTracker);
}

const API_PATH: Record<Provider, string> = { github: "/api/v3", gitlab: "/api/v4", gitea: "/api/v1" };

export function fakeTracker(provider: Provider, options: Partial<FakeTrackerOptions> = {}): FakeTracker {
  installFetchSpy();
  const baseUrl = options.baseUrl ?? `https://${provider}-${crypto.randomUUID().slice(0, 8)}.test${API_PATH[provider]}`;
  const fake = new FakeTracker(provider, { startTime: new Date().toISOString(), ...options, baseUrl });
  const fakes = [...(sharing.get(fake.baseUrl) ?? []), fake];
  sharing.set(fake.baseUrl, fakes);
  registered.set(fake.baseUrl, fakes.length === 1 ? fake : sharedHost(fake.baseUrl, fakes));
  // GitHub Enterprise answers GraphQL at /api/graphql, beside the /api/v3 REST root.
  if (provider === "github" && fake.baseUrl.endsWith("/api/v3")) registered.set(`${fake.baseUrl.slice(0, -"/v3".length)}/graphql`, registered.get(fake.baseUrl)!);
  return fake;
}

/**
 * One API base serving several fake repositories, as GitHub's one host serves every repository: a
 * request goes to the fake whose installation (`/app/installations/<id>…`), repository name
 * (`/repos/<owner>/<name>…`) or repository id (`/repositories/<id>…`) it names, else the newest.
 */
function sharedHost(baseUrl: string, fakes: FakeTracker[]): FakeHost {
  const basePath = new URL(baseUrl).pathname.replace(/\/+$/, "");
  return {
    handle(request: Request) {
      const path = new URL(request.url).pathname.slice(basePath.length);
      const newestFirst = [...fakes].reverse();
      const installation = /^\/app\/installations\/(\d+)/.exec(path)?.[1];
      const name = /^\/repos\/([^/]+\/[^/]+)/.exec(path)?.[1]?.toLowerCase();
      const repositoryId = /^\/repositories\/(\d+)/.exec(path)?.[1];
      const owner =
        (installation && newestFirst.find((f) => f.appInstallationId === Number(installation))) ||
        (name && newestFirst.find((f) => f.store.repository.toLowerCase() === decodeURIComponent(name))) ||
        (repositoryId && newestFirst.find((f) => String(f.store.repositoryId) === repositoryId)) ||
        newestFirst[0]!;
      return owner.handle(request);
    },
  };
}

/** A project wired to a fresh fake tracker. */
export async function projectWithTracker(
  provider: Provider,
  projectOverrides: Record<string, unknown> = {},
  fakeOptions: Partial<FakeTrackerOptions> = {},
): Promise<{ fake: FakeTracker; project: any }> {
  const fake = fakeTracker(provider, fakeOptions);
  const project = await createProject({
    provider,
    apiBaseUrl: fake.baseUrl,
    repository: fake.store.repository,
    token: fake.token,
    webhookSecret: fake.webhookSecret,
    ...projectOverrides,
  });
  return { fake, project };
}

/** Starts a run through the API and waits until it finishes. */
export async function syncAndWait(projectId: string, mode: "incremental" | "full" = "incremental", timeoutMs = 15_000): Promise<any> {
  const res = await api(`/api/v1/projects/${projectId}/sync`, { method: "POST", body: { mode } });
  if (res.status !== 202) throw new Error(`sync start failed: ${res.status} ${await res.text()}`);
  const { runId } = await json(res);
  return waitForRun(runId, timeoutMs);
}

export async function waitForRun(runId: string, timeoutMs = 15_000): Promise<any> {
  return vi.waitFor(
    async () => {
      const run = await json(await api(`/api/v1/sync-runs/${runId}`));
      if (run.status !== "succeeded" && run.status !== "failed") throw new Error(`run ${runId} still ${run.status}`);
      return run;
    },
    { timeout: timeoutMs, interval: 25 },
  );
}

export async function listAllIssues(projectId: string): Promise<any[]> {
  const all: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await json(await api(`/api/v1/projects/${projectId}/issues?limit=500${cursor ? `&cursor=${cursor}` : ""}`));
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

/** The local store as {number → fields}, to compare with the tracker. */
/** Every comment of a local issue through the API, following `nextCursor` (`pageSize` a page). */
export async function listAllComments(projectId: string, issueId: string, pageSize = 100): Promise<any[]> {
  const all: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments?limit=${pageSize}${cursor ? `&cursor=${cursor}` : ""}`));
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

/** The local issue linked to tracker issue `number` (throws when it was not imported). */
export async function localIssue(projectId: string, number: number): Promise<any> {
  const issue = (await localByNumber(projectId)).get(number);
  if (!issue) throw new Error(`issue #${number} not imported`);
  return issue;
}

export async function localByNumber(projectId: string): Promise<Map<number, any>> {
  const map = new Map<number, any>();
  for (const issue of await listAllIssues(projectId)) if (issue.external) map.set(issue.external.number, issue);
  return map;
}
