/**
 * JSON request bodies of /api/* carry text that is stored and sent to trackers as it is. Refused
 * before any route reads them (400 naming the field, as the webhook path does for its bodies):
 * bytes that are not UTF-8 (the runtime would store U+FFFD in their place), lone UTF-16 surrogates
 * (`"\ud800"`: no tracker can store one, each push fails) and NUL (cut off by C-based trackers).
 */
import { createMiddleware } from "hono/factory";
import { ValidationFailed, type FieldError } from "../errors";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function stringProblem(value: string): string | null {
  if (value.includes("\u0000")) return "must not contain NUL (U+0000)";
  if (LONE_SURROGATE.test(value)) return "must not contain a lone UTF-16 surrogate (not a Unicode character)";
  return null;
}

/** The first field (dotted path) holding a string that cannot be stored, with why; keys are checked too. */
function firstProblem(value: unknown, path: string): FieldError | null {
  if (typeof value === "string") {
    const problem = stringProblem(value);
    return problem ? { field: path || "(body)", message: problem } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = firstProblem(value[i], path ? `${path}.${i}` : String(i));
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      const keyProblem = stringProblem(key);
      const at = path ? `${path}.${key}` : key;
      if (keyProblem) return { field: (path || "(body)") + " (a key)", message: `a key ${keyProblem}` };
      const found = firstProblem(inner, at);
      if (found) return found;
    }
  }
  return null;
}

export const requireStorableJson = createMiddleware(async (c, next) => {
  const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (c.req.method === "GET" || c.req.method === "HEAD" || !type || !(type === "application/json" || type.endsWith("+json"))) return next();
  const bytes = new Uint8Array(await c.req.raw.clone().arrayBuffer());
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ValidationFailed([{ field: "(body)", message: "is not valid UTF-8" }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return next(); // the route's own validation names the malformed body
  }
  const problem = firstProblem(parsed, "");
  if (problem) throw new ValidationFailed([problem]);
  return next();
});
