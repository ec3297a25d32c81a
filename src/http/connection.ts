/**
 * Test connection, before saving (the settings as they would be) or for a saved project (its stored
 * credential): the repository is read with the token, and a failure says what to do.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { projectDatabase } from "../db/shards";
import { testNewConnection } from "../jobs/projects";
import { PROVIDERS } from "../providers/types";
import { testProjectConnection } from "../sync/connection";
import { jsonBody, jsonContent, problemResponses, ProjectIdParams } from "./common";
import type { AppEnv } from "./project";
import { validationHook } from "./validation";

const TestConnection = z
  .strictObject({
    provider: z.enum(PROVIDERS),
    apiBaseUrl: z.url({ protocol: /^https?$/ }).max(500).optional().openapi({ description: "Default for github and gitlab.com; required for gitea" }),
    repository: z.string().trim().min(1).max(300),
    token: z.string().min(1).max(2000).regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain line breaks or other control characters"),
  })
  .openapi("TestConnection");

const ConnectionResult = z
  .object({
    ok: z.boolean(),
    repository: z.object({ id: z.string(), fullName: z.string() }).optional().openapi({ description: "The repository as the tracker answered it, when readable" }),
    problem: z.string().optional().openapi({ description: "What failed and what to do, when not readable" }),
    field: z.enum(["token", "repository", "apiBaseUrl"]).optional().openapi({ description: "The setting to fix, when one is to blame" }),
  })
  .openapi("ConnectionResult");

const routes = {
  test: createRoute({
    operationId: "testConnection",
    method: "post",
    path: "/test-connection",
    tags: ["projects"],
    summary: "Read the repository with a token before creating or changing a project (nothing is saved)",
    request: { body: jsonBody(TestConnection) },
    responses: { 200: jsonContent(ConnectionResult, "Whether the token reads the repository, and if not why and what to do"), ...problemResponses },
  }),
  testProject: createRoute({
    operationId: "testProjectConnection",
    method: "post",
    path: "/projects/{projectId}/test-connection",
    tags: ["projects"],
    summary: "Read the project's repository with its stored credential",
    request: { params: ProjectIdParams },
    responses: { 200: jsonContent(ConnectionResult, "Whether the stored credential reads the repository"), ...problemResponses },
  }),
};

export const connectionRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.test, async (c) => c.json(await testNewConnection(c.env, c.req.valid("json")), 200))
  .openapi(routes.testProject, async (c) => c.json(await testProjectConnection(c.env, projectDatabase(c.env, c.var.project), c.var.project), 200));
