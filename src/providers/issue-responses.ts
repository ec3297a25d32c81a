/**
 * Reading tracker answers into our shapes: an issue page from a raw list, an issue lookup from a
 * status, and schema-checked issue parsers. No HTTP here; the requests are `http.ts`.
 */
import type { z } from "zod";
import { toUtcIso } from "./timestamps";
import { TrackerError, type CanonicalIssue, type IssueLookup, type IssuePage, type IssuePageHead, type ListPageRequest, type Provider, type RepositoryLookup } from "./types";

/** The `Date` header as ISO UTC, or null. */
export function serverTimeOf(headers: Headers): string | null {
  const date = headers.get("date");
  if (!date) return null;
  const ms = Date.parse(date);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/**
 * A page built from the raw list as the tracker answered it: `issues` are the plain issues among
 * `raw`, mapped; `lastUpdatedAt` and `rawCount` still count the pull requests filtered out.
 */
export function issuePage(
  raw: readonly { updated_at: string }[],
  issues: CanonicalIssue[],
  headers: Headers,
  links: { nextUrl: string | null; etag?: string | null; total?: number | null },
): IssuePage {
  const last = raw.at(-1);
  return {
    issues,
    nextUrl: links.nextUrl,
    etag: links.etag ?? null,
    notModified: false,
    serverTime: serverTimeOf(headers),
    lastUpdatedAt: last ? toUtcIso(last.updated_at) : null,
    rawCount: raw.length,
    total: links.total ?? null,
  };
}

/**
 * The head of a page from the raw answer, before its items are validated: `lastUpdatedAt` from the
 * last raw item's `updated_at` when it is a parseable timestamp, else null (then the caller waits
 * for the validated page, which reports the same field or fails).
 */
export function rawPageHead(
  body: unknown,
  headers: Headers,
  links: { nextUrl: string | null; etag?: string | null; total?: number | null },
): IssuePageHead | null {
  if (!Array.isArray(body)) return null;
  const last: unknown = body.at(-1);
  let lastUpdatedAt: string | null = null;
  if (last !== undefined) {
    const updated = last !== null && typeof last === "object" ? (last as { updated_at?: unknown }).updated_at : undefined;
    if (typeof updated !== "string") return null;
    try {
      lastUpdatedAt = toUtcIso(updated);
    } catch {
      return null;
    }
  }
  return {
    nextUrl: links.nextUrl,
    etag: links.etag ?? null,
    notModified: false,
    serverTime: serverTimeOf(headers),
    lastUpdatedAt,
    rawCount: body.length,
    total: links.total ?? null,
  };
}

/**
 * The head of a pull request listing page (GitLab merge requests, Gitea pulls): as an issue page's,
 * with `lastUpdatedAt` from the last raw item that carries a readable `updated_at`.
 */
export function pullRequestPageHead(raw: readonly unknown[], headers: Headers, links: { nextUrl: string | null; total?: number | null }): IssuePageHead {
  let lastUpdatedAt: string | null = null;
  for (let i = raw.length - 1; i >= 0 && lastUpdatedAt === null; i--) {
    const item = raw[i];
    const updated = item !== null && typeof item === "object" ? (item as { updated_at?: unknown }).updated_at : undefined;
    if (typeof updated !== "string") continue;
    try {
      lastUpdatedAt = toUtcIso(updated);
    } catch {
      lastUpdatedAt = null;
    }
  }
  return { nextUrl: links.nextUrl, etag: null, notModified: false, serverTime: serverTimeOf(headers), lastUpdatedAt, rawCount: raw.length, total: links.total ?? null };
}

/** Hands the raw head to `request.onHead`, if the caller asked for it and the raw answer gives one. */
export function announceHead(
  request: ListPageRequest,
  body: unknown,
  headers: Headers,
  links: { nextUrl: string | null; etag?: string | null; total?: number | null },
): void {
  if (!request.onHead) return;
  const head = rawPageHead(body, headers, links);
  if (head) request.onHead(head);
}

/** A count header (GitLab `X-Total`, Gitea `X-Total-Count`) as a number, or null when absent or not a count. */
export function countHeader(headers: Headers, name: string): number | null {
  const value = headers.get(name)?.trim();
  if (!value || !/^\d+$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * A single-issue GET that did not find one: 404 (or GitHub's 410) is gone — a tracker does not
 * tell deleted from unreadable — and 403 is no access. Null for any other status.
 */
export function unreadableIssue(status: number): IssueLookup | null {
  if (status === 404 || status === 410) return { status: "deleted" };
  if (status === 403) return { status: "no_access" };
  return null;
}

/**
 * An adapter's `parseIssue` and `parseList` for its issue schema: an answer that does not fit is a
 * `TrackerError` naming the first bad field, never a half-read issue.
 */
export function issueParsers<S extends z.ZodType>(schema: S, provider: Provider) {
  const parseIssue = (body: unknown): z.output<S> => {
    const result = schema.safeParse(body);
    if (!result.success) {
      const field = result.error.issues[0]?.path.map(String).join(".") ?? "";
      throw new TrackerError(`${provider} answered an issue without a valid ${field || "body"}`, null, false);
    }
    return result.data;
  };
  const parseList = (body: unknown): z.output<S>[] => {
    if (!Array.isArray(body)) throw new TrackerError(`${provider} issue list is not a list`, null, false);
    return body.map(parseIssue);
  };
  return { parseIssue, parseList };
}

/**
 * The first of a user's recent issues titled exactly `title` and created at or after `floor`: how
 * a create whose answer was lost is found again. `skip` drops what the listing mixes in (pull
 * requests).
 */
export function firstCreatedSince<T extends { title: string; created_at: string }>(
  items: readonly unknown[],
  parseIssue: (body: unknown) => T,
  title: string,
  floor: string,
  skip: (issue: T) => boolean = () => false,
): T | null {
  const floorIso = toUtcIso(floor);
  for (const item of items) {
    const issue = parseIssue(item);
    if (skip(issue) || issue.title !== title) continue;
    if (toUtcIso(issue.created_at) >= floorIso) return issue;
  }
  return null;
}

/**
 * Like `firstCreatedSince`, but each candidate (mapped) must also pass `accept`, which may ask the
 * store: a lost create is adopted only if it is not already another local issue's, and sent the
 * same body within the window.
 */
export async function firstAcceptedCreatedSince<T extends { title: string; created_at: string }>(
  items: readonly unknown[],
  parseIssue: (body: unknown) => T,
  toCanonical: (issue: T) => CanonicalIssue,
  title: string,
  floor: string,
  skip: (issue: T) => boolean,
  accept: ((issue: CanonicalIssue) => boolean | Promise<boolean>) | undefined,
): Promise<CanonicalIssue | null> {
  const floorIso = toUtcIso(floor);
  for (const item of items) {
    const issue = parseIssue(item);
    if (skip(issue) || issue.title !== title || toUtcIso(issue.created_at) < floorIso) continue;
    const canonical = toCanonical(issue);
    if (!accept || (await accept(canonical))) return canonical;
  }
  return null;
}

/** After an issue answered 404: deleted if the repository itself is still readable, else access lost. */
export function lookupAfterNotFound(repository: RepositoryLookup): IssueLookup {
  return repository.status === "found" ? { status: "deleted" } : { status: "access_lost" };
}
