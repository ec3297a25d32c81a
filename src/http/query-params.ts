/**
 * Unknown query parameters are refused (400 naming each), never ignored: a caller who filters with a
 * parameter the route does not have (`sync-runs?status=failed`) would otherwise get the unfiltered
 * list as if it were the answer. The parameters each route takes are read from its OpenAPI
 * declaration (the same zod schema that validates them), so the check cannot drift from the routes.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { problem } from "./problem";

interface RouteQuery {
  method: string;
  pattern: RegExp;
  keys: ReadonlySet<string>;
}

function routesOf(app: OpenAPIHono<any>): RouteQuery[] {
  const out: RouteQuery[] = [];
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== "route") continue;
    const route = def.route;
    const query = route.request?.query as { shape?: Record<string, unknown> } | undefined;
    const source = route.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
    out.push({ method: route.method.toUpperCase(), pattern: new RegExp(`^${source}/?$`), keys: new Set(Object.keys(query?.shape ?? {})) });
  }
  return out;
}

/** Refuses query parameters the matched route does not declare; routes are read from `app` on first use. */
export function rejectUnknownQueryParameters(app: OpenAPIHono<any>) {
  let routes: RouteQuery[] | null = null;
  return createMiddleware(async (c, next) => {
    const url = new URL(c.req.url);
    if ([...url.searchParams.keys()].length > 0) {
      routes ??= routesOf(app);
      const method = c.req.method === "HEAD" ? "GET" : c.req.method;
      const route = routes.find((r) => r.method === method && r.pattern.test(url.pathname));
      if (route) {
        const unknown = [...new Set(url.searchParams.keys())].filter((k) => !route.keys.has(k));
        if (unknown.length > 0) {
          const known = [...route.keys];
          const hint = known.length > 0 ? `this route takes ${known.join(", ")}` : "this route takes no query parameters";
          return problem(400, `Unknown query parameter${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}.`, {
            errors: unknown.map((field) => ({ field, message: `is not a query parameter of ${method} ${url.pathname}; ${hint}` })),
          });
        }
      }
    }
    await next();
  });
}
