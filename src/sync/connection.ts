/**
 * "Test connection": read the repository with a token before anything is saved or synced, and say
 * in words what to do when that fails (a placeholder token, a mistyped repository, a token without
 * the issue scopes), instead of a project that is created and then fails every run.
 */
import type { Database } from "../db/client";
import type { ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { createTracker, originOf } from "../providers";
import { RateLimitedError, TrackerError, type Provider, type TrackerConfig } from "../providers/types";
import { openCredential } from "./credentials";

/** What each tracker's token needs to sync issues and comments both ways (their docs' names). */
export const TOKEN_NEEDS: Record<Provider, string> = {
  github: "a fine-grained token with Issues read and write on this repository (or a classic token with the repo scope)",
  gitlab: "a token with the api scope, of a member with the Reporter role or higher (Developer to push)",
  gitea: "a token with the read:issue and write:issue scopes (and read:repository) of a user who can see the repository",
};

/** A failure names the setting to fix (`field`) when one is to blame. */
export type ConnectionResult = { ok: true; repository: { id: string; fullName: string } } | { ok: false; problem: string; field?: "token" | "repository" | "apiBaseUrl" };

async function read(provider: Provider, config: Pick<TrackerConfig, "apiBaseUrl" | "repository" | "token"> & Partial<Pick<TrackerConfig, "fetch" | "actorLogin">>): Promise<ConnectionResult> {
  const where = `${config.repository} on ${originOf(config.apiBaseUrl)}`;
  try {
    const found = await createTracker({ provider, ...config }).getRepository();
    if (found.status === "found") return { ok: true, repository: { id: found.id, fullName: found.fullName } };
    return { ok: false, field: "repository", problem: `the token cannot read ${where}: check the repository's name, and that the token can see it; it needs ${TOKEN_NEEDS[provider]}` };
  } catch (err) {
    if (err instanceof RateLimitedError) return { ok: false, problem: `the tracker's rate limit is spent until ${err.retryAt}; test again then` };
    if (!(err instanceof TrackerError)) throw err;
    if (err.status === 401) return { ok: false, field: "token", problem: `${provider} refused the token (HTTP 401): it is wrong, expired or revoked; it needs ${TOKEN_NEEDS[provider]}` };
    if (err.status === 403) return { ok: false, field: "token", problem: `the token cannot read ${where} (HTTP 403): it needs ${TOKEN_NEEDS[provider]}` };
    if (err.status === null) return { ok: false, field: "apiBaseUrl", problem: `${originOf(config.apiBaseUrl)} could not be reached: ${err.message}` };
    return { ok: false, problem: `${provider} answered HTTP ${err.status} for ${where}: ${err.message}` };
  }
}

/** Reads `repository` with `token`, as a project with these settings would. */
export function testConnection(input: { provider: Provider; apiBaseUrl: string; repository: string; token: string }): Promise<ConnectionResult> {
  return read(input.provider, { apiBaseUrl: input.apiBaseUrl, repository: input.repository, token: input.token });
}

/** Reads an existing project's repository with its stored credential (token or App installation). */
export async function testProjectConnection(env: Env, db: Database, project: ProjectRow): Promise<ConnectionResult> {
  const credential = await openCredential(env, db, project);
  return read(project.provider, {
    apiBaseUrl: project.apiBaseUrl,
    repository: project.trackerRepositoryName ?? project.repository,
    token: credential.token,
    fetch: credential.fetch,
    ...(credential.actorLogin ? { actorLogin: credential.actorLogin } : {}),
  });
}
