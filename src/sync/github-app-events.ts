/**
 * The GitHub App's one webhook: each verified delivery is routed by `repository.id` to the projects
 * syncing that repository (stored and applied per project exactly like a project's own webhook),
 * and `installation` / `installation_repositories` events keep the installation's state current:
 * suspended or uninstalled installations and removed repositories pause their projects (the
 * credential or repository row says why), unsuspending or adding the repository again resumes them.
 */
import type { ActivityEntry, ActivityKind } from "../db/activity";
import type { Database } from "../db/client";
import { allShardDatabases } from "../db/shards";
import {
  adoptReinstalledProjects,
  appDeliverySeen,
  ensureCredential,
  linkInstallationProjectsByName,
  linkProjectsByName,
  markAppRepositoriesRemoved,
  projectIdsOfInstallation,
  projectsOfAppRepository,
  recordAppDelivery,
  renameLinkedProjects,
  setInstallationHealth,
  upsertAppRepositories,
} from "../db/credentials";
import { encodePayload, insertDelivery, type DeliveryStatus } from "../db/deliveries";
import type { Env } from "../env";
import { newId, nowIso } from "../ids";
import { errorText, log } from "../log";
import { fetchInstallationState, parseAppDelivery, type AppRepositoryRef } from "../providers";
import { enqueueDeliveryApply, enqueueResumedRuns } from "../queue/send";
import { githubAppConfig, installationCredential } from "./credentials";

/** Projects resumed at once per event; the cron's next run picks up any beyond. */
const RESUME_LIMIT = 500;

export interface AppDeliveryInput {
  deliveryId: string;
  event: string;
  action: string | null;
  /** The verified body, parsed. */
  payload: Record<string, unknown>;
  /** The body as it is stored with each project's delivery. */
  json: string;
  /** SHA-256 (hex) of the raw body: a signed body re-sent under a fresh delivery id is a duplicate. */
  bodySha256: string;
  /** What the per-project webhook would record: received (acted on), ignored, or failed (with the error). */
  status: DeliveryStatus;
  error: string | null;
}

export type AppDeliveryResult =
  | { status: "accepted" | "ignored"; id?: string }
  | { status: "duplicate" }
  | { status: "failed"; error: string }
  | { status: "too_large" }
  /** GitHub could not confirm what the delivery says (network, 5xx): nothing applied or recorded, so a redelivery is. */
  | { status: "unavailable"; error: string };

/**
 * Each shard keeps its own copy of the App's rows (credential, repositories, seen deliveries) for
 * its projects, so the delivery is applied in every shard; GitHub is asked to confirm an
 * installation change once. One answer for all: the most urgent shard's (see `RESULT_ORDER`).
 */
export async function receiveAppDelivery(env: Env, input: AppDeliveryInput): Promise<AppDeliveryResult> {
  let confirmation: ReturnType<typeof confirmInstallationChangeOnce> | undefined;
  const confirm: typeof confirmInstallationChangeOnce = (e, action, installationId) => (confirmation ??= confirmInstallationChangeOnce(e, action, installationId));
  const results: AppDeliveryResult[] = [];
  for (const { db } of allShardDatabases(env)) results.push(await receiveAppDeliveryIn(env, db, input, confirm));
  return results.reduce((a, b) => (RESULT_ORDER.indexOf(b.status) < RESULT_ORDER.indexOf(a.status) ? b : a));
}

/** Which shard's answer wins: a shard that could not apply it, then one that did, then the rest. */
const RESULT_ORDER: readonly AppDeliveryResult["status"][] = ["unavailable", "failed", "too_large", "accepted", "duplicate", "ignored"];

async function receiveAppDeliveryIn(
  env: Env,
  db: Database,
  input: AppDeliveryInput,
  confirmInstallationChange: (env: Env, action: string, installationId: number) => ReturnType<typeof confirmInstallationChangeOnce>,
): Promise<AppDeliveryResult> {
  const delivery = parseAppDelivery(input.event, input.payload);
  const now = nowIso();
  switch (delivery.kind) {
    case "refused":
      return { status: "failed", error: `The body does not fit its event: ${delivery.problem}.` };
    case "installation":
    case "installation_repositories": {
      if (await appDeliverySeen(db, input.deliveryId, input.bodySha256)) return { status: "duplicate" };
      const origin = { source: "webhook" as const, deliveryId: input.deliveryId };
      let resumed: string[];
      if (delivery.kind === "installation") {
        const confirmed = await confirmInstallationChange(env, delivery.action, delivery.installationId);
        if (confirmed !== true) {
          if (confirmed.status === "unavailable") return confirmed;
          // GitHub says otherwise (a stale or replayed delivery): recorded, nothing paused.
          await recordAppDelivery(db, input.deliveryId, input.event, input.action, input.bodySha256);
          log.info("github app installation event not confirmed by GitHub; ignored", { action: delivery.action, installationId: delivery.installationId, state: confirmed.state });
          return { status: "ignored" };
        }
        // The installation's state lives on its credential row: one must exist before a project ever ran.
        const app = githubAppConfig(env);
        if (app) await ensureCredential(db, installationCredential(app.apiBaseUrl, delivery.installationId));
        resumed = await installationChanged(db, delivery.action, delivery.installationId, delivery.repositories, now, origin);
      } else {
        resumed = await repositoriesChanged(db, delivery.action, delivery.installationId, delivery.added, delivery.removed, now, origin);
      }
      // Seen only once applied: a delivery that failed half-way is applied again when GitHub redelivers it.
      if (!(await recordAppDelivery(db, input.deliveryId, input.event, input.action, input.bodySha256))) return { status: "duplicate" };
      if (resumed.length > 0) await enqueueResumedRuns(env, resumed);
      log.info("github app installation event", { event: input.event, action: input.action, resumed: resumed.length });
      return { status: "accepted" };
    }
    case "repository":
      return routeToProjects(env, db, input, delivery.installationId, delivery.repository, now);
    case "other":
      return { status: "ignored" };
  }
}

/**
 * An uninstall or suspension pauses every project of the installation: GitHub is asked first
 * (`GET /app/installations/{id}`), so only a change GitHub confirms is applied. Other actions
 * pause nothing and need no confirmation.
 */
async function confirmInstallationChangeOnce(
  env: Env,
  action: string,
  installationId: number,
): Promise<true | { status: "unavailable"; error: string } | { status: "mismatch"; state: string }> {
  const expected = action === "deleted" ? "gone" : action === "suspend" ? "suspended" : null;
  if (expected === null) return true;
  const app = githubAppConfig(env);
  if (!app) return { status: "mismatch", state: "no GitHub App configured" };
  let state: Awaited<ReturnType<typeof fetchInstallationState>>;
  try {
    state = await fetchInstallationState({ apiBaseUrl: app.apiBaseUrl, appId: app.appId, privateKeyPem: app.privateKeyPem, installationId });
  } catch (err) {
    log.error("github app installation state could not be read; the delivery is not applied", { installationId, error: errorText(err, 200) });
    return { status: "unavailable", error: `GitHub could not confirm installation ${installationId}'s state; redeliver the event later` };
  }
  return state === expected ? true : { status: "mismatch", state };
}

async function routeToProjects(
  env: Env,
  db: Database,
  input: AppDeliveryInput,
  installationId: number | null,
  repository: AppRepositoryRef,
  now: string,
): Promise<AppDeliveryResult> {
  if (installationId === null) return { status: "ignored" };
  {
    // Learn the id, installation and current name of every repository a delivery comes from: a
    // project that names it is linked on first sight, a renamed one follows the new name. A project
    // of another installation (the repository was transferred) is neither renamed nor fed: it is
    // paused, its status saying which installation has the repository now.
    await upsertAppRepositories(db, installationId, [repository], now);
    await linkProjectsByName(db, installationId, repository);
    const renamed = (await projectsOfAppRepository(db, repository.repositoryId)).filter((p) => p.installationId === installationId && p.repository !== repository.fullName);
    await renameLinkedProjects(
      db,
      installationId,
      repository,
      now,
      renamed.map((p) => ({
        projectId: p.id,
        kind: "repository.renamed" as const,
        origin: { source: "webhook" as const, deliveryId: input.deliveryId },
        createdAt: now,
        changes: { repository: { before: p.repository, after: repository.fullName } },
        detail: `the repository id ${repository.repositoryId} is now called ${repository.fullName} (was ${p.repository})`,
      })),
    );
  }
  const projects = (await projectsOfAppRepository(db, repository.repositoryId)).filter((p) => p.installationId === installationId);
  if (projects.length === 0) return { status: "ignored" };

  const payload = await encodePayload(input.json);
  if (payload === null) return { status: "too_large" };
  const finishedAt = input.status === "received" ? null : now;
  let firstId: string | undefined;
  let stored = 0;
  for (const project of projects) {
    const id = await insertDelivery(db, {
      id: newId(),
      projectId: project.id,
      provider: "github",
      deliveryId: input.deliveryId,
      event: input.event,
      action: input.action,
      payload,
      status: input.status,
      processedAt: finishedAt,
      error: input.error,
      bodySha256: input.bodySha256,
    });
    if (id === null) continue;
    stored++;
    firstId ??= id;
    if (input.status !== "received") continue;
    try {
      await enqueueDeliveryApply(env, project.id, id);
    } catch (err) {
      // Stored as `received`: the cron sweep applies it.
      log.error("app webhook enqueue failed; left for the sweep", { projectId: project.id, deliveryRowId: id, error: errorText(err, 200) });
    }
  }
  if (stored === 0) return { status: "duplicate" };
  if (input.status === "failed") return { status: "failed", error: input.error ?? "the delivery cannot be applied" };
  return { status: input.status === "received" ? "accepted" : "ignored", ...(firstId ? { id: firstId } : {}) };
}

type Origin = ActivityEntry["origin"];

/** One entry per project for a change of the installation or repository they sync through. */
function entriesFor(projectIds: readonly string[], kind: ActivityKind, detail: string, origin: Origin, now: string): ActivityEntry[] {
  return projectIds.map((projectId) => ({ projectId, kind, origin, createdAt: now, detail }));
}

/** `installation` events. Returns the projects to resume. */
async function installationChanged(
  db: Database,
  action: string,
  installationId: number,
  repositories: AppRepositoryRef[],
  now: string,
  origin: Origin,
): Promise<string[]> {
  // The installation's projects (bounded): each gets the entry, written with the state change.
  const projectIds = () => projectIdsOfInstallation(db, installationId, RESUME_LIMIT);
  const resumed = async (detail: string) => entriesFor(await projectIds(), "credential.resumed", detail, origin, now);
  switch (action) {
    case "created": {
      await upsertAppRepositories(db, installationId, repositories, now);
      const adopted = await adoptReinstalled(db, installationId, now, origin);
      await linkInstallationProjectsByName(db, installationId);
      await setInstallationHealth(db, installationId, "ok", null, now, undefined, await resumed(`GitHub App installation ${installationId} was installed again`));
      return [...new Set([...adopted, ...(await projectIds())])].slice(0, RESUME_LIMIT);
    }
    case "deleted": {
      const reason = "the GitHub App was uninstalled from the account";
      await setInstallationHealth(db, installationId, "removed", reason, now, undefined, entriesFor(await projectIds(), "credential.removed", `GitHub App installation ${installationId}: ${reason}`, origin, now));
      await markAppRepositoriesRemoved(db, installationId, null, now);
      return [];
    }
    case "suspend": {
      const reason = "the account suspended the GitHub App installation";
      await setInstallationHealth(db, installationId, "suspended", reason, now, undefined, entriesFor(await projectIds(), "credential.suspended", `GitHub App installation ${installationId}: ${reason}`, origin, now));
      return [];
    }
    case "unsuspend":
      await setInstallationHealth(db, installationId, "ok", null, now, ["suspended"], await resumed(`GitHub App installation ${installationId} was unsuspended`));
      return projectIds();
    case "new_permissions_accepted":
      // Permissions the installation lacked (a refused mint) may be granted now.
      await setInstallationHealth(db, installationId, "ok", null, now, ["rejected"], await resumed(`GitHub App installation ${installationId} accepted new permissions`));
      return projectIds();
    default:
      return [];
  }
}

/** `installation_repositories` events. Returns the projects to resume. */
async function repositoriesChanged(
  db: Database,
  action: string,
  installationId: number,
  added: AppRepositoryRef[],
  removed: AppRepositoryRef[],
  now: string,
  origin: Origin,
): Promise<string[]> {
  for (const repository of removed) {
    const projectIds = (await projectsOfAppRepository(db, repository.repositoryId)).map((p) => p.id);
    const detail = `repository ${repository.fullName} was removed from GitHub App installation ${installationId}`;
    await markAppRepositoriesRemoved(db, installationId, [repository.repositoryId], now, entriesFor(projectIds, "credential.removed", detail, origin, now));
  }
  if (added.length === 0 || action !== "added") return [];
  const resumed: string[] = [];
  for (const repository of added) {
    await linkProjectsByName(db, installationId, repository);
    // Only this installation's projects resume; one of another installation stays paused (transferred).
    const projects = (await projectsOfAppRepository(db, repository.repositoryId)).filter((p) => p.syncEnabled && p.installationId === installationId);
    const detail = `repository ${repository.fullName} was added to GitHub App installation ${installationId} again`;
    await upsertAppRepositories(db, installationId, [repository], now, entriesFor(projects.map((p) => p.id), "credential.resumed", detail, origin, now));
    resumed.push(...projects.map((p) => p.id));
  }
  resumed.push(...(await adoptReinstalled(db, installationId, now, origin)));
  return resumed.slice(0, RESUME_LIMIT);
}

/**
 * The App installed again (a new installation id) on repositories whose projects used an
 * installation since uninstalled: those projects move to the new installation and resume, instead
 * of each needing a PATCH. Returns their ids.
 */
async function adoptReinstalled(db: Database, installationId: number, now: string, origin: Origin): Promise<string[]> {
  const moved = await adoptReinstalledProjects(
    db,
    installationId,
    now,
    (rows) =>
      rows.map((p) => ({
        projectId: p.id,
        kind: "credential.resumed" as const,
        origin,
        createdAt: now,
        changes: { installationId: { before: p.installationId, after: installationId } },
        detail: `GitHub App installation ${p.installationId} was uninstalled; the repository is in installation ${installationId} now, which the project uses from here on`,
      })),
    RESUME_LIMIT,
  );
  return moved.map((p) => p.id);
}
