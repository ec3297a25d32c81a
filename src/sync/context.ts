import { isOriginBound, openProjectSecret, sealProjectSecret, SecretOriginMismatch } from "../crypto";
import { database, type Database } from "../db/client";
import { getProject, rebindProjectToken } from "../db/projects";
import type { ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { NotFound } from "../errors";
import { createTracker, originOf } from "../providers";
import { TrackerError, type Tracker } from "../providers/types";

/** What every write path of one project needs: bindings, the db, the project and its tracker. */
export interface SyncContext {
  env: Env;
  db: Database;
  project: ProjectRow;
  tracker: Tracker;
}

export async function loadSyncContext(env: Env, projectId: string): Promise<SyncContext> {
  const db = database(env.DB);
  const project = await getProject(db, projectId);
  if (!project) throw new NotFound("project", projectId);
  const token = await openTrackerToken(env, db, project);
  const tracker = createTracker({
    provider: project.provider,
    apiBaseUrl: project.apiBaseUrl,
    repository: project.repository,
    token,
  });
  return { env, db, project, tracker };
}

/**
 * The project's tracker token, opened for the origin of its `apiBaseUrl`: a token stored for another
 * origin does not open, so it can never be sent there. A token stored before origins were bound is
 * bound now to the origin it is used with.
 */
async function openTrackerToken(env: Env, db: Database, project: ProjectRow): Promise<string> {
  const origin = originOf(project.apiBaseUrl);
  let token: string;
  try {
    token = await openProjectSecret(env.TOKEN_ENCRYPTION_KEY, project.id, "token", project.tokenEnc, origin);
  } catch (err) {
    if (!(err instanceof SecretOriginMismatch)) throw err;
    throw new TrackerError(`the stored token was not given for ${origin}; set a new token for this apiBaseUrl`, null, false);
  }
  if (!isOriginBound(project.tokenEnc)) {
    const sealed = await sealProjectSecret(env.TOKEN_ENCRYPTION_KEY, project.id, "token", token, origin);
    await rebindProjectToken(db, project.id, project.tokenEnc, sealed);
  }
  return token;
}
