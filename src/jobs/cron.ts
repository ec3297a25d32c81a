import { and, asc, eq, lt } from "drizzle-orm";
import { database } from "../db/client";
import { listEnabledProjectIds } from "../db/projects";
import { outbox, projects } from "../db/schema";
import type { Env } from "../env";
import { resendStaleDeliveries } from "../sync/webhook-apply";
import { pruneHistory, type PruneResult } from "./retention";
import type { PushJob, SyncJob } from "./messages";

export const CRON_INCREMENTAL = "*/5 * * * *";
export const CRON_FULL = "0 3 * * *";

const PROJECT_PAGE = 1000;
const SEND_BATCH = 100;
/** An outbox row pending this long lost its push job (a failed send): send it again. */
const STALE_OUTBOX_MS = 10 * 60_000;

export interface CronResult {
  mode: "incremental" | "full";
  projects: number;
  sends: number;
  resentPushes: number;
  resentDeliveries: number;
  /** The daily run also prunes history past its retention. */
  pruned: PruneResult | null;
}

/**
 * Crons only enqueue: one sync job per enabled project, in `sendBatch` calls of 100, paging through
 * projects by id so 10,000 projects cost ~110 subrequests and little CPU. Besides, they re-send work
 * whose queue send was lost, and the daily one prunes old history (bounded deletes).
 */
export async function dispatchCron(cron: string, env: Env): Promise<CronResult> {
  const mode = cron === CRON_FULL ? "full" : "incremental";
  const db = database(env.DB);
  let projects = 0;
  let sends = 0;
  let afterId: string | null = null;
  for (;;) {
    const ids = await listEnabledProjectIds(db, { limit: PROJECT_PAGE, afterId });
    for (let i = 0; i < ids.length; i += SEND_BATCH) {
      const messages = ids.slice(i, i + SEND_BATCH).map((projectId): { body: SyncJob } => ({ body: { type: "sync", projectId, mode, trigger: "cron" } }));
      await env.SYNC_QUEUE.sendBatch(messages);
      sends++;
    }
    projects += ids.length;
    if (ids.length < PROJECT_PAGE) break;
    afterId = ids[ids.length - 1]!;
  }
  // Sweeps for work whose queue send was lost after its row was written.
  const resentPushes = mode === "incremental" ? await resendStalePushes(env) : 0;
  const resentDeliveries = mode === "incremental" ? await resendStaleDeliveries(env) : 0;
  const pruned = mode === "full" ? await pruneHistory(env) : null;
  return { mode, projects, sends, resentPushes, resentDeliveries, pruned };
}

async function resendStalePushes(env: Env): Promise<number> {
  const db = database(env.DB);
  const cutoff = new Date(Date.now() - STALE_OUTBOX_MS).toISOString();
  const rows = await db
    .select({ projectId: outbox.projectId, issueId: outbox.issueId })
    .from(outbox)
    .innerJoin(projects, eq(projects.id, outbox.projectId))
    .where(and(eq(outbox.status, "pending"), lt(outbox.updatedAt, cutoff), eq(projects.syncEnabled, true)))
    .orderBy(asc(outbox.updatedAt))
    .limit(1000)
    .all();
  for (let i = 0; i < rows.length; i += SEND_BATCH) {
    const messages = rows.slice(i, i + SEND_BATCH).map((r): { body: PushJob } => ({ body: { type: "push", ...r } }));
    await env.PUSH_QUEUE.sendBatch(messages);
  }
  return rows.length;
}
