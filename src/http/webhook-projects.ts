/**
 * What the webhook edge needs of a project (its provider and decrypted webhook secret), cached per
 * isolate so the hot path makes no D1 read: one D1 write (the delivery) and one queue send.
 *
 * The cache is never trusted to say a project still exists or still has this secret: the delivery
 * insert carries the encrypted secret the edge verified against and writes only while the project
 * row still holds exactly it (db/deliveries.ts, insertDeliveryIfProjectCurrent). So in every
 * isolate, without any cross-isolate invalidation:
 * - a rotated secret stops verifying at once: an old-secret delivery verifies against a stale entry,
 *   its insert writes nothing, the edge reloads the project and the old signature fails → 401;
 * - a new-secret delivery against a stale entry fails verification, the edge reloads once → 202;
 * - a deleted project stops accepting at once: the insert writes nothing, the reload finds no
 *   project → 404. A delivery stored just before the delete is removed by the delete's own batch,
 *   and the Durable Object's apply refuses a project that no longer exists.
 * The TTL only bounds how long a secret stays in memory and how often an idle entry is refreshed.
 */
import { openProjectSecret, SecretOriginMismatch } from "../crypto";
import { log } from "../log";
import { originOf } from "../providers";
import type { Database } from "../db/client";
import { getProject } from "../db/projects";
import type { Env } from "../env";
import type { Provider } from "../providers";

export interface EdgeProject {
  id: string;
  provider: Provider;
  /** The stored (encrypted) secret: the version the delivery insert checks is still current. */
  webhookSecretEnc: string;
  secret: string;
  /** What a delivery's repository is compared with (org / group hooks send other repositories' events). */
  repository: string;
  trackerRepositoryId: string | null;
  trackerRepositoryName: string | null;
  /** True when this came from the isolate's cache rather than from D1 just now. */
  cached: boolean;
}

const TTL_MS = 60_000;
const MAX_ENTRIES = 5_000;
/** null marks an entry known stale (the project was deleted or changed here). */
const cache = new Map<string, { project: EdgeProject; loadedAt: number } | null>();

/** The project as the edge needs it, from the isolate's cache unless `fresh`; null when it does not exist. */
export async function edgeProject(env: Env, db: Database, projectId: string, { fresh = false, now = Date.now() } = {}): Promise<EdgeProject | null> {
  const hit = cache.get(projectId);
  if (!fresh && hit && now - hit.loadedAt < TTL_MS) return { ...hit.project, cached: true };
  const row = await getProject(db, projectId);
  if (!row) {
    if (cache.has(projectId)) cache.set(projectId, null);
    return null;
  }
  let secret = "";
  try {
    secret = await openProjectSecret(env.TOKEN_ENCRYPTION_KEY, row.id, "webhookSecret", row.webhookSecretEnc, originOf(row.apiBaseUrl));
  } catch (err) {
    // A secret bound to another origin verifies nothing (the empty secret never matches).
    if (!(err instanceof SecretOriginMismatch)) throw err;
    log.error("webhook secret is bound to another origin", { projectId });
  }
  const project: EdgeProject = {
    id: row.id,
    provider: row.provider,
    webhookSecretEnc: row.webhookSecretEnc,
    secret,
    repository: row.repository,
    trackerRepositoryId: row.trackerRepositoryId,
    trackerRepositoryName: row.trackerRepositoryName,
    cached: false,
  };
  // Bounded: a full cache starts over (entries reload on demand, one D1 read each).
  if (cache.size >= MAX_ENTRIES && !cache.has(projectId)) cache.clear();
  cache.set(projectId, { project, loadedAt: now });
  return project;
}

/** Drops the isolate's entry (this isolate's own PATCH/DELETE); other isolates are covered by the insert check. */
export function forgetEdgeProject(projectId: string): void {
  if (cache.has(projectId)) cache.set(projectId, null);
}
