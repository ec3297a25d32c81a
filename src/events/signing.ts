/**
 * Standard Webhooks signatures (standardwebhooks.com): the secret is `whsec_<base64 key>`; each
 * request carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
 * space-separated list of `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per valid secret.
 */
import { base64ToBytes, bytesToBase64 } from "../crypto";

const SECRET_PREFIX = "whsec_";
const encoder = new TextEncoder();

/** A new secret: 24 random bytes (Svix's size), base64 behind the `whsec_` prefix. */
export function newSigningSecret(): string {
  return `${SECRET_PREFIX}${bytesToBase64(crypto.getRandomValues(new Uint8Array(24)))}`;
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  const raw = base64ToBytes(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** `v1,<signature>` for each secret, space-separated (the current secret first). */
export async function signatureHeader(secrets: readonly string[], id: string, timestampSeconds: number, body: string): Promise<string> {
  const content = encoder.encode(`${id}.${timestampSeconds}.${body}`);
  const parts: string[] = [];
  for (const secret of secrets) {
    const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), content);
    parts.push(`v1,${bytesToBase64(new Uint8Array(mac))}`);
  }
  return parts.join(" ");
}

/** The three headers of one attempt (a fresh timestamp each time; the id never changes). */
export async function webhookHeaders(secrets: readonly string[], id: string, nowMs: number, body: string): Promise<Record<string, string>> {
  const ts = Math.floor(nowMs / 1000);
  return {
    "content-type": "application/json",
    "user-agent": "syndarix-sync-events/1",
    "webhook-id": id,
    "webhook-timestamp": String(ts),
    "webhook-signature": await signatureHeader(secrets, id, ts, body),
  };
}
