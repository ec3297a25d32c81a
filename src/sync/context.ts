import { openProjectSecret } from "../crypto";
import { database, type Database } from "../db/client";
import { getProject } from "../db/projects";
import type { ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { NotFound } from "../errors";
import { createTracker } from "../providers";
import type { Tracker } from "../providers/types";

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
  const token = await openProjectSecret(env.TOKEN_ENCRYPTION_KEY, project.id, "token", project.tokenEnc);
  const tracker = createTracker({
    provider: project.provider,
    apiBaseUrl: project.apiBaseUrl,
    // After a rename the tracker's current name is used, so requests are not redirected forever.
    repository: project.trackerRepositoryName ?? project.repository,
    token,
  });
  return { env, db, project, tracker };
}
