import type { ActivityOrigin } from "../db/activity";
import { type Database } from "../db/client";
import { projectDatabaseById } from "../db/shards";
import { getProject } from "../db/projects";
import type { ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { NotFound } from "../errors";
import { createTracker } from "../providers";
import type { Tracker } from "../providers/types";
import { openCredential, type CredentialSession } from "./credentials";

/** What every write path of one project needs: bindings, the db, the project and its tracker. */
export interface SyncContext {
  env: Env;
  db: Database;
  project: ProjectRow;
  tracker: Tracker;
  /** What set this write path going (source, run or delivery id, actor): stamped on its activity entries. */
  origin?: ActivityOrigin;
  /** The credential the tracker is reached with (shared budget, health, App tokens). */
  credential: CredentialSession;
}

export async function loadSyncContext(env: Env, projectId: string): Promise<SyncContext> {
  const db = await projectDatabaseById(env, projectId);
  const project = await getProject(db, projectId);
  if (!project) throw new NotFound("project", projectId);
  const credential = await openCredential(env, db, project);
  const tracker = createTracker({
    provider: project.provider,
    apiBaseUrl: project.apiBaseUrl,
    // After a rename the tracker's current name is used, so requests are not redirected forever.
    repository: project.trackerRepositoryName ?? project.repository,
    token: credential.token,
    fetch: credential.fetch,
    ...(credential.actorLogin ? { actorLogin: credential.actorLogin } : {}),
    repositoryId: project.trackerRepositoryId,
  });
  return { env, db, project, tracker, credential };
}

