/**
 * What every tracker's webhook handling shares: the payload error, HMAC and constant-time
 * comparison on the raw bytes, and the shape of non-issue events.
 */
import type { z } from "zod";
import type { EventKind, NormalizedEvent, Provider } from "./types";

/** A webhook payload that lacks what its event needs; the message names the field. */
export class WebhookPayloadError extends Error {
  override readonly name = "WebhookPayloadError";
}

/** Parses with zod, or throws `WebhookPayloadError` naming the first bad field. */
export function parsePayload<S extends z.ZodType>(schema: S, payload: unknown, what: string): z.output<S> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "(payload)";
  throw new WebhookPayloadError(`${what}: ${field}: ${issue?.message ?? "invalid"}`);
}

export function nonIssueEvent(
  provider: Provider,
  kind: Exclude<EventKind, "issue">,
  event: string,
  action: string,
  summary: Record<string, unknown> = {},
): NormalizedEvent {
  return {
    provider,
    kind,
    action,
    event,
    issue: null,
    complete: false,
    summary,
    changedFields: [],
    movedTo: null,
  };
}

const encoder = new TextEncoder();

export async function hmacSha256Hex(secret: string, data: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, data)));
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}

/**
 * Compares two strings without an early exit. Both sides are hashed first, so the comparison
 * always runs over 32 bytes whatever the input lengths, and length leaks nothing either.
 */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const left = new Uint8Array(x);
  const right = new Uint8Array(y);
  let diff = 0;
  for (let i = 0; i < left.length; i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return diff === 0;
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
