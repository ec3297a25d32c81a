import { createMiddleware } from "hono/factory";
import { constantTimeEqual } from "../crypto";
import type { Env } from "../env";
import { problem } from "./problem";

/** `Authorization: Bearer <API_TOKEN>` on every /api/* route, compared in constant time. */
export const requireApiToken = createMiddleware<{ Bindings: Env }>(async (c, next) => {
  const expected = c.env.API_TOKEN;
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!expected) return problem(503, "API_TOKEN is not configured.");
  if (!match?.[1] || !(await constantTimeEqual(match[1], expected))) {
    return problem(401, "A valid bearer token is required.");
  }
  await next();
});
