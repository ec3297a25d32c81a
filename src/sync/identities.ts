/**
 * People: translating tracker logins to platform users and back. Logins stay what the tracker
 * holds (`assignees`); a login with no mapping is kept, never dropped, whichever side edits.
 */
import type { ActivityEntry, ActivityOrigin } from "../db/activity";
import type { Database } from "../db/client";
import {
  deleteIdentity,
  getIdentity,
  identitiesByLogin,
  loginsOfUsers,
  projectsInSpace,
  upsertIdentities,
  usersByEmail,
  usersOfLogins,
  type IdentityWrite,
  type TrackerSpace,
} from "../db/identities";
import type { IdentityRow, ProjectRow } from "../db/schema";
import { allShardDatabases } from "../db/shards";
import type { Env } from "../env";
import { NotFound, Unprocessable } from "../errors";
import { newId, nowIso } from "../ids";
import { loadSyncContext } from "./context";
import { originOf } from "../providers/endpoints";
import { RateLimitedError, TrackerError, type Tracker } from "../providers/types";

export function spaceOf(project: Pick<ProjectRow, "provider" | "apiBaseUrl">): TrackerSpace {
  return { provider: project.provider, trackerOrigin: originOf(project.apiBaseUrl) };
}

export interface IdentityInput {
  userId: string;
  provider: IdentityRow["provider"];
  trackerOrigin: string;
  login: string;
  trackerUserId?: string | undefined;
  /** The platform user's email: only ever used to suggest a mapping, never to make one. */
  email?: string | undefined;
}

/** A tracker origin as projects store it (scheme + host + port), or the field error. */
function normalizedOrigin(value: string): string | null {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.origin : null;
  } catch {
    return null;
  }
}

/** Activity entries on each project of the identity space: who mapped which login, before → after. */
async function mappingActivity(
  db: Database,
  space: TrackerSpace,
  entries: { login: string; before: string | null; after: string | null }[],
  origin: ActivityOrigin,
  now: string,
): Promise<ActivityEntry[]> {
  const changed = entries.filter((e) => e.before !== e.after);
  if (changed.length === 0) return [];
  const projects = (await projectsInSpace(db, space.provider)).filter((p) => {
    try {
      return originOf(p.apiBaseUrl) === space.trackerOrigin;
    } catch {
      return false;
    }
  });
  return projects.flatMap((p) =>
    changed.map((e) => ({
      projectId: p.id,
      kind: e.after === null ? ("identity.unmapped" as const) : ("identity.mapped" as const),
      origin,
      createdAt: now,
      changes: { [`login:${e.login}`]: { before: e.before, after: e.after } },
      detail: e.after === null ? `tracker login "${e.login}" no longer mapped` : `tracker login "${e.login}" mapped to user "${e.after}"`,
    })),
  );
}

/** Bulk upsert: validates every item first (422 naming `items.i.<field>`), then writes them in one batch. */
/**
 * Identities are kept in every shard (each project's reads join them with its own issues), with the
 * same ids everywhere: the catalog's write decides the ids, every other shard takes them.
 */
export async function putIdentitiesInAllShards(env: Env, items: readonly IdentityInput[], origin: ActivityOrigin): Promise<IdentityRow[]> {
  const [catalog, ...others] = allShardDatabases(env);
  const rows = await putIdentities(catalog!.db, items, origin);
  const ids = new Map(rows.map((r) => [identityKey(r), r.id]));
  for (const { db } of others) await putIdentities(db, items, origin, ids);
  return rows;
}

/** Removes the identity from every shard (the catalog decides whether it exists). */
export async function removeIdentityInAllShards(env: Env, id: string, origin: ActivityOrigin): Promise<void> {
  const [catalog, ...others] = allShardDatabases(env);
  await removeIdentity(catalog!.db, id, origin);
  for (const { db } of others) {
    await removeIdentity(db, id, origin).catch((err: unknown) => {
      if (!(err instanceof NotFound)) throw err;
    });
  }
}

function identityKey(r: { provider: string; trackerOrigin: string; login: string }): string {
  return `${r.provider}\u0000${r.trackerOrigin}\u0000${r.login}`;
}

export async function putIdentities(db: Database, items: readonly IdentityInput[], origin: ActivityOrigin, ids?: ReadonlyMap<string, string>): Promise<IdentityRow[]> {
  const errors: { field: string; message: string }[] = [];
  const seen = new Map<string, number>();
  const normalized = items.map((item, i) => {
    const trackerOrigin = normalizedOrigin(item.trackerOrigin);
    if (trackerOrigin === null) errors.push({ field: `items.${i}.trackerOrigin`, message: "must be an http(s) origin such as https://api.github.com" });
    const key = `${item.provider}\u0000${trackerOrigin}\u0000${item.login}`;
    const first = seen.get(key);
    if (first !== undefined) errors.push({ field: `items.${i}.login`, message: `"${item.login}" is already in items.${first}` });
    else seen.set(key, i);
    return { ...item, trackerOrigin: trackerOrigin ?? "" };
  });
  if (errors.length) throw new Unprocessable(errors);
  const now = nowIso();
  const bySpace = new Map<string, typeof normalized>();
  for (const n of normalized) {
    const k = `${n.provider}\u0000${n.trackerOrigin}`;
    bySpace.set(k, [...(bySpace.get(k) ?? []), n]);
  }
  const writes: IdentityWrite[] = [];
  const activity: ActivityEntry[] = [];
  for (const group of bySpace.values()) {
    const space = { provider: group[0]!.provider, trackerOrigin: group[0]!.trackerOrigin };
    const existing = new Map((await identitiesByLogin(db, space, group.map((g) => g.login))).map((r) => [r.login, r]));
    for (const g of group) {
      writes.push({
        id: existing.get(g.login)?.id ?? ids?.get(identityKey(g)) ?? newId(),
        userId: g.userId,
        provider: g.provider,
        trackerOrigin: g.trackerOrigin,
        login: g.login,
        trackerUserId: g.trackerUserId ?? null,
        ...(g.email !== undefined ? { email: g.email.toLowerCase() } : {}),
      });
    }
    activity.push(...(await mappingActivity(db, space, group.map((g) => ({ login: g.login, before: existing.get(g.login)?.userId ?? null, after: g.userId })), origin, now)));
  }
  await upsertIdentities(db, writes, activity, now);
  const stored: IdentityRow[] = [];
  for (const group of bySpace.values()) {
    stored.push(...(await identitiesByLogin(db, { provider: group[0]!.provider, trackerOrigin: group[0]!.trackerOrigin }, group.map((g) => g.login))));
  }
  return stored;
}

export async function removeIdentity(db: Database, id: string, origin: ActivityOrigin): Promise<void> {
  const row = await getIdentity(db, id);
  if (!row) throw new NotFound("identity", id);
  const activity = await mappingActivity(db, row, [{ login: row.login, before: row.userId, after: null }], origin, nowIso());
  if (!(await deleteIdentity(db, id, activity))) throw new NotFound("identity", id);
}

/** login → platform user for the logins of these rows (one query). */
export async function peopleOf(db: Database, project: Pick<ProjectRow, "provider" | "apiBaseUrl">, logins: readonly string[]): Promise<Map<string, string>> {
  return logins.length === 0 ? new Map() : usersOfLogins(db, spaceOf(project), logins);
}

/**
 * The assignee logins for a local edit naming platform users: the users' logins on this tracker,
 * plus every current assignee no identity maps (kept: the edit cannot have meant to drop a person
 * it cannot see). A user with no login on this tracker is refused (422 naming `assigneeUsers.i`).
 */
export async function assigneesForUsers(db: Database, project: Pick<ProjectRow, "provider" | "apiBaseUrl">, current: readonly string[], userIds: readonly string[]): Promise<string[]> {
  const space = spaceOf(project);
  const logins = await loginsOfUsers(db, space, userIds);
  const missing = userIds.flatMap((u, i) => (logins.has(u) ? [] : [{ field: `assigneeUsers.${i}`, message: `user "${u}" has no identity on ${space.provider} ${space.trackerOrigin}` }]));
  if (missing.length) throw new Unprocessable(missing);
  const mapped = await usersOfLogins(db, space, current);
  const unmapped = current.filter((login) => !mapped.has(login));
  return [...new Set([...unmapped, ...userIds.map((u) => logins.get(u)!)])].sort();
}

/** At most this many tracker profiles are read for one suggestion request (one call each; GitLab two). */
export const MAX_EMAIL_LOOKUPS = 20;

/**
 * Suggested platform users for unmapped logins: the tracker's public email of each login (where the
 * tracker exposes one) matched against the emails given with identities. A suggestion only — nothing
 * is mapped; an email two platform users share suggests nobody. Logins past MAX_EMAIL_LOOKUPS, and any
 * profile the tracker will not show, get no suggestion.
 */
export async function suggestUsersByEmail(db: Database, tracker: Pick<Tracker, "publicEmail">, logins: readonly string[]): Promise<Map<string, string>> {
  const suggestions = new Map<string, string>();
  if (!tracker.publicEmail) return suggestions;
  const emails = new Map<string, string>();
  for (const login of logins.slice(0, MAX_EMAIL_LOOKUPS)) {
    try {
      const email = await tracker.publicEmail(login);
      if (email) emails.set(login, email.toLowerCase());
    } catch (err) {
      // Suggestions are best effort, never an error: a rate limit ends the lookups, a refusal skips one.
      if (err instanceof RateLimitedError) break;
      if (err instanceof TrackerError) continue;
      throw err;
    }
  }
  const users = await usersByEmail(db, [...new Set(emails.values())]);
  for (const [login, email] of emails) {
    const found = users.get(email);
    if (found && found.size === 1) suggestions.set(login, [...found][0]!);
  }
  return suggestions;
}

/** `suggestUsersByEmail` through the project's own tracker connection. */
export async function suggestProjectUsers(env: Env, projectId: string, logins: readonly string[]): Promise<Map<string, string>> {
  if (logins.length === 0) return new Map();
  const ctx = await loadSyncContext(env, projectId);
  return suggestUsersByEmail(ctx.db, ctx.tracker, logins);
}
