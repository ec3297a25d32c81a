import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { activityRouter } from "./activity";
import { requireApiToken } from "./auth";
import { commentsRouter } from "./comments";
import { connectionRouter } from "./connection";
import { deliveriesRouter } from "./deliveries";
import { kickSubscriptionsAfterWrite } from "./event-kick";
import { githubAppWebhookRouter } from "./github-app-webhook";
import { identitiesRouter } from "./identities";
import { issuesRouter } from "./issues";
import { requireStorableJson } from "./json-strings";
import { pullRequestsRouter } from "./pull-requests";
import { errorToResponse, problem } from "./problem";
import { loadProject, type AppEnv } from "./project";
import { idempotency } from "./idempotency";
import { projectsRouter } from "./projects";
import { rejectUnknownQueryParameters } from "./query-params";
import { subscriptionsRouter } from "./subscriptions";
import { syncRunsRouter } from "./sync-runs";
import { validationHook } from "./validation";
import { webhooksRouter } from "./webhooks";
import { uiRouter } from "../ui/app";

const API_BODY_LIMIT = 1024 * 1024;

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  // Answers hold project data: never cached by a proxy or browser, never sniffed as another type.
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("Cache-Control", "no-store");
    c.res.headers.set("X-Content-Type-Options", "nosniff");
  });

  app.get("/health", (c) => c.json({ status: "ok" }));
  // Someone opening the Worker's address wants the dashboard.
  app.get("/", (c) => c.redirect("/ui/", 302));
  // The operator dashboard (server-rendered; its own session auth, CSRF and CSP).
  app.get("/ui", (c) => c.redirect("/ui/", 301));
  app.route("/ui/", uiRouter);

  app.use(
    "/api/*",
    requireApiToken,
    rejectUnknownQueryParameters(app),
    bodyLimit({ maxSize: API_BODY_LIMIT, onError: () => problem(413, `The request body is over ${API_BODY_LIMIT} bytes.`) }),
    requireStorableJson,
  );
  app.use("/api/*", idempotency);
  app.use("/api/v1/projects/:projectId/*", loadProject);
  app.use("/api/v1/projects/:projectId/issues", kickSubscriptionsAfterWrite);
  app.use("/api/v1/projects/:projectId/issues/*", kickSubscriptionsAfterWrite);
  app.route("/api/v1/projects", projectsRouter);
  app.route("/api/v1/projects", issuesRouter);
  app.route("/api/v1/projects", commentsRouter);
  app.route("/api/v1/projects", deliveriesRouter);
  app.route("/api/v1/projects", pullRequestsRouter);
  app.route("/webhooks", githubAppWebhookRouter);
  app.route("/webhooks", webhooksRouter);
  app.route("/api/v1", syncRunsRouter);
  app.route("/api/v1", activityRouter);
  app.route("/api/v1", connectionRouter);
  app.route("/api/v1", identitiesRouter);
  app.route("/api/v1", subscriptionsRouter);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "syndarix-sync",
      version: "1.0.0",
      description: "Keeps issues in step between Syndarix and GitHub, GitLab or Gitea. Every /api/* route needs `Authorization: Bearer <API_TOKEN>`.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
    security: [{ bearer: [] }],
  }));

  app.notFound((c) => problem(404, `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`));
  app.onError((err, c) => errorToResponse(err, c));
  return app;
}
