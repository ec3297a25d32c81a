/**
 * Activity entries for administrative changes to a project (created, updated, deleted, token or
 * webhook secret replaced, sync paused or resumed). Secrets never appear: only that they changed.
 */
import type { ActivityEntry, ActivityOrigin } from "../db/activity";
import { fieldChanges } from "../db/activity";
import type { ProjectRow } from "../db/schema";
import { settingsOf } from "./project-settings";

/** Project settings an operator sees; secrets and sync bookkeeping (cursor, ETag) are left out. */
const VISIBLE = ["name", "provider", "apiBaseUrl", "repository", "syncDirection", "master", "deletionPolicy"] as const;

/** People, values and scope: stored as JSON, shown (before → after) as the objects they are. */
const SETTINGS = ["fieldMaps", "labelPolicy", "milestonePolicy", "scope", "fieldDirections"] as const;

function visible(p: Partial<ProjectRow>): Record<string, unknown> {
  const settings = settingsOf(p);
  return {
    ...Object.fromEntries(VISIBLE.filter((k) => p[k] !== undefined).map((k) => [k, p[k]])),
    ...Object.fromEntries(SETTINGS.filter((k) => p[k] !== undefined).map((k) => [k, settings[k]])),
  };
}

export function projectCreatedActivity(project: ProjectRow, origin: ActivityOrigin, now: string): ActivityEntry[] {
  return [
    {
      projectId: project.id,
      kind: "project.created",
      origin,
      createdAt: now,
      changes: fieldChanges(undefined, { ...visible(project), syncEnabled: project.syncEnabled }),
      detail: `project "${project.name}" created for ${project.provider} ${project.repository}`,
    },
  ];
}

/** The entries for a PATCH: settings changed, each secret replaced, sync paused or resumed. */
export function projectUpdatedActivity(
  current: ProjectRow,
  patch: Partial<ProjectRow>,
  replaced: { token: boolean; webhookSecret: boolean },
  origin: ActivityOrigin,
  now: string,
): ActivityEntry[] {
  const base = { projectId: current.id, origin, createdAt: now };
  const entries: ActivityEntry[] = [];
  const before = visible(current);
  const after = { ...before, ...visible(patch) };
  const changes = fieldChanges(before, after);
  if (changes) entries.push({ ...base, kind: "project.updated", changes, detail: `changed ${Object.keys(changes).join(", ")}` });
  if (replaced.token) entries.push({ ...base, kind: "project.token_replaced", detail: "the tracker token was replaced" });
  if (replaced.webhookSecret) entries.push({ ...base, kind: "project.webhook_secret_replaced", detail: "the webhook secret was replaced" });
  if (patch.syncEnabled !== undefined && patch.syncEnabled !== current.syncEnabled) {
    entries.push({
      ...base,
      kind: patch.syncEnabled ? "sync.resumed" : "sync.paused",
      changes: { syncEnabled: { before: current.syncEnabled, after: patch.syncEnabled } },
      detail: patch.syncEnabled ? "sync resumed" : "sync paused",
    });
  }
  return entries;
}

export function projectDeletedActivity(project: ProjectRow, origin: ActivityOrigin, now: string): ActivityEntry[] {
  return [
    {
      projectId: project.id,
      kind: "project.deleted",
      origin,
      createdAt: now,
      detail: `project "${project.name}" (${project.provider} ${project.repository}) deleted with its local issues and history`,
    },
  ];
}
