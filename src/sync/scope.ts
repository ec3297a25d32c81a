/**
 * Sync scope: which issues a project syncs. Pure predicate, evaluated on tracker snapshots inbound
 * and on local issues outbound. Labels are matched in both vocabularies (the tracker's name and the
 * local name a value map gives it), so a scope can be written in either.
 *
 * Leaving scope never closes or deletes anything: the engine freezes such an issue (the link is
 * kept and nothing is synced until it is back in scope) or, under `onLeave: "unlink"`, drops the link.
 */
import type { ListFilter } from "../providers/types";
import type { FieldMaps, Scope } from "./project-settings";

export interface ScopedIssue {
  labels: readonly string[];
  state: "open" | "closed";
  createdAt: string;
}

export function inScope(scope: Scope | null, issue: ScopedIssue, extraLabels: readonly string[] = []): boolean {
  if (!scope) return true;
  const labels = new Set([...issue.labels, ...extraLabels]);
  if (scope.labelsAny && scope.labelsAny.length > 0 && !scope.labelsAny.some((l) => labels.has(l))) return false;
  if (scope.labelsNone && scope.labelsNone.some((l) => labels.has(l))) return false;
  if (scope.state === "open" && issue.state !== "open") return false;
  if (scope.createdSince && issue.createdAt < scope.createdSince) return false;
  return true;
}

/** Why a scope can match no issue at all (allowed, but the operator is warned), or null. */
export function scopeMatchesNothing(scope: Scope | null): string | null {
  if (!scope) return null;
  const none = new Set(scope.labelsNone ?? []);
  const any = scope.labelsAny ?? [];
  if (any.length > 0 && any.every((l) => none.has(l))) return "every label of labelsAny is also in labelsNone: no issue can be in scope";
  if (scope.createdSince && scope.createdSince > new Date().toISOString()) return "createdSince is in the future: no existing issue is in scope";
  return null;
}

/**
 * The scope as a list filter the tracker may apply itself (in tracker label names), or null. Only
 * what keeps every issue in scope is pushed down (the local filter still runs on what is listed):
 * `labelsAny` only when it is one label that exactly one tracker label means (list filters AND
 * their labels); `labelsNone` as every tracker label that means an excluded one.
 *
 * Under a pushed-down filter an issue leaving scope on the tracker drops out of the incremental
 * listing: a frozen issue is not synced anyway, and the full run's probe of linked issues the
 * listing lacked reads it (and unlinks it under `onLeave: "unlink"`).
 */
export function scopeListFilter(scope: Scope | null, maps: FieldMaps): ListFilter | null {
  if (!scope) return null;
  // Tracker labels that count as `local` for scope: the name itself and every tracker value mapped to it.
  const trackerNames = (local: string): string[] => [local, ...maps.labels.filter((e) => e.local === local).flatMap((e) => e.tracker)];
  const filter: ListFilter = {};
  const any = scope.labelsAny ?? [];
  if (any.length === 1) {
    const names = [...new Set(trackerNames(any[0]!))];
    if (names.length === 1) filter.labelsAll = names;
  }
  const none = [...new Set((scope.labelsNone ?? []).flatMap(trackerNames))];
  if (none.length > 0) filter.labelsNone = none;
  if (scope.state === "open") filter.openOnly = true;
  if (scope.createdSince) filter.createdSince = scope.createdSince;
  return Object.keys(filter).length > 0 ? filter : null;
}
