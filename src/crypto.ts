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

/** Constant-time string comparison: the time taken depends only on the lengths, never on where they differ. */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.byteLength ^ eb.byteLength;
  const n = Math.max(ea.byteLength, eb.byteLength);
  for (let i = 0; i < n; i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

function base64ToBytes(s: string): Uint8Array {
  const bin = atob(s.trim());
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

function bytesToBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function base64UrlToBytes(s: string): Uint8Array {
  const b64 = s.replaceAll("-", "+").replaceAll("_", "/");
  return base64ToBytes(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
}
