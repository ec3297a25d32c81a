import { allShardDatabases, catalogDatabase } from "../db/shards";
import { listEnabledProjectIds } from "../db/projects";
import { listEnabledSubscriptionIds } from "../db/subscriptions";
import type { Env } from "../env";
import { enqueueEventWakes, enqueueSyncRuns } from "../queue/send";
import { pruneHistory, type PruneResult } from "./retention";
import { resendStaleDeliveries, resendStalePushes } from "./sweeps";

export const CRON_INCREMENTAL = "*/5 * * * *";
export const CRON_FULL = "0 3 * * *";

const PROJECT_PAGE = 1000;

export interface CronResult {
  mode: "incremental" | "full";
  projects: number;
  sends: number;
  resentPushes: number;
  resentDeliveries: number;
  /** Event subscriptions woken (each incremental tick: the safety net under the kicks after changes). */
  wokenSubscriptions: number;
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
  let projects = 0;
  let sends = 0;
  // Every shard's projects (a sync job names only the project; its consumer finds the shard).
  for (const { db } of allShardDatabases(env)) {
    let afterId: string | null = null;
    for (;;) {
      const ids = await listEnabledProjectIds(db, { limit: PROJECT_PAGE, afterId });
      sends += await enqueueSyncRuns(env, ids, mode, "cron");
      projects += ids.length;
      if (ids.length < PROJECT_PAGE) break;
      afterId = ids[ids.length - 1]!;
    }
  }
  const resentPushes = mode === "incremental" ? await resendStalePushes(env) : 0;
  const resentDeliveries = mode === "incremental" ? await resendStaleDeliveries(env) : 0;
  const subscriptionIds = mode === "incremental" ? await listEnabledSubscriptionIds(catalogDatabase(env)) : [];
  if (subscriptionIds.length > 0) await enqueueEventWakes(env, subscriptionIds);
  const pruned = mode === "full" ? await pruneHistory(env) : null;
  return { mode, projects, sends, resentPushes, resentDeliveries, wokenSubscriptions: subscriptionIds.length, pruned };
}
