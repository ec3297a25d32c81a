import { openProjectSecret } from "../crypto";
import type { ActivityOrigin } from "../db/activity";
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
  /** What set this write path going (source, run or delivery id, actor): stamped on its activity entries. */
  origin?: ActivityOrigin;
}

export async function loadSyncContext(env: Env, projectId: string): Promise<SyncContext> {
  const db = database(env.DB);
  const project = await getProject(db, projectId);
  if (!project) throw new NotFound("project", projectId);
  const token = await openProjectSecret(env.TOKEN_ENCRYPTION_KEY, project.id, "token", project.tokenEnc);
  const tracker = createTracker({
    provider: project.provider,
    apiBaseUrl: project.apiBaseUrl,
    repository: project.repository,
    token,
  });
  return { env, db, project, tracker };
}
