/**
 * Webhook authenticity for every tracker, on the raw bytes as received: HMAC-SHA256, SHA-256 and
 * the one constant-time comparison the providers use. An empty secret verifies nothing.
 */

const encoder = new TextEncoder();

/** True when `signatureHex` is the hex HMAC-SHA256 of `body` under `secret` (GitHub, Gitea). */
export async function hmacSignatureMatches(signatureHex: string, secret: string, body: Uint8Array): Promise<boolean> {
  if (secret === "") return false;
  return constantTimeEqual(signatureHex.toLowerCase(), await hmacSha256Hex(secret, body));
}

/** True when the delivery carries the secret itself (GitLab's `X-Gitlab-Token`). */
export async function secretTokenMatches(token: string | null, secret: string): Promise<boolean> {
  if (secret === "" || token === null) return false;
  return constantTimeEqual(token, secret);
}

/**
 * Imported HMAC keys per secret, per isolate: a warm edge signs with the key it imported for the
 * previous delivery instead of importing it again (one WebCrypto call less per delivery). Bounded;
 * cleared whole when full (secrets are few per isolate: one per project that sends it webhooks).
 */
const hmacKeys = new Map<string, Promise<CryptoKey>>();
const MAX_HMAC_KEYS = 1_000;

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    if (hmacKeys.size >= MAX_HMAC_KEYS) hmacKeys.clear();
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    // A failed import is not kept: the next call tries again (rare: the cache starts over).
    key.catch(() => hmacKeys.clear());
    hmacKeys.set(secret, key);
  }
  return key;
}

export async function hmacSha256Hex(secret: string, data: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), data)));
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
