/**
 * `Idempotency-Key` on POST: a client that retries a create after a lost answer sends the same key
 * and gets the first answer again (`Idempotent-Replayed: true`) instead of a second project, issue
 * or comment. The key is bound to the API token's name and to the request (method, path, body):
 * the same key with another request is refused (422); while the first is still being answered a
 * retry gets 409. A server error (5xx) frees the key, so the retry runs. Keys are kept 24 hours.
 */
import { createMiddleware } from "hono/factory";
import { sha256Hex } from "../providers/signatures";
import { catalogDatabase } from "../db/shards";
import { claimIdempotencyKey, recordIdempotentAnswer, releaseIdempotencyKey } from "../db/idempotency";
import type { AppEnv } from "./project";
import { problem } from "./problem";

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;
const KEY = /^[\x21-\x7e]{1,255}$/;

export const idempotency = createMiddleware<AppEnv>(async (c, next) => {
  const key = c.req.header("idempotency-key");
  if (c.req.method !== "POST" || key === undefined) return next();
  if (!KEY.test(key)) {
    return problem(400, "The Idempotency-Key header is malformed.", { errors: [{ field: "Idempotency-Key", message: "must be 1–255 visible ASCII characters (a UUID is a good choice)" }] });
  }
  const db = catalogDatabase(c.env);
  const tokenName = c.var.apiToken.name;
  const body = await c.req.text();
  const requestHash = await sha256Hex(new TextEncoder().encode(`POST ${new URL(c.req.url).pathname}\n${body}`));
  const now = Date.now();
  const claim = await claimIdempotencyKey(db, { tokenName, key, requestHash, createdAt: new Date(now).toISOString() }, new Date(now - IDEMPOTENCY_TTL_MS).toISOString());
  if (!claim.claimed) {
    const { existing } = claim;
    if (existing.requestHash !== requestHash) {
      return problem(422, "This Idempotency-Key was used with another request (method, path or body); use a new key for a new request.", {
        errors: [{ field: "Idempotency-Key", message: "was used with another request" }],
      });
    }
    if (existing.status === null) return problem(409, "A request with this Idempotency-Key is still being answered; retry in a moment.");
    return new Response(existing.response, { status: existing.status, headers: { "content-type": contentTypeOf(existing.status), "idempotent-replayed": "true" } });
  }
  try {
    await next();
  } catch (err) {
    await releaseIdempotencyKey(db, tokenName, key);
    throw err;
  }
  if (c.res.status >= 500) {
    await releaseIdempotencyKey(db, tokenName, key);
    return;
  }
  await recordIdempotentAnswer(db, tokenName, key, c.res.status, await c.res.clone().text());
});

function contentTypeOf(status: number): string {
  return status >= 400 ? "application/problem+json" : "application/json";
}
