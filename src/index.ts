import type { Env } from "./env";
import { createApp } from "./http/app";
import { handleQueue } from "./jobs/consumer";
import { dispatchCron } from "./jobs/cron";
import { log } from "./log";
import type { Job } from "./queue/messages";
export { ProjectSync } from "./durable/project-sync";
export { EventDispatcher } from "./durable/event-dispatcher";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    const result = await dispatchCron(controller.cron, env);
    log.info("cron dispatched", { cron: controller.cron, ...result });
  },
  queue: (batch, env) => handleQueue(batch as MessageBatch<unknown>, env),
} satisfies ExportedHandler<Env, Job>;
