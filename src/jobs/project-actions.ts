/**
 * Operations the API and the dashboard both offer, in one place each: the routes of http/ and the
 * forms of ui/ call these, never their own copies.
 */
import type { ProjectRow } from "../db/schema";
import { projectSync } from "../durable/client";
import type { Env } from "../env";
import { StateConflict } from "../errors";

/** Starts a run, or joins the one already going (a full request upgrades an incremental run). */
export async function startSync(env: Env, project: ProjectRow, mode: "incremental" | "full"): Promise<{ runId: string; joined: boolean }> {
  if (!project.syncEnabled) throw new StateConflict(`sync is paused for project ${project.id}; resume it first (PATCH syncEnabled: true, or Resume sync on the dashboard)`);
  return projectSync(env, project.id).requestRun(mode, "api");
}
