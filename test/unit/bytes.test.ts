import { describe, expect, it } from "vitest";
import { ByteBudgetError, INLINE_TEXT_BYTES, MAX_JSON_PARAM_BYTES, splitUtf8, utf8Bytes } from "../../src/db/bytes";
import { packText } from "../../src/db/issue-texts";
import { chunkByJsonSize } from "../../src/db/json";

const encoded = (s: string) => new TextEncoder().encode(s).byteLength;

describe("byte budget", () => {
  it("utf8Bytes counts UTF-8 bytes, not UTF-16 units", () => {
    for (const s of ["", "abc", "é", "問題", "😀", "a😀b問", "\ud800", "x\udc00y"]) expect(utf8Bytes(s)).toBe(encoded(s));
    expect(utf8Bytes("問".repeat(1000))).toBe(3000);
  });

  it("splitUtf8 keeps every piece within the budget, never splits a surrogate pair, and joins back", () => {
    const text = "a問😀".repeat(10_000);
    const parts = splitUtf8(text, 1000);
    expect(parts.join("")).toBe(text);
    for (const p of parts) {
      expect(encoded(p)).toBeLessThanOrEqual(1000);
      expect(p.charCodeAt(p.length - 1) >= 0xd800 && p.charCodeAt(p.length - 1) <= 0xdbff).toBe(false);
    }
    expect(splitUtf8("", 10)).toEqual([""]);
  });

  it("chunkByJsonSize sizes chunks in bytes: a page of CJK rows is split where .length would not", () => {
    const row = { body: "問".repeat(100_000) }; // 100,000 characters, 300,000 bytes
    const chunks = chunkByJsonSize(Array.from({ length: 8 }, () => row));
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(encoded(c)).toBeLessThanOrEqual(MAX_JSON_PARAM_BYTES);
    expect(chunks.flatMap((c) => JSON.parse(c) as unknown[]).length).toBe(8);
  });

  it("chunkByJsonSize refuses a single row over D1's value limit instead of letting production refuse it", () => {
    expect(() => chunkByJsonSize([{ body: "問".repeat(700_000) }])).toThrow(ByteBudgetError);
  });

  it("packText keeps small texts inline and splits large ones into parts under the budget", () => {
    expect(packText("small")).toEqual({ inline: "small", parts: [] });
    const big = "問".repeat(1_048_576);
    const packed = packText(big);
    expect(packed.inline).toBe("");
    expect(packed.parts.join("")).toBe(big);
    for (const p of packed.parts) expect(encoded(p)).toBeLessThanOrEqual(INLINE_TEXT_BYTES);
    // Measured JSON-escaped: 200,000 quotes are 400,000 bytes inside a JSON parameter.
    expect(packText('"'.repeat(450_000)).parts.length).toBeGreaterThan(0);
  });
});
