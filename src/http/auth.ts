import { createMiddleware } from "hono/factory";
import { constantTimeEqual } from "../crypto";
import type { Env } from "../env";
import { problem } from "./problem";

/** Who called: the API token's name (recorded as the actor of changes) and scope. Never the token. */
export interface ApiToken {
  name: string;
  scope: "read" | "admin";
}

/** The token's identity if it is valid (the dashboard's sign-in checks tokens the same way). */
export async function resolveApiToken(env: Env, presented: string): Promise<ApiToken | null> {
  if (!env.API_TOKEN || !presented) return null;
  return (await constantTimeEqual(presented, env.API_TOKEN)) ? { name: "default", scope: "admin" } : null;
}

/** `Authorization: Bearer <API_TOKEN>` on every /api/* route, compared in constant time; sets `apiToken`. */
export const requireApiToken = createMiddleware<{ Bindings: Env; Variables: { apiToken: ApiToken } }>(async (c, next) => {
  const expected = c.env.API_TOKEN;
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!expected) return problem(503, "API_TOKEN is not configured.");
  const token = match?.[1] ? await resolveApiToken(c.env, match[1]) : null;
  if (!token) return problem(401, "A valid bearer token is required.");
  c.set("apiToken", token);
  await next();
});
