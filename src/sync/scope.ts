/**
 * Sync scope: which issues a project syncs. Pure predicate, evaluated on tracker snapshots inbound
 * and on local issues outbound. Labels are matched in both vocabularies (the tracker's name and the
 * local name a value map gives it), so a scope can be written in either.
 *
 * Leaving scope never closes or deletes anything: the engine freezes such an issue (the link is
 * kept and nothing is synced until it is back in scope).
 */
import type { Scope } from "./project-settings";

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
