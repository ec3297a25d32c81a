import { z } from "@hono/zod-openapi";
import { base64UrlToBytes, bytesToBase64Url } from "../crypto";
import { ValidationFailed } from "../errors";

/** Shared OpenAPI pieces: problem details, list envelope, cursors. */

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

export const problemResponses = {
  400: { description: "Invalid input; `errors` names each bad field", content: problemContent },
  401: { description: "Missing or wrong bearer token", content: problemContent },
  403: { description: "The bearer token's scope is too small (a `read` token on a route that changes something)", content: problemContent },
  404: { description: "Unknown id", content: problemContent },
} as const;

export const conflictResponse = { 409: { description: "Refused by the project's sync direction or state", content: problemContent } } as const;

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } } as const;
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}

/**
 * `limit`: decimal digits only. `z.coerce.number()` read `0x10` as 16, `1e2` as 100 and " 7" as 7;
 * a page size is written one way.
 */
export function PageLimit(fallback: number) {
  return z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, "must be a decimal integer from 1 to 500")
    .transform(Number)
    .pipe(z.number().int().min(1).max(500))
    .optional()
    .transform((v) => v ?? fallback)
    .openapi({ type: "integer", description: `Page size, 1–500 (default ${fallback})` });
}

export const ListQuery = z.object({
  limit: PageLimit(50),
  cursor: z.string().max(200).optional().openapi({ description: "`nextCursor` of the previous page" }),
});

export function listOf<T extends z.ZodType>(item: T, name: string) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);
}

/** Cursors are opaque to callers: base64url of the last id on the page. */
export function encodeCursor(lastId: string): string {
  return bytesToBase64Url(new TextEncoder().encode(lastId));
}

export function decodeCursor(cursor: string | undefined): string | null {
  if (cursor === undefined || cursor === "") return null;
  try {
    const id = new TextDecoder().decode(base64UrlToBytes(cursor));
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
  } catch {
    // fall through to the field error
  }
  throw new ValidationFailed([{ field: "cursor", message: "is not a cursor this API issued" }]);
}

/** Fetches limit+1 rows to know whether a next page exists. */
export function pageOf<T extends { id: string }, U>(rows: T[], limit: number, map: (row: T) => U): { items: U[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(map), nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}

export const IdParam = (name: string) =>
  z.string().min(1).max(64).openapi({ param: { name, in: "path" }, description: `${name}` });

export const ProjectIdParams = z.object({ projectId: IdParam("projectId") });

export const IsoTimestamp = z.string().openapi({ format: "date-time", example: "2026-11-24T12:00:00.000Z" });

/** Declared on creates: a retried POST with the same key answers the first result (src/http/idempotency.ts). */
export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({ description: "Any unique string (a UUID): a retry with the same key and request answers the first result (`Idempotent-Replayed: true`) for 24 hours" }),
});
