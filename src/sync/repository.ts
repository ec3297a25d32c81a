/**
 * The project's repository as the tracker identifies it. Trackers keep a repository's id through
 * renames and transfers (GitHub redirects the old name), so the id, learned the first time the
 * repository is read, is what "the same repository" means; the name is only where it lives now.
 * A 404 on the repository itself means the token lost access: recorded for status, never treated
 * as a deletion.
 */
import { recordAccessLost, recordRepositoryFound } from "../db/projects";
import { nowIso } from "../ids";
import { log } from "../log";
import type { SyncContext } from "./context";

export const ACCESS_LOST_REASON = "the tracker answers 404 for the repository itself: the token lost access (nothing is deleted meanwhile)";

/** Stores what the tracker adapter learned about the repository during this piece of work, if anything. */
export async function recordRepositoryObservation(ctx: SyncContext): Promise<void> {
  const seen = ctx.tracker.repositoryObserved;
  if (!seen) return;
  if (seen.status === "not_found") {
    await recordAccessLost(ctx.db, ctx.project.id, ACCESS_LOST_REASON, nowIso());
    log.info("tracker repository not readable: access lost", { projectId: ctx.project.id });
    return;
  }
  const knownId = ctx.project.trackerRepositoryId;
  if (knownId !== null && knownId !== seen.id) {
    // The configured name now belongs to another repository (e.g. the old name of a renamed one was reused).
    await recordAccessLost(ctx.db, ctx.project.id, `the repository answering as ${seen.fullName} has id ${seen.id}, not ${knownId}: another repository`, nowIso());
    return;
  }
  if (knownId === seen.id && ctx.project.trackerRepositoryName === seen.fullName && ctx.project.accessLostAt === null) return;
  await recordRepositoryFound(ctx.db, ctx.project.id, seen);
}
