import type { Env } from "./env";
import { createApp } from "./http/app";
import type { Job } from "./jobs/messages";
export { ProjectSync } from "./durable/project-sync";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env, Job>;
