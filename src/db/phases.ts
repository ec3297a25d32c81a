/**
 * A run phase's own failure record, one shape for every phase that keeps its own cursor (comments,
 * pull requests): why it failed for good in the last run and since when (the first failure in a row).
 * The phase's cursor write clears it (`storeCommentCursor`, `storePullRequestCursor`).
 */
import { eq, sql } from "drizzle-orm";
import type { Database } from "./client";
import { projects } from "./schema";

const COLUMNS = {
  comments: { error: projects.commentPhaseError, at: projects.commentPhaseErrorAt, keys: ["commentPhaseError", "commentPhaseErrorAt"] },
  pullRequests: { error: projects.pullRequestPhaseError, at: projects.pullRequestPhaseErrorAt, keys: ["pullRequestPhaseError", "pullRequestPhaseErrorAt"] },
} as const;

export type RecordedPhase = keyof typeof COLUMNS;

/** The phase failed for good this run: the reason is kept (status and dashboard show it), the cursor stays. */
export async function recordPhaseFailed(db: Database, projectId: string, phase: RecordedPhase, error: string, at: string): Promise<void> {
  const c = COLUMNS[phase];
  const [errorKey, atKey] = c.keys;
  // The time is the first failure of the streak: "stuck since", not "failed last at".
  await db
    .update(projects)
    .set({ [errorKey]: error.slice(0, 1000), [atKey]: sql`coalesce(${c.at}, ${at})` })
    .where(eq(projects.id, projectId));
}
