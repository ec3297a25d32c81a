import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { errorText, log } from "../log";
import { ConfigurationError, DirectionRefused, Forbidden, NotFound, PreconditionFailed, ProjectPaused, ServiceUnavailable, StateConflict, Unprocessable, ValidationFailed, type FieldError } from "../errors";

/** RFC 9457 problem details. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function problem(status: number, detail: string, extra: { type?: string; errors?: FieldError[] } = {}): Response {
  const body: Problem = {
    type: extra.type ?? "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail,
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="syndarix-sync"';
  return new Response(JSON.stringify(body), { status, headers });
}

export function zodFieldErrors(error: ZodError, prefix?: string): FieldError[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String).join(".");
    // An unknown key is named itself ("fieldDirections.titel"), not only the object holding it.
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ field: [prefix, path, key].filter(Boolean).join("."), message: issue.message }));
    }
    const field = [prefix, path].filter(Boolean).join(".") || "(body)";
    return [{ field, message: issue.message }];
  });
}

/** Turns known errors into problem+json; anything unknown is a 500 without internals. */
export function errorToResponse(err: unknown, c: Context): Response {
  if (err instanceof ValidationFailed) return problem(400, "The request has invalid fields.", { errors: err.errors });
  if (err instanceof Unprocessable) return problem(422, "The request cannot be applied as sent.", { errors: err.errors });
  if (err instanceof Forbidden) return problem(403, err.message);
  if (err instanceof NotFound) return problem(404, err.message);
  if (err instanceof DirectionRefused) return problem(409, err.message, { type: "urn:syndarix-sync:direction-refused" });
  if (err instanceof StateConflict) return problem(409, err.message);
  if (err instanceof PreconditionFailed) return problem(412, err.message);
  if (err instanceof ServiceUnavailable) return problem(503, err.message);
  // Also when it crossed the Durable Object's RPC boundary, which keeps only the error's name.
  if (err instanceof ProjectPaused || (err instanceof Error && err.name === "ProjectPaused")) return problem(409, err.message, { type: "urn:syndarix-sync:project-paused" });
  if (err instanceof HTTPException) {
    const status = err.status;
    // Hono's own messages here are safe ("Malformed JSON in request body", "Unsupported Media Type").
    return problem(status, err.message || TITLES[status] || "Request refused", {
      ...(status === 400 ? { errors: [{ field: "(body)", message: err.message }] } : {}),
    });
  }
  if (err instanceof ConfigurationError) {
    log.error("configuration error", { path: new URL(c.req.url).pathname, error: err.message });
    return problem(503, "The service is misconfigured; see the Worker logs.");
  }
  log.error("unhandled error", { method: c.req.method, path: new URL(c.req.url).pathname, error: errorText(err, Infinity) });
  return problem(500, "An internal error occurred.");
}
