/**
 * Event types and how the activity stream maps onto them. The activity table is the outbox: each
 * entry becomes at most one event (an import summary becomes one event per issue it lists), with an
 * id derived from its position, so a retry, a redelivery and a replay all carry the same id.
 */
import { activityPosition } from "../db/activity";
import type { ActivityRow } from "../db/schema";

export const EVENT_TYPES = [
  "issue.created",
  "issue.updated",
  "issue.closed",
  "issue.reopened",
  "issue.deleted",
  "issue.orphaned",
  "issue.linked",
  "issue.closed_by_pr",
  "comment.created",
  "comment.updated",
  "comment.deleted",
  "conflict.recorded",
  "conflict.resolved",
  "pull_request.linked",
  "pull_request.unlinked",
  "pull_request.state_changed",
  "sync.failed",
  "access.lost",
  "access.regained",
  "credential.rejected",
  "project.paused",
  "project.resumed",
  "push.failed",
  "webhook.ping",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const FAMILIES = new Set(EVENT_TYPES.map((t) => t.split(".")[0]!));

/** What is wrong with an `eventTypes` entry, or null: an event type, or `family.*`. */
export function patternProblem(pattern: string): string | null {
  if ((EVENT_TYPES as readonly string[]).includes(pattern)) return null;
  const m = /^([a-z_]+)\.\*$/.exec(pattern);
  if (m && FAMILIES.has(m[1]!)) return null;
  return `"${pattern}" is neither an event type (${EVENT_TYPES.join(", ")}) nor a family such as "issue.*"`;
}

export function typeMatches(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === type || (p.endsWith(".*") && type.startsWith(p.slice(0, -1))));
}

/** Activity kinds that are events under the same name. */
const SAME_NAME: ReadonlySet<string> = new Set([
  "issue.created",
  "issue.deleted",
  "issue.orphaned",
  "issue.closed_by_pr",
  "comment.created",
  "comment.updated",
  "comment.deleted",
  "conflict.recorded",
  "conflict.resolved",
  "pull_request.linked",
  "pull_request.unlinked",
  "pull_request.state_changed",
  "sync.failed",
  "access.lost",
  "access.regained",
  "credential.rejected",
  "push.failed",
]);

const RENAMED: Readonly<Record<string, EventType>> = {
  "sync.paused": "project.paused",
  "sync.resumed": "project.resumed",
  "comment.push_failed": "push.failed",
};

/** One event an activity entry stands for. */
export interface EventSpec {
  eventId: string;
  type: EventType;
  position: number;
  positionIndex: number;
  projectId: string;
  issueId: string | null;
  commentId: string | null;
  /** `{ field: { before, after } }` as the activity entry recorded it (values bounded there). */
  changes: Record<string, { before: unknown; after: unknown }> | null;
  source: string;
  actor: string | null;
  detail: string | null;
  timestamp: string;
}

function parseChanges(row: ActivityRow): EventSpec["changes"] {
  if (!row.changes) return null;
  try {
    return JSON.parse(row.changes) as EventSpec["changes"];
  } catch {
    return null;
  }
}

function typeOf(row: ActivityRow, changes: EventSpec["changes"]): EventType | null {
  if (SAME_NAME.has(row.kind)) return row.kind as EventType;
  if (RENAMED[row.kind]) return RENAMED[row.kind]!;
  if (row.kind === "issue.updated") {
    const state = changes?.state;
    if (state && state.after === "closed" && state.before !== "closed") return "issue.closed";
    if (state && state.after === "open" && state.before === "closed") return "issue.reopened";
    return "issue.updated";
  }
  // The first push that gives a local issue its tracker number links it.
  if (row.kind === "issue.pushed" && changes?.externalNumber && changes.externalNumber.before === null) return "issue.linked";
  return null;
}

/** The ids an import summary lists (`detail` `{ "issueIds": [...] }`); empty when unreadable. */
function importedIds(detail: string | null): string[] {
  if (!detail) return [];
  try {
    const parsed = JSON.parse(detail) as { issueIds?: unknown };
    return Array.isArray(parsed.issueIds) ? parsed.issueIds.filter((id): id is string => typeof id === "string") : [];
  } catch {
    return [];
  }
}

/**
 * The events of one activity entry of shard `shard` (none for kinds no event type stands for). The
 * position is shard-qualified (`activityPosition`): ids stay unique across shards, shard 0's unchanged.
 */
export function eventsOfActivity(row: ActivityRow, shard = 0): EventSpec[] {
  const position = activityPosition(shard, row.seq);
  const base = {
    position,
    projectId: row.projectId,
    source: row.source,
    actor: row.actor,
    timestamp: row.createdAt,
  };
  if (row.kind === "issue.imported") {
    // A first import's one summary entry stands for one issue.created per issue it lists.
    return importedIds(row.detail).map((issueId, i) => ({
      ...base,
      eventId: `evt_${position}-${i}`,
      type: "issue.created" as const,
      positionIndex: i,
      issueId,
      commentId: null,
      changes: null,
      detail: null,
    }));
  }
  const changes = parseChanges(row);
  const type = typeOf(row, changes);
  if (!type) return [];
  const comment = /^comment (\S+)/.exec(row.detail ?? "");
  return [
    {
      ...base,
      eventId: `evt_${position}`,
      type,
      positionIndex: 0,
      issueId: row.issueId,
      commentId: type.startsWith("comment.") || row.kind === "comment.push_failed" ? (comment?.[1] ?? null) : null,
      changes,
      detail: row.detail,
    },
  ];
}
