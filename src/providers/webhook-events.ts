/**
 * What every tracker's webhook mapping shares: the payload error, zod parsing that names the bad
 * field, the shape of non-issue events, and reading `changes` into our field names.
 */
import type { z } from "zod";
import type { EventKind, IssueAction, IssueFields, NormalizedEvent, Provider, WebhookHeaders, WebhookRepository } from "./types";

/** A webhook payload that lacks what its event needs; the message names the field. */
export class WebhookPayloadError extends Error {
  override readonly name = "WebhookPayloadError";
}

/** Parses with zod, or throws `WebhookPayloadError` naming the first bad field. */
export function parsePayload<S extends z.ZodType>(schema: S, payload: unknown, what: string): z.output<S> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "(payload)";
  throw new WebhookPayloadError(`${what}: ${field}: ${issue?.message ?? "invalid"}`);
}

export function nonIssueEvent(
  provider: Provider,
  kind: Exclude<EventKind, "issue">,
  event: string,
  action: string,
  summary: Record<string, unknown> = {},
): NormalizedEvent {
  return {
    provider,
    kind,
    action,
    event,
    issue: null,
    complete: false,
    summary,
    changedFields: [],
    movedTo: null,
  };
}

/** The field an action changes, when the action itself says so. */
const ACTION_FIELDS: Partial<Record<IssueAction, keyof IssueFields>> = {
  closed: "state",
  reopened: "state",
  labeled: "labels",
  assigned: "assignees",
  milestoned: "milestone",
};

/**
 * Fields named by the payload's `changes` (through the tracker's key → field table) plus the one
 * the action implies; sorted.
 */
export function changedFieldsOf(
  action: IssueAction,
  changes: Record<string, unknown> | null | undefined,
  changeFields: Readonly<Record<string, keyof IssueFields>>,
): string[] {
  const fields = new Set<string>();
  for (const key of Object.keys(changes ?? {})) {
    const field = changeFields[key];
    if (field) fields.add(field);
  }
  const implied = ACTION_FIELDS[action];
  if (implied) fields.add(implied);
  return [...fields].sort();
}

/** The event name: the first of the tracker's event headers that is present. */
export function firstHeader(headers: WebhookHeaders, names: readonly string[]): string | null {
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) return value;
  }
  return null;
}

/**
 * The repository named by `payload[key]` with its id and name fields (GitHub/Gitea `repository`
 * with `id`/`full_name`, GitLab `project` with `id`/`path_with_namespace`); null when absent.
 */
export function namedRepository(payload: unknown, key: string, nameField: string): WebhookRepository | null {
  const value = (payload as Record<string, unknown> | null)?.[key];
  if (!value || typeof value !== "object") return null;
  const record = value as Record<string, unknown>;
  const id = typeof record.id === "number" || typeof record.id === "string" ? String(record.id) : null;
  const fullName = typeof record[nameField] === "string" ? (record[nameField] as string) : null;
  return id === null && fullName === null ? null : { id, fullName };
}
