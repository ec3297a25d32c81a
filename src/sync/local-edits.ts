/**
 * Local edits through the API: the issue write and its outbox row in one atomic batch, then the
 * push job (best effort: the cron sweep re-sends a lost one). Refused for inbound projects, where
 * the tracker is the only master.
 */
import { canonicalText } from "../providers/canonical";
import { fieldChanges, type ActivityOrigin } from "../db/activity";
import type { Database } from "../db/client";
import { fieldsOfRow, fieldsToColumns, getIssue, insertLocalIssue, updateLocalIssue } from "../db/issues";
import { stringifySet } from "../db/json";
import type { IssueRow, ProjectRow } from "../db/schema";
import type { Env } from "../env";
import { DirectionRefused, NotFound, PreconditionFailed, StateConflict, Unprocessable, ValidationFailed } from "../errors";
import { newId, nowIso } from "../ids";
import { labelNameProblem } from "../providers";
import type { IssueFields } from "../providers/types";
import { enqueuePushes } from "../queue/send";
import { rowChanges } from "./activity";
import { settingsOf } from "./project-settings";
import { changedFields, pickFields } from "./snapshot";
import { editedCloseReason, type LocalCloseReason } from "./close-reason";

/** Compare-and-set rounds when a sync writes the row between our read and our write. */
const MAX_ATTEMPTS = 5;

/** Label names the project's tracker cannot hold as one label (GitLab: a comma splits it in two). */
function assertLabelsSendable(project: ProjectRow, labels: readonly string[] | undefined): void {
  const errors = (labels ?? []).flatMap((name, i) => {
    const problem = labelNameProblem(project.provider, name);
    return problem ? [{ field: `labels.${i}`, message: problem }] : [];
  });
  if (errors.length) throw new ValidationFailed(errors);
}

/** Fields whose direction (`fieldDirections`) makes the tracker their only master: a local edit is refused. */
function assertFieldsWritable(project: ProjectRow, patch: Partial<IssueFields>): void {
  const directions = settingsOf(project).fieldDirections;
  const refused = (Object.keys(patch) as (keyof IssueFields)[]).filter((f) => patch[f] !== undefined && directions[f] === "inbound");
  if (refused.length > 0) {
    throw new DirectionRefused(`${refused.join(", ")} of project ${project.id} ${refused.length === 1 ? "syncs" : "sync"} inbound only (fieldDirections): the tracker is the master and local edits are refused`);
  }
}

/** Local edits reach the tracker unless the tracker is the only master. */
function assertLocalWritesAllowed(project: ProjectRow): void {
  if (project.syncDirection === "inbound") {
    throw new DirectionRefused(`project ${project.id} syncs inbound only: the tracker is the master and local edits are refused`);
  }
}

export interface NewLocalIssue {
  title: string;
  body?: string;
  labels?: string[];
  assignees?: string[];
  milestone?: string | null;
}

/** Creates a local issue and queues its tracker create. */
export async function createLocalIssue(
  env: Env,
  db: Database,
  project: ProjectRow,
  input: NewLocalIssue,
  origin: ActivityOrigin = { source: "api" },
): Promise<IssueRow> {
  assertLocalWritesAllowed(project);
  assertLabelsSendable(project, input.labels);
  const now = nowIso();
  const id = newId();
  const fields = {
    title: input.title,
    // The one canonical text form (LF), as every tracker copy is stored: a CRLF body would never settle.
    body: canonicalText(input.body ?? ""),
    state: "open" as const,
    labels: stringifySet(input.labels ?? []),
    assignees: stringifySet(input.assignees ?? []),
    milestone: input.milestone ?? null,
    syncState: "pending_push" as const,
  };
  const row = await insertLocalIssue(db, { id, projectId: project.id, ...fields, createdAt: now, updatedAt: now }, { outboxId: newId() }, [
    { projectId: project.id, issueId: id, kind: "issue.created", origin, changes: rowChanges(undefined, fields), detail: "created locally", createdAt: now },
  ]);
  await enqueuePushes(env, project.id, [id]);
  return row;
}

/** Applies a local edit with compare-and-set, retrying a few times if a sync wrote the row meanwhile. */
export async function editIssue(
  env: Env,
  db: Database,
  project: ProjectRow,
  issueId: string,
  edit: Partial<IssueFields> & { closeReason?: LocalCloseReason | null },
  origin: ActivityOrigin = { source: "api" },
  /** The version the caller last read (`If-Match`): any other version is refused (412), nothing written. */
  expectedVersion: number | null = null,
): Promise<IssueRow> {
  const { closeReason: givenReason, ...fieldPatch } = edit;
  let patch: Partial<IssueFields> = fieldPatch;
  assertLocalWritesAllowed(project);
  assertLabelsSendable(project, patch.labels);
  if (patch.body !== undefined) patch = { ...patch, body: canonicalText(patch.body) };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await getIssue(db, project.id, issueId);
    if (!current) throw new NotFound("issue", issueId);
    if (expectedVersion !== null && current.version !== expectedVersion) {
      throw new PreconditionFailed(`issue ${issueId} is at version ${current.version}, not ${expectedVersion} (If-Match): read it again and reapply the edit`);
    }
    if (current.syncState === "orphaned" || current.deletedAt) {
      throw new StateConflict(`issue ${issueId} is orphaned: its tracker issue was deleted or moved`);
    }
    const fields = fieldsOfRow(current);
    const wanted = { ...fields, ...patch };
    const changed = pickFields(wanted, changedFields(fields, wanted));
    const reason = editedCloseReason(current, wanted.state, givenReason);
    if ("error" in reason) throw new Unprocessable([{ field: "closeReason", message: reason.error }]);
    const reasonChanged = reason.reason !== current.closeReason;
    if (Object.keys(changed).length === 0 && !reasonChanged) return current;
    // A close reason belongs to the state: an inbound-only state refuses it too.
    assertFieldsWritable(project, givenReason !== undefined ? { state: wanted.state, ...changed } : changed);
    const now = nowIso();
    const guard = { id: issueId, version: current.version + 1 };
    const reasonChange = reasonChanged ? fieldChanges({ closeReason: current.closeReason }, { closeReason: reason.reason }) : null;
    // Only the reason changed: kept locally (trackers take a reason only with a state change).
    const push = Object.keys(changed).length > 0;
    const after = { ...current, ...fieldsToColumns(changed), syncState: push ? ("pending_push" as const) : current.syncState };
    const changes = { ...rowChanges(current, after), ...reasonChange };
    const row = await updateLocalIssue(db, current, reasonChanged ? { ...changed, closeReason: reason.reason } : changed, push ? { outboxId: newId() } : null, now, [
      { projectId: project.id, issueId, kind: "issue.updated", origin, changes, createdAt: now, onlyIfIssue: guard },
    ]);
    if (row) {
      if (push) await enqueuePushes(env, project.id, [issueId]);
      return row;
    }
  }
  throw new StateConflict(`issue ${issueId} is being changed concurrently; try again`);
}
