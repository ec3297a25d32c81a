/**
 * An issue leaving the sync scope under `scope.onLeave: "unlink"`: the link is dropped and both
 * issues stay exactly as they are — never closed, deleted or orphaned. The local issue becomes a
 * local-only issue (an edit that brings it back into scope creates a new tracker issue); the tracker
 * issue, if it comes back into scope, is imported as a new local issue.
 */
import { pendingCommentPushesOf, setScopeFrozen, unlinkIssue } from "../db/scope-leave";
import { enqueueCommentPushes } from "../queue/send";
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

/**
 * Records which linked issues are frozen (out of scope) and which are back, from their rows and
 * whether each is in scope now: only rows whose mark changes are written.
 */
export async function markFrozen(ctx: SyncContext, rows: readonly { issue: IssueRow; inScope: boolean }[]): Promise<void> {
  const freeze = rows.filter((r) => !r.inScope && r.issue.scopeFrozenAt === null && r.issue.externalId !== null).map((r) => r.issue.id);
  const thaw = rows.filter((r) => r.inScope && r.issue.scopeFrozenAt !== null).map((r) => r.issue.id);
  if (freeze.length === 0 && thaw.length === 0) return;
  await setScopeFrozen(ctx.db, ctx.project.id, { freeze, thaw }, nowIso());
  // Local comments held while frozen go out now rather than at the next sweep.
  const held = await pendingCommentPushesOf(ctx.db, ctx.project.id, thaw);
  if (held.length > 0) await enqueueCommentPushes(ctx.env, ctx.project.id, held);
}
