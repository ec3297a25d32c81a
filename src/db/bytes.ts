/**
 * D1's limits are in bytes: a string or row over 2,000,000 bytes is refused in production
 * (SQLITE_TOOBIG), while local D1 accepts it. JavaScript's `string.length` counts UTF-16 units,
 * a third of the UTF-8 size of CJK text; everything stored is sized here, in UTF-8 bytes.
 */

/** D1's limit for one string value, and for one row. */
export const MAX_D1_VALUE_BYTES = 2_000_000;
/** A JSON parameter of a multi-row statement stays under this (several rows per parameter). */
export const MAX_JSON_PARAM_BYTES = 900_000;
/**
 * The largest text an issue column holds inline, measured JSON-escaped (as it travels inside a
 * multi-row statement's JSON parameter). Body and base inline together stay under one row's limit.
 */
export const INLINE_TEXT_BYTES = 800_000;

/** UTF-8 size of a string, without encoding it (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** UTF-8 size of a value's JSON text. */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value));
}

/**
 * Splits a text into pieces of at most `maxBytes` UTF-8 bytes each, never inside a surrogate pair;
 * joined, they are the text.
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  const parts: string[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (bytes + size > maxBytes && i > start) {
      parts.push(text.slice(start, i));
      start = i;
      bytes = 0;
    }
    bytes += size;
    if (pair) i++;
  }
  if (start < text.length || parts.length === 0) parts.push(text.slice(start));
  return parts;
}

/** Thrown when a value cannot be stored within D1's byte limits. */
export class ByteBudgetError extends Error {}
