import { Hono } from "hono";
import type { Env } from "./env";
import type { Job } from "./jobs/messages";
export { ProjectSync } from "./durable/project-sync";

const app = new Hono<{ Bindings: Env }>();
app.get("/health", (c) => c.json({ status: "ok" }));

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env, Job>;
