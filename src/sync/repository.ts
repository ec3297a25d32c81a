/**
 * The project's repository as the tracker identifies it. Trackers keep a repository's id through
 * renames and transfers (GitHub redirects the old name), so the id, learned the first time the
 * repository is read, is what "the same repository" means; the name is only where it lives now.
 * A 404 on the repository itself means the token lost access: recorded for status, never treated
 * as a deletion.
 */
import { projectDatabase } from "../db/shards";
import { recordAccessLost, recordRepositoryFound } from "../db/projects";
import type { Env } from "../env";
import { StateConflict } from "../errors";
import { createTracker, originOf } from "../providers";
import type { ProjectRow } from "../db/schema";
import type { TrackerConfig, WebhookRepository } from "../providers/types";
import { nowIso } from "../ids";
import { log } from "../log";
import type { SyncContext } from "./context";
import { openCredential } from "./credentials";
import { originOf as activityOrigin } from "./activity";

export const ACCESS_LOST_REASON = "the tracker answers 404 for the repository itself: the token lost access (nothing is deleted meanwhile)";

/** Stores what the tracker adapter learned about the repository during this piece of work, if anything. */
export async function recordRepositoryObservation(ctx: SyncContext): Promise<void> {
  const seen = ctx.tracker.repositoryObserved;
  if (!seen) return;
  const now = nowIso();
  const entry = (kind: "access.lost" | "access.regained" | "repository.renamed", detail: string) => ({
    projectId: ctx.project.id,
    kind,
    origin: activityOrigin(ctx),
    createdAt: now,
    detail,
  });
  if (seen.status === "not_found") {
    await recordAccessLost(ctx.db, ctx.project.id, ACCESS_LOST_REASON, now, [entry("access.lost", ACCESS_LOST_REASON)]);
    log.info("tracker repository not readable: access lost", { projectId: ctx.project.id });
    return;
  }
  const knownId = ctx.project.trackerRepositoryId;
  if (knownId !== null && knownId !== seen.id) {
    // The configured name now belongs to another repository (e.g. the old name of a renamed one was reused).
    const reason = `the repository answering as ${seen.fullName} has id ${seen.id}, not ${knownId}: another repository`;
    await recordAccessLost(ctx.db, ctx.project.id, reason, now, [entry("access.lost", reason)]);
    return;
  }
  if (knownId === seen.id && ctx.project.trackerRepositoryName === seen.fullName && ctx.project.accessLostAt === null) return;
  const before = ctx.project.trackerRepositoryName ?? ctx.project.repository;
  await recordRepositoryFound(ctx.db, ctx.project.id, seen, {
    regained: entry("access.regained", `the tracker answers for the repository again (${seen.fullName}, id ${seen.id})`),
    renamed: {
      ...entry("repository.renamed", `the repository id ${seen.id} is now called ${seen.fullName} (was ${before})`),
      changes: { repository: { before, after: seen.fullName } },
    },
  });
}

/**
 * Why a delivery is about another repository than the project's (an organisation, group or Gitea
 * org hook sends every repository's events to one URL), or null when it is the project's or the
 * payload does not say. The id decides once it is known; before that, the name.
 */
export function foreignDeliveryReason(
  project: Pick<ProjectRow, "repository" | "trackerRepositoryId" | "trackerRepositoryName">,
  repository: WebhookRepository | null | undefined,
): string | null {
  if (!repository) return null;
  const ours = project.trackerRepositoryName ?? project.repository;
  if (project.trackerRepositoryId !== null && repository.id !== null) {
    return repository.id === project.trackerRepositoryId ? null : foreign(repository, `id ${project.trackerRepositoryId}`);
  }
  // GitLab projects may be configured by numeric id.
  if (/^\d+$/.test(ours) && repository.id !== null) return repository.id === ours ? null : foreign(repository, `id ${ours}`);
  if (repository.fullName === null) return null;
  return repository.fullName.toLowerCase() === ours.toLowerCase() ? null : foreign(repository, ours);
}

function foreign(repository: WebhookRepository, ours: string): string {
  const theirs = [repository.fullName, repository.id !== null ? `id ${repository.id}` : null].filter(Boolean).join(", ");
  return `the delivery is for another repository (${theirs}), not the project's (${ours})`;
}

/**
 * A project with linked issues may point at its repository under another name or API address
 * (a rename or a move keeps the tracker's ids), never at another repository: its mappings hold
 * that repository's issue ids. Both are read from the tracker and their ids compared; a repository
 * that cannot be read is refused too (nothing proves it is the same one).
 */
export async function assertSameRepository(
  env: Env,
  project: ProjectRow,
  next: { apiBaseUrl: string; repository: string; token: string | undefined },
): Promise<void> {
  const credential = await openCredential(env, projectDatabase(env, project), project);
  const read = async (config: Pick<TrackerConfig, "apiBaseUrl" | "repository" | "token" | "fetch" | "actorLogin">): Promise<string | null> => {
    try {
      const found = await createTracker({ provider: project.provider, ...config }).getRepository();
      return found.status === "found" ? found.id : null;
    } catch {
      return null;
    }
  };
  const stored = {
    token: credential.token,
    fetch: credential.fetch,
    ...(credential.actorLogin ? { actorLogin: credential.actorLogin } : {}),
  };
  const currentId =
    project.trackerRepositoryId ?? (await read({ ...stored, apiBaseUrl: project.apiBaseUrl, repository: project.trackerRepositoryName ?? project.repository }));
  // A new token is read with alone; the stored credential only ever goes to its own origin (issue 17).
  const nextId =
    next.token !== undefined
      ? await read({ apiBaseUrl: next.apiBaseUrl, repository: next.repository, token: next.token })
      : originOf(next.apiBaseUrl) === originOf(project.apiBaseUrl)
        ? await read({ ...stored, apiBaseUrl: next.apiBaseUrl, repository: next.repository })
        : null;
  if (currentId === null || nextId === null) {
    throw new StateConflict(`project ${project.id} has linked issues and ${next.repository} could not be confirmed as the same repository (the tracker did not answer its id)`);
  }
  if (currentId !== nextId) {
    throw new StateConflict(`project ${project.id} has issues linked to repository id ${currentId}; ${next.repository} is another repository (id ${nextId}): create a new project for it`);
  }
}
