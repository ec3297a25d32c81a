/**
 * The body of an event (API.md "Event subscriptions"): `{ type, timestamp, data }`. `full` payloads
 * carry the issue and comment as the API returns them; `thin` ones only ids and changed field names.
 * A string value over 16 KiB is left out and the resource marked `bodyOmitted: true`, so one event
 * stays small whatever the issue holds (activity `changes` are already bounded when recorded).
 */
import { fieldsOfRow } from "../db/issues";
import type { CommentRow, IssueRow } from "../db/schema";
import type { EventSpec } from "./types";

export const MAX_EVENT_VALUE_BYTES = 16 * 1024;

const encoder = new TextEncoder();

export function issueResource(row: IssueRow): Record<string, unknown> {
  return {
    id: row.id,
    projectId: row.projectId,
    ...fieldsOfRow(row),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    external:
      row.externalId !== null && row.externalNumber !== null
        ? { id: row.externalId, number: row.externalNumber, url: row.externalUrl ?? "", updatedAt: row.externalUpdatedAt }
        : null,
    syncState: row.syncState,
    deletedAt: row.deletedAt,
  };
}

export function commentResource(row: CommentRow): Record<string, unknown> {
  return {
    id: row.id,
    issueId: row.issueId,
    projectId: row.projectId,
    body: row.body,
    author: row.author,
    visibility: row.visibility,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    external: row.externalId !== null ? { id: row.externalId, url: row.externalUrl, updatedAt: row.externalUpdatedAt } : null,
    syncState: row.syncState,
    deletedAt: row.deletedAt,
  };
}

/** The resource with every string over the bound left out (`bodyOmitted: true` says so). */
export function bounded(resource: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let omitted = false;
  for (const [key, value] of Object.entries(resource)) {
    if (typeof value === "string" && value.length * 3 > MAX_EVENT_VALUE_BYTES && encoder.encode(value).length > MAX_EVENT_VALUE_BYTES) {
      omitted = true;
      continue;
    }
    out[key] = value;
  }
  if (omitted) out.bodyOmitted = true;
  return out;
}

export interface EnvelopeInput {
  spec: Pick<EventSpec, "eventId" | "type" | "position" | "projectId" | "issueId" | "commentId" | "changes" | "source" | "actor" | "detail" | "timestamp">;
  previousPosition: number | null;
  payload: "full" | "thin";
  issue?: IssueRow | undefined;
  comment?: CommentRow | undefined;
}

/** The JSON body sent for one event (fixed when the delivery is created: retries send the same bytes). */
export function envelope(input: EnvelopeInput): string {
  const { spec } = input;
  const data: Record<string, unknown> = {
    eventId: spec.eventId,
    position: spec.position,
    previousPosition: input.previousPosition,
    projectId: spec.projectId,
  };
  if (input.payload === "thin") {
    if (spec.issueId) data.issue = { id: spec.issueId };
    if (spec.commentId) data.comment = { id: spec.commentId };
    if (spec.changes) data.changedFields = Object.keys(spec.changes);
  } else {
    if (spec.issueId) data.issue = input.issue ? bounded(issueResource(input.issue)) : { id: spec.issueId };
    if (spec.commentId) data.comment = input.comment ? bounded(commentResource(input.comment)) : { id: spec.commentId };
    if (spec.changes) data.changes = spec.changes;
    if (spec.detail && !spec.issueId) data.detail = spec.detail;
  }
  data.source = spec.source;
  data.actor = spec.actor;
  return JSON.stringify({ type: spec.type, timestamp: spec.timestamp, data });
}
