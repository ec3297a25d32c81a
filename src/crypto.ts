import { ConfigurationError } from "./errors";

/**
 * Tracker tokens and webhook secrets are stored encrypted with AES-GCM under the Worker secret
 * TOKEN_ENCRYPTION_KEY (base64 of 32 bytes). Stored form: "v1.<iv base64url>.<ciphertext base64url>".
 * The project id is bound as additional data, so a ciphertext copied to another project won't decrypt.
 */

const keyCache = new Map<string, Promise<CryptoKey>>();

function importKey(base64Key: string): Promise<CryptoKey> {
  let key = keyCache.get(base64Key);
  if (!key) {
    let raw: Uint8Array;
    try {
      raw = base64ToBytes(base64Key);
    } catch {
      throw new ConfigurationError("TOKEN_ENCRYPTION_KEY is not valid base64");
    }
    if (raw.byteLength !== 32) throw new ConfigurationError("TOKEN_ENCRYPTION_KEY must be 32 bytes, base64-encoded");
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    keyCache.set(base64Key, key);
  }
  return key;
}

export async function encryptSecret(base64Key: string | undefined, plaintext: string, context: string): Promise<string> {
  if (!base64Key) throw new ConfigurationError("TOKEN_ENCRYPTION_KEY is not set");
  const key = await importKey(base64Key);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
    key,
    new TextEncoder().encode(plaintext),
  );
  return `v1.${bytesToBase64Url(iv)}.${bytesToBase64Url(new Uint8Array(ct))}`;
}

export async function decryptSecret(base64Key: string | undefined, stored: string, context: string): Promise<string> {
  if (!base64Key) throw new ConfigurationError("TOKEN_ENCRYPTION_KEY is not set");
  const [version, ivPart, ctPart] = stored.split(".");
  if (version !== "v1" || !ivPart || !ctPart) throw new ConfigurationError("stored secret has an unknown format");
  const key = await importKey(base64Key);
  try {
    const pt = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: base64UrlToBytes(ivPart), additionalData: new TextEncoder().encode(context) },
      key,
      base64UrlToBytes(ctPart),
    );
    return new TextDecoder().decode(pt);
  } catch {
    // Wrong key (rotated TOKEN_ENCRYPTION_KEY) or tampered ciphertext.
    throw new ConfigurationError("stored secret cannot be decrypted with the current TOKEN_ENCRYPTION_KEY");
  }
}

/**
 * Compares two strings in constant time. Both sides are hashed first, so the comparison always
 * runs over 32 bytes: neither where they differ nor their lengths show in the time taken.
 */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [x, y] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(a)), crypto.subtle.digest("SHA-256", encoder.encode(b))]);
  const left = new Uint8Array(x);
  const right = new Uint8Array(y);
  let diff = 0;
  for (let i = 0; i < left.length; i++) diff |= left[i]! ^ right[i]!;
  return diff === 0;
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

/**
 * HMAC-SHA256 (hex) of `data` under a key derived (HKDF) from TOKEN_ENCRYPTION_KEY for `purpose`:
 * identifiers computed from secrets (a token's credential id) that cannot be tested offline.
 */
export async function hmacHex(base64Key: string | undefined, purpose: string, data: string): Promise<string> {
  if (!base64Key) throw new ConfigurationError("TOKEN_ENCRYPTION_KEY is not set");
  const cacheKey = `${base64Key}\n${purpose}`;
  let key = hmacKeys.get(cacheKey);
  if (!key) {
    key = (async () => {
      const ikm = await crypto.subtle.importKey("raw", base64ToBytes(base64Key), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("syndarix-sync identifiers"), info: new TextEncoder().encode(purpose) },
        ikm,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign"],
      );
    })();
    hmacKeys.set(cacheKey, key);
  }
  const sig = await crypto.subtle.sign("HMAC", await key, new TextEncoder().encode(data));
  return Array.from(new Uint8Array(sig), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Which secret of a project; bound into the ciphertext with the project id. */
export type ProjectSecret = "token" | "webhookSecret";

/**
 * Stored secrets since issue 16 are "b1.<v1 ciphertext>": the tracker origin they were submitted for
 * is bound into the additional data with the project id, so a secret opens only for that origin —
 * a project whose `apiBaseUrl` was pointed elsewhere cannot hand its old token to the new host.
 */
const ORIGIN_BOUND = "b1.";

/** Thrown when a secret is opened for an origin other than the one it was stored for. */
export class SecretOriginMismatch extends Error {
  override readonly name = "SecretOriginMismatch";
}

/** Encrypts one of a project's secrets for storage, bound to the tracker `origin` it is meant for. */
export async function sealProjectSecret(base64Key: string | undefined, projectId: string, which: ProjectSecret, plaintext: string, origin: string): Promise<string> {
  return ORIGIN_BOUND + (await encryptSecret(base64Key, plaintext, `${projectId}:${which}:${origin}`));
}

/**
 * Decrypts one of a project's stored secrets for use with `origin`; a secret stored for another
 * origin does not open (`SecretOriginMismatch`). Secrets stored before the binding existed ("v1.")
 * open as before: `isOriginBound` tells callers to re-seal them.
 */
export async function openProjectSecret(base64Key: string | undefined, projectId: string, which: ProjectSecret, stored: string, origin: string): Promise<string> {
  if (!stored.startsWith(ORIGIN_BOUND)) return decryptSecret(base64Key, stored, `${projectId}:${which}`);
  try {
    return await decryptSecret(base64Key, stored.slice(ORIGIN_BOUND.length), `${projectId}:${which}:${origin}`);
  } catch (err) {
    if (err instanceof ConfigurationError && /cannot be decrypted/.test(err.message)) {
      throw new SecretOriginMismatch(`the stored ${which} was not given for ${origin}; submit a new one for this origin`);
    }
    throw err;
  }
}

/** True when a stored secret carries its origin binding (written since issue 16). */
export function isOriginBound(stored: string): boolean {
  return stored.startsWith(ORIGIN_BOUND);
}

/** base64 (standard alphabet, padded) of bytes; chunked so large buffers do not overflow the call stack. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Bytes of base64 (standard alphabet); throws on anything else. */
export function base64ToBytes(s: string): Uint8Array {
  const binary = atob(s.trim());
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** base64url without padding (RFC 4648 §5). */
export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function base64UrlToBytes(s: string): Uint8Array {
  const b64 = s.replaceAll("-", "+").replaceAll("_", "/");
  return base64ToBytes(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
}
