import { createMiddleware } from "hono/factory";
import { projectDatabaseById } from "../db/shards";
import { getProject } from "../db/projects";
import type { ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { NotFound } from "../errors";
import type { ApiToken } from "./auth";

/** Hono env of the routers: the bindings, and the project of a `/projects/:projectId/...` route. */
export type AppEnv = { Bindings: Env; Variables: { project: ProjectRow; apiToken: ApiToken } };

/**
 * Loads the project of every `/projects/:projectId` route once and puts it on the context
 * (`c.var.project`); an unknown id answers 404 problem+json (through the error handler).
 */
export const loadProject = createMiddleware<AppEnv>(async (c, next) => {
  const projectId = c.req.param("projectId");
  if (projectId === undefined) return next();
  const project = await getProject(await projectDatabaseById(c.env, projectId), projectId);
  if (!project) throw new NotFound("project", projectId);
  c.set("project", project);
  await next();
});
