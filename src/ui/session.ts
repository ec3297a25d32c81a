/**
 * Dashboard sessions. Sign-in with an API token gives a cookie `{sid, name, scope, fp, exp}`,
 * HMAC-SHA256 signed with the session key; the API token itself never goes into the cookie. A
 * cookie is a session only while
 * - its signature verifies under the session key (SESSION_SECRET, or derived from
 *   TOKEN_ENCRYPTION_KEY when unset: changing SESSION_SECRET ends every session and re-keys nothing else),
 * - a configured API token still has its name and scope and its HMAC fingerprint `fp` (so removing
 *   or replacing the token, or changing its scope, ends the session at once),
 * - its row is in `dashboard_sessions` (sign-out deletes it: a copied cookie is dead after sign-out).
 * Form posts carry a CSRF token: an HMAC of the session cookie under another derived key.
 */
import { ConfigurationError } from "../errors";
import { base64ToBytes, base64UrlToBytes, bytesToBase64Url, constantTimeEqual } from "../crypto";
import type { Database } from "../db/client";
import { endSessionRow, openSessionRow, sessionRowActive } from "../db/sessions";
import type { Env } from "../env";
import { configuredTokens, type ApiToken } from "../api-tokens";
import { nowIso } from "../ids";

export const SESSION_COOKIE = "sx_session";
export const SESSION_TTL_MS = 8 * 60 * 60_000;

type KeyEnv = Pick<Env, "SESSION_SECRET" | "TOKEN_ENCRYPTION_KEY">;

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key for one purpose (session, csrf, token fingerprint, notice), from the session secret. */
function derivedKey(env: KeyEnv, purpose: string): Promise<CryptoKey> {
  const own = env.SESSION_SECRET?.trim();
  if (own && own.length < 32) throw new ConfigurationError("SESSION_SECRET must be at least 32 characters");
  const secret = own ? `own:${own}` : `tek:${env.TOKEN_ENCRYPTION_KEY ?? ""}`;
  const cacheKey = `${secret}\n${purpose}`;
  let key = keys.get(cacheKey);
  if (!key) {
    key = (async () => {
      const material = own ? new TextEncoder().encode(own) : base64ToBytes(env.TOKEN_ENCRYPTION_KEY ?? "");
      const ikm = await crypto.subtle.importKey("raw", material, "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("syndarix-sync dashboard"), info: new TextEncoder().encode(purpose) },
        ikm,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign"],
      );
    })();
    keys.set(cacheKey, key);
  }
  return key;
}

async function mac(env: KeyEnv, purpose: string, data: string): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", await derivedKey(env, purpose), new TextEncoder().encode(data));
  return bytesToBase64Url(new Uint8Array(sig));
}

export interface Session extends ApiToken {
  /** The session's row id (sign-out deletes it). */
  sid: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

interface CookiePayload extends Session {
  /** HMAC fingerprint of the API token the session was opened with. */
  fp: string;
}

type SessionEnv = KeyEnv & Pick<Env, "API_TOKEN" | "API_TOKENS">;

/** Opens a session for the token just presented (`token` is the presented secret, never stored). */
export async function signSession(env: SessionEnv, db: Database, who: ApiToken, token: string, now: number = Date.now()): Promise<string> {
  const sid = bytesToBase64Url(crypto.getRandomValues(new Uint8Array(18)));
  const exp = now + SESSION_TTL_MS;
  await openSessionRow(db, { id: sid, tokenName: who.name, expiresAt: new Date(exp).toISOString(), now: nowIso(now) });
  const payload: CookiePayload = { sid, name: who.name, scope: who.scope, fp: await mac(env, "token", token), exp };
  const encoded = bytesToBase64Url(new TextEncoder().encode(JSON.stringify(payload)));
  return `${encoded}.${await mac(env, "session", encoded)}`;
}

function parseCookie(cookie: string): { encoded: string; sig: string } | null {
  const [encoded, sig, extra] = cookie.split(".");
  return encoded && sig && extra === undefined ? { encoded, sig } : null;
}

export async function verifySession(env: SessionEnv, db: Database, cookie: string | undefined, now: number = Date.now()): Promise<Session | null> {
  if (!cookie) return null;
  const parts = parseCookie(cookie);
  if (!parts) return null;
  if (!(await constantTimeEqual(parts.sig, await mac(env, "session", parts.encoded)))) return null;
  let s: CookiePayload;
  try {
    s = JSON.parse(new TextDecoder().decode(base64UrlToBytes(parts.encoded))) as CookiePayload;
  } catch {
    return null;
  }
  if (typeof s.sid !== "string" || typeof s.name !== "string" || typeof s.fp !== "string" || (s.scope !== "read" && s.scope !== "admin") || typeof s.exp !== "number" || s.exp < now) {
    return null;
  }
  // The token it was opened with must still be configured, under the same name and scope.
  let current = false;
  for (const entry of configuredTokens(env) ?? []) {
    const same = entry.name === s.name && entry.scope === s.scope && (await constantTimeEqual(s.fp, await mac(env, "token", entry.token)));
    current ||= same;
  }
  if (!current) return null;
  if (!(await sessionRowActive(db, s.sid, nowIso(now)))) return null;
  return { sid: s.sid, name: s.name, scope: s.scope, exp: s.exp };
}

/** Sign-out: the session's row goes, so the cookie (or any copy of it) is no session any more. */
export async function endSession(db: Database, session: Session): Promise<void> {
  await endSessionRow(db, session.sid);
}

/** The form token of a session: bound to that cookie, so a token from another session is refused. */
export function csrfToken(env: KeyEnv, cookie: string): Promise<string> {
  return mac(env, "csrf", cookie);
}

export async function checkCsrf(env: KeyEnv, cookie: string, presented: string | undefined): Promise<boolean> {
  if (!presented) return false;
  return constantTimeEqual(presented, await csrfToken(env, cookie));
}

/**
 * A dashboard notice travels in the redirect's query; signed (bound to the session), so a link
 * cannot make a page show text of its sender's choosing.
 */
export function noticeSignature(env: KeyEnv, session: Session, notice: string): Promise<string> {
  return mac(env, "notice", `${session.sid}\n${notice}`);
}

/** The notice if its signature is this session's, else nothing. */
export async function verifiedNotice(env: KeyEnv, session: Session, notice: string | undefined, signature: string | undefined): Promise<string | undefined> {
  if (!notice || !signature) return undefined;
  return (await constantTimeEqual(signature, await noticeSignature(env, session, notice))) ? notice : undefined;
}
