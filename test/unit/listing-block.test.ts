import { describe, expect, it } from "vitest";
import type { CanonicalIssue, IssuePage } from "../../src/providers/types";
import { advanceListing, cappedCursor, MAX_BLOCK_PASSES, type ListingPosition } from "../../src/sync/listing-block";

const T = "2024-01-01T00:00:00.000Z";
const LATER = "2024-01-01T00:00:09.000Z";

function page(ids: string[], at: string, nextUrl: string | null): IssuePage {
  const issues = ids.map((id) => ({ externalId: id, updatedAt: at }) as CanonicalIssue);
  return { issues, nextUrl, etag: null, notModified: false, serverTime: null, lastUpdatedAt: ids.length ? at : null, rawCount: ids.length };
}

function advance(cp: ListingPosition, p: IssuePage): boolean {
  return advanceListing(cp, p, p.issues, true);
}

describe("advanceListing: same-timestamp blocks", () => {
  it("a page past the keyset moves `since` on (keyset, no block)", () => {
    const cp: ListingPosition = { since: null, nextUrl: null };
    expect(advance(cp, page(["1", "2"], T, "next"))).toBe(true);
    expect(cp).toMatchObject({ since: T, nextUrl: null });
  });

  it("a block read by offset is re-read from its first page, and left once a pass brings nothing new", () => {
    const cp: ListingPosition = { since: T, nextUrl: null };
    advance(cp, page(["1", "2"], T, "p2"));
    expect(cp.nextUrl).toBe("p2");
    // The chain leaves the block: read it again.
    advance(cp, page(["3"], LATER, "p3"));
    expect(cp).toMatchObject({ since: T, nextUrl: null, block: { pass: 2 } });
    // Second pass: a neighbour that slid onto page 1 is new → a third pass.
    advance(cp, page(["1", "4"], T, "p2"));
    advance(cp, page(["2", "3"], LATER, "p3"));
    expect(cp).toMatchObject({ since: T, nextUrl: null, block: { pass: 3 } });
    // Third pass brings nothing new: continue after the block.
    advance(cp, page(["1", "4"], T, "p2"));
    expect(advance(cp, page(["2", "3"], LATER, "p3"))).toBe(true);
    expect(cp).toMatchObject({ since: LATER, nextUrl: null, block: null });
    expect(cp.cursorCap ?? null).toBeNull();
  });

  it("a block that keeps changing caps the cursor at the block after MAX_BLOCK_PASSES", () => {
    const cp: ListingPosition = { since: T, nextUrl: null };
    let n = 0;
    for (let pass = 1; pass <= MAX_BLOCK_PASSES; pass++) {
      advance(cp, page([`a${n++}`, `a${n++}`], T, "p2"));
      advance(cp, page([`z${pass}`], LATER, "p3"));
    }
    expect(cp.cursorCap).toBe(T);
    expect(cp.since).toBe(LATER);
    expect(cappedCursor(LATER, cp)).toBe(T);
    expect(cappedCursor(null, cp)).toBeNull();
  });

  it("a block at the end of the listing is re-read too, then the listing ends", () => {
    const cp: ListingPosition = { since: T, nextUrl: null };
    advance(cp, page(["1"], T, "p2"));
    expect(advance(cp, page(["2"], T, null))).toBe(true);
    expect(cp.block?.pass).toBe(2);
    advance(cp, page(["1"], T, "p2"));
    expect(advance(cp, page(["2"], T, null))).toBe(false);
  });

  it("unordered trackers follow Link verbatim", () => {
    const cp: ListingPosition = { since: T, nextUrl: null };
    expect(advanceListing(cp, page(["1"], T, "p2"), [], false)).toBe(true);
    expect(cp.nextUrl).toBe("p2");
    expect(advanceListing(cp, page(["2"], T, null), [], false)).toBe(false);
  });
});
