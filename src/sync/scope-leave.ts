/**
 * An issue leaving the sync scope under `scope.onLeave: "unlink"`: the link is dropped and both
 * issues stay exactly as they are — never closed, deleted or orphaned. The local issue becomes a
 * local-only issue (an edit that brings it back into scope creates a new tracker issue); the tracker
 * issue, if it comes back into scope, is imported as a new local issue.
 */
import { unlinkIssue } from "../db/unlink";
import type { IssueRow } from "../db/schema";
import { nowIso } from "../ids";
import { log } from "../log";
import { originOf } from "./activity";
import type { SyncContext } from "./context";

/** Unlinks the issue; false when it changed meanwhile (the caller's next round sees it again). */
export async function unlinkLeavingIssue(ctx: SyncContext, issue: IssueRow): Promise<boolean> {
  if (issue.externalId === null) return true;
  const now = nowIso();
  const number = issue.externalNumber;
  const reason = `unlinked from #${number}: it left the project's sync scope (nothing was closed or deleted)`;
  const done = await unlinkIssue(ctx.db, issue, reason, now, [
    {
      projectId: ctx.project.id,
      issueId: issue.id,
      origin: originOf(ctx, "poll"),
      createdAt: now,
      onlyIfIssue: { id: issue.id, version: issue.version + 1 },
      kind: "issue.updated",
      changes: { externalNumber: { before: number, after: null } },
      detail: reason,
    },
  ]);
  if (done) log.info("issue unlinked: left the sync scope", { projectId: ctx.project.id, issueId: issue.id, externalNumber: number });
  return done;
}
