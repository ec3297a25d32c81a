/**
 * GitHub App keys for tests, made with WebCrypto: the private key as GitHub hands it out (PKCS#1
 * PEM, `-----BEGIN RSA PRIVATE KEY-----`) and as PKCS#8 PEM, plus the public key the fake GitHub
 * verifies App JWTs with. PKCS#1 is obtained by unwrapping WebCrypto's PKCS#8 export: the
 * `privateKey` OCTET STRING inside `PrivateKeyInfo` (RFC 5208) is the PKCS#1 `RSAPrivateKey`.
 */

export interface TestAppKeys {
  publicKey: CryptoKey;
  /** `-----BEGIN PRIVATE KEY-----` */
  pkcs8Pem: string;
  /** `-----BEGIN RSA PRIVATE KEY-----`, as GitHub's "Generate a private key" downloads it. */
  pkcs1Pem: string;
}

export const APP_KEY_ALGORITHM = {
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
} as const;

/** A fresh 2048-bit RSA key pair in both PEM kinds GitHub Apps use. */
export async function generateAppKeys(): Promise<TestAppKeys> {
  const pair = (await crypto.subtle.generateKey(APP_KEY_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  return {
    publicKey: pair.publicKey,
    pkcs8Pem: toPem("PRIVATE KEY", pkcs8),
    pkcs1Pem: toPem("RSA PRIVATE KEY", pkcs1FromPkcs8(pkcs8)),
  };
}

/** PEM armour: base64 in 64-character lines between BEGIN and END lines. */
export function toPem(label: string, der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** PrivateKeyInfo ::= SEQUENCE { version INTEGER, AlgorithmIdentifier SEQUENCE, privateKey OCTET STRING }. */
export function pkcs1FromPkcs8(pkcs8: Uint8Array): Uint8Array {
  const outer = readDer(pkcs8, 0, 0x30);
  const version = readDer(pkcs8, outer.contentStart, 0x02);
  const algorithm = readDer(pkcs8, version.end, 0x30);
  const privateKey = readDer(pkcs8, algorithm.end, 0x04);
  return pkcs8.slice(privateKey.contentStart, privateKey.end);
}

interface DerElement {
  contentStart: number;
  end: number;
}

function readDer(bytes: Uint8Array, offset: number, expectedTag: number): DerElement {
  if (bytes[offset] !== expectedTag) throw new Error(`DER: expected tag 0x${expectedTag.toString(16)} at ${offset}`);
  const first = bytes[offset + 1] ?? 0;
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[offset + 2 + i] ?? 0);
    contentStart += count;
  }
  return { contentStart, end: contentStart + length };
}
