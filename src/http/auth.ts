import { createMiddleware } from "hono/factory";
import { configuredTokens, resolveApiToken, type ApiToken } from "../api-tokens";
import type { Env } from "../env";
import { problem } from "./problem";

export { configuredTokens, resolveApiToken, type ApiToken };

/** Methods a `read` token may use: the ones that change nothing. */
const READ_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD"]);


/**
 * `Authorization: Bearer <token>` on every /api/* route. The presented token is compared with every
 * configured one (SHA-256 digests, constant time, no early exit); the match's name and scope become
 * `c.var.apiToken`. A `read` token gets 403 on any method but GET and HEAD.
 */
export const requireApiToken = createMiddleware<{ Bindings: Env; Variables: { apiToken: ApiToken } }>(async (c, next) => {
  const tokens = configuredTokens(c.env);
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!tokens) return problem(503, "API_TOKEN is not configured.");
  const found = match?.[1] ? await resolveApiToken(c.env, match[1]) : null;
  if (!found) return problem(401, "A valid bearer token is required.");
  if (found.scope === "read" && !READ_METHODS.has(c.req.method)) {
    return problem(403, `The API token "${found.name}" has scope read; ${c.req.method} needs an admin token.`);
  }
  c.set("apiToken", found);
  await next();
});
