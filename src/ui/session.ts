/**
 * Dashboard sessions: after sign-in with an API token, a cookie holding the token's name and scope
 * and an expiry, HMAC-SHA256 signed with a key derived (HKDF) from TOKEN_ENCRYPTION_KEY — the key
 * is never stored or shown, and the API token itself never goes into the cookie. Form posts carry
 * a CSRF token: an HMAC of the session cookie under a second derived key.
 */
import { base64ToBytes, base64UrlToBytes, bytesToBase64Url, constantTimeEqual } from "../crypto";
import type { ApiToken } from "../api-tokens";

export const SESSION_COOKIE = "sx_session";
export const SESSION_TTL_MS = 8 * 60 * 60_000;

async function derivedKey(secret: string, purpose: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", base64ToBytes(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("syndarix-sync dashboard"), info: new TextEncoder().encode(purpose) },
    ikm,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign"],
  );
}

async function mac(secret: string, purpose: string, data: string): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", await derivedKey(secret, purpose), new TextEncoder().encode(data));
  return bytesToBase64Url(new Uint8Array(sig));
}

export interface Session extends ApiToken {
  /** Expiry, ms since the epoch. */
  exp: number;
}

export async function signSession(secret: string, token: ApiToken, now: number = Date.now()): Promise<string> {
  const payload = bytesToBase64Url(new TextEncoder().encode(JSON.stringify({ name: token.name, scope: token.scope, exp: now + SESSION_TTL_MS })));
  return `${payload}.${await mac(secret, "session", payload)}`;
}

export async function verifySession(secret: string, cookie: string | undefined, now: number = Date.now()): Promise<Session | null> {
  if (!cookie) return null;
  const [payload, sig, extra] = cookie.split(".");
  if (!payload || !sig || extra !== undefined) return null;
  if (!(await constantTimeEqual(sig, await mac(secret, "session", payload)))) return null;
  try {
    const s = JSON.parse(new TextDecoder().decode(base64UrlToBytes(payload))) as Session;
    if (typeof s.name !== "string" || (s.scope !== "read" && s.scope !== "admin") || typeof s.exp !== "number" || s.exp < now) return null;
    return s;
  } catch {
    return null;
  }
}

/** The form token of a session: bound to that cookie, so a token from another session is refused. */
export function csrfToken(secret: string, cookie: string): Promise<string> {
  return mac(secret, "csrf", cookie);
}

export async function checkCsrf(secret: string, cookie: string, presented: string | undefined): Promise<boolean> {
  if (!presented) return false;
  return constantTimeEqual(presented, await csrfToken(secret, cookie));
}
