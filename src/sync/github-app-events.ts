/**
 * The GitHub App's one webhook: each verified delivery is routed by `repository.id` to the projects
 * syncing that repository (stored and applied per project exactly like a project's own webhook),
 * and `installation` / `installation_repositories` events keep the installation's state current:
 * suspended or uninstalled installations and removed repositories pause their projects (the
 * credential or repository row says why), unsuspending or adding the repository again resumes them.
 */
import { database, type Database } from "../db/client";
import {
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
import { parseAppDelivery, type AppRepositoryRef } from "../providers";
import { enqueueDeliveryApply, enqueueResumedRuns } from "../queue/send";

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
  /** What the per-project webhook would record: received (acted on), ignored, or failed (with the error). */
  status: DeliveryStatus;
  error: string | null;
}

export type AppDeliveryResult =
  | { status: "accepted" | "ignored"; id?: string }
  | { status: "duplicate" }
  | { status: "failed"; error: string }
  | { status: "too_large" };

export async function receiveAppDelivery(env: Env, input: AppDeliveryInput): Promise<AppDeliveryResult> {
  const db = database(env.DB);
  const delivery = parseAppDelivery(input.event, input.payload);
  const now = nowIso();
  switch (delivery.kind) {
    case "installation":
    case "installation_repositories": {
      if (!(await recordAppDelivery(db, input.deliveryId, input.event, input.action))) return { status: "duplicate" };
      const resumed =
        delivery.kind === "installation"
          ? await installationChanged(db, delivery.action, delivery.installationId, delivery.repositories, now)
          : await repositoriesChanged(db, delivery.action, delivery.installationId, delivery.added, delivery.removed, now);
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

async function routeToProjects(
  env: Env,
  db: Database,
  input: AppDeliveryInput,
  installationId: number | null,
  repository: AppRepositoryRef,
  now: string,
): Promise<AppDeliveryResult> {
  if (installationId !== null) {
    // Learn the id (and the current name) of every repository a delivery comes from: a project that
    // names it is linked on first sight, and a renamed or transferred one follows the new name.
    await upsertAppRepositories(db, installationId, [repository], now);
    await linkProjectsByName(db, installationId, repository);
    await renameLinkedProjects(db, repository, now);
  }
  const projects = (await projectsOfAppRepository(db, repository.repositoryId)).filter((p) => p.installationId !== null);
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

/** `installation` events. Returns the projects to resume. */
async function installationChanged(db: Database, action: string, installationId: number, repositories: AppRepositoryRef[], now: string): Promise<string[]> {
  switch (action) {
    case "created":
      await upsertAppRepositories(db, installationId, repositories, now);
      for (const repository of repositories) await linkProjectsByName(db, installationId, repository);
      await setInstallationHealth(db, installationId, "ok", null, now);
      return projectIdsOfInstallation(db, installationId, RESUME_LIMIT);
    case "deleted":
      await setInstallationHealth(db, installationId, "removed", "the GitHub App was uninstalled from the account", now);
      await markAppRepositoriesRemoved(db, installationId, null, now);
      return [];
    case "suspend":
      await setInstallationHealth(db, installationId, "suspended", "the account suspended the GitHub App installation", now);
      return [];
    case "unsuspend":
      await setInstallationHealth(db, installationId, "ok", null, now, ["suspended"]);
      return projectIdsOfInstallation(db, installationId, RESUME_LIMIT);
    case "new_permissions_accepted":
      // Permissions the installation lacked (a refused mint) may be granted now.
      await setInstallationHealth(db, installationId, "ok", null, now, ["rejected"]);
      return projectIdsOfInstallation(db, installationId, RESUME_LIMIT);
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
): Promise<string[]> {
  await markAppRepositoriesRemoved(db, installationId, removed.map((r) => r.repositoryId), now);
  if (added.length === 0 || action !== "added") return [];
  await upsertAppRepositories(db, installationId, added, now);
  const resumed: string[] = [];
  for (const repository of added) {
    await linkProjectsByName(db, installationId, repository);
    for (const project of await projectsOfAppRepository(db, repository.repositoryId)) if (project.syncEnabled) resumed.push(project.id);
  }
  return resumed.slice(0, RESUME_LIMIT);
}
