/**
 * The JSON Web Token a GitHub App signs to act as itself (mint installation tokens, read `GET /app`).
 * https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
 * - RS256 over `{ iat, exp, iss }`; `iat` 60 s in the past against clock drift, `exp` at most 10
 *   minutes after it; `iss` is the App's id (or its client id).
 * - GitHub hands out the private key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`); WebCrypto only
 *   imports PKCS#8, so a PKCS#1 key is wrapped into a PKCS#8 `PrivateKeyInfo` first.
 * Errors say what is wrong with the key, never any part of it.
 */

/** Seconds `iat` is back-dated: GitHub's documented allowance for clock drift. */
export const JWT_BACKDATE_SECONDS = 60;
/**
 * Seconds from now to `exp`. GitHub refuses `exp - iat > 600` ("too far in the future"), and clocks
 * that run a little fast hit that limit at exactly 600, so stay a minute under it: 60 + 540 = 600.
 */
export const JWT_LIFETIME_SECONDS = 540;

/** The App's private key could not be read or used. The message never holds key material. */
export class AppPrivateKeyInvalid extends Error {
  override readonly name = "AppPrivateKeyInvalid";
}

/** The App id is not a GitHub App id (digits) or client id. */
export class AppIdInvalid extends Error {
  override readonly name = "AppIdInvalid";
}

export interface AppJwtClaims {
  iat: number;
  exp: number;
  /** The numeric App id, or the client id (`Iv1.…`, `Iv23…`) when that is what was configured. */
  iss: number | string;
}

export interface SignAppJwtInput {
  /** `GITHUB_APP_ID`: the numeric App id (as a string from a secret, or a number) or the client id. */
  appId: string | number;
  /** `GITHUB_APP_PRIVATE_KEY`: PKCS#1 or PKCS#8 PEM; `\n` written as two characters is accepted. */
  privateKeyPem: string;
  /** Clock in epoch milliseconds; defaults to `Date.now`. */
  now?: () => number;
}

/** The claims for a JWT signed at `nowMs`. */
export function appJwtClaims(appId: string | number, nowMs: number): AppJwtClaims {
  const now = Math.floor(nowMs / 1000);
  return { iat: now - JWT_BACKDATE_SECONDS, exp: now + JWT_LIFETIME_SECONDS, iss: appIssuer(appId) };
}

/** Signs an RS256 App JWT. Throws `AppPrivateKeyInvalid` / `AppIdInvalid`. */
export async function signAppJwt(input: SignAppJwtInput): Promise<string> {
  const claims = appJwtClaims(input.appId, (input.now ?? Date.now)());
  const key = await importAppPrivateKey(input.privateKeyPem);
  const signingInput = `${base64UrlJson({ alg: "RS256", typ: "JWT" })}.${base64UrlJson(claims)}`;
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64Url(new Uint8Array(signature))}`;
}

/**
 * GitHub documents `iss` as the App id or the client id. A numeric id goes out as a JSON number
 * (GitHub's older answer to a string there was "'Issuer' claim ('iss') must be an Integer").
 */
export function appIssuer(appId: string | number): number | string {
  if (typeof appId === "number") {
    if (Number.isSafeInteger(appId) && appId > 0) return appId;
    throw new AppIdInvalid("the GitHub App id must be a positive integer or the App's client id");
  }
  const trimmed = appId.trim();
  if (/^\d+$/.test(trimmed) && Number(trimmed) > 0) return Number(trimmed);
  if (/^Iv[0-9A-Za-z.]{4,}$/.test(trimmed)) return trimmed;
  throw new AppIdInvalid("the GitHub App id must be the numeric App id or the App's client id (Iv…)");
}

const RSA_SIGNING = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** Imports the App's private key for RS256 signing, from PKCS#1 or PKCS#8 PEM. */
export async function importAppPrivateKey(pem: string): Promise<CryptoKey> {
  const pkcs8 = privateKeyPkcs8Der(pem);
  try {
    return await crypto.subtle.importKey("pkcs8", pkcs8, RSA_SIGNING, false, ["sign"]);
  } catch {
    // The platform's reason can describe the key's bytes; say only what the operator can act on.
    throw new AppPrivateKeyInvalid(
      "the GitHub App private key is not a usable RSA private key (download a new .pem from the App's settings)",
    );
  }
}

/** The key's PKCS#8 DER bytes: PKCS#8 PEM decoded as is, PKCS#1 PEM wrapped. */
export function privateKeyPkcs8Der(pem: string): Uint8Array<ArrayBuffer> {
  const text = normalizePem(pem);
  const block = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!block) {
    const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
    throw new AppPrivateKeyInvalid(
      label
        ? `the GitHub App private key's PEM block "${label}" has no matching END line`
        : "the GitHub App private key is not a PEM (expected -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)",
    );
  }
  const label = block[1] ?? "";
  if (label !== "RSA PRIVATE KEY" && label !== "PRIVATE KEY") {
    throw new AppPrivateKeyInvalid(`the GitHub App private key is a "${label}" PEM; ${wrongKindAdvice(label)}`);
  }
  const der = decodeBase64Body(block[2] ?? "");
  if (der.length < 64 || der[0] !== 0x30) {
    throw new AppPrivateKeyInvalid(`the GitHub App private key's "${label}" block does not hold a DER key`);
  }
  return label === "RSA PRIVATE KEY" ? wrapPkcs1InPkcs8(der) : der;
}

function wrongKindAdvice(label: string): string {
  if (label.includes("PUBLIC")) return "that is a public key, the App needs its private key";
  if (label.includes("ENCRYPTED")) return "encrypted keys are not supported, use the .pem GitHub generated";
  return "expected RSA PRIVATE KEY (as GitHub generates it) or PRIVATE KEY (PKCS#8)";
}

/**
 * Secrets pasted through `wrangler secret put` or a `.dev.vars` line often arrive with the line
 * breaks written as the two characters `\n`, with `\r\n`, or wrapped in quotes.
 */
function normalizePem(pem: string): string {
  let text = pem.trim();
  if (text.length >= 2 && (text[0] === '"' || text[0] === "'") && text.at(-1) === text[0]) text = text.slice(1, -1);
  return text.replace(/\\r\\n|\\n|\\r/g, "\n").replace(/\r\n?/g, "\n");
}

function decodeBase64Body(body: string): Uint8Array<ArrayBuffer> {
  const lines = body.split("\n").map((line) => line.trim());
  // Encrypted PKCS#1 PEMs carry `Proc-Type:` / `DEK-Info:` headers before the base64.
  if (lines.some((line) => /^[A-Za-z-]+:/.test(line))) {
    throw new AppPrivateKeyInvalid("the GitHub App private key is encrypted; use the .pem GitHub generated, unencrypted");
  }
  const b64 = lines.join("");
  if (b64 === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 === 1) {
    throw new AppPrivateKeyInvalid("the GitHub App private key's PEM body is not valid base64");
  }
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---------- PKCS#1 → PKCS#8 ----------

/** rsaEncryption, 1.2.840.113549.1.1.1, with its NULL parameters: the AlgorithmIdentifier of an RSA key. */
const RSA_ALGORITHM_IDENTIFIER = Uint8Array.of(
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
);

/** PrivateKeyInfo ::= SEQUENCE { version INTEGER 0, AlgorithmIdentifier, privateKey OCTET STRING } (RFC 5208). */
export function wrapPkcs1InPkcs8(pkcs1: Uint8Array): Uint8Array<ArrayBuffer> {
  const version = Uint8Array.of(0x02, 0x01, 0x00);
  return derElement(0x30, concat(version, RSA_ALGORITHM_IDENTIFIER, derElement(0x04, pkcs1)));
}

/** One DER TLV: short length form below 128 bytes, long form (0x81…0x84 + big-endian bytes) above. */
function derElement(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = content.length;
  let header: number[];
  if (length < 0x80) {
    header = [tag, length];
  } else {
    const bytes: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
    header = [tag, 0x80 | bytes.length, ...bytes];
  }
  return concat(Uint8Array.from(header), content);
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// ---------- base64url ----------

function base64UrlJson(value: unknown): string {
  return base64Url(new TextEncoder().encode(JSON.stringify(value)));
}

export function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
