import { describe, expect, it } from "vitest";
import { toUtcIso, toWholeSecondSince } from "../../../src/providers/timestamps";

describe("toUtcIso", () => {
  it.each([
    ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000Z"],
    ["2024-01-02T03:04:05.123Z", "2024-01-02T03:04:05.123Z"],
    ["2024-01-02T03:04:05.123456789Z", "2024-01-02T03:04:05.123Z"],
    ["2018-09-17 21:01:30 UTC", "2018-09-17T21:01:30.000Z"],
    ["2024-05-02T15:17:35+02:00", "2024-05-02T13:17:35.000Z"],
    ["2024-05-02T15:17:35-05:30", "2024-05-02T20:47:35.000Z"],
    ["2024-01-01T01:00:00+02:00", "2023-12-31T23:00:00.000Z"],
    ["2024-01-02T03:04:05+0000", "2024-01-02T03:04:05.000Z"],
  ])("normalizes %s to %s", (input, expected) => {
    expect(toUtcIso(input)).toBe(expected);
  });

  it.each(["", "yesterday", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-01-02T03:04:05", "2024-01-02T25:00:00Z"])(
    "throws on %j",
    (input) => {
      expect(() => toUtcIso(input)).toThrow(RangeError);
    },
  );

  it("orders instants by plain string comparison across formats", () => {
    const a = toUtcIso("2024-05-02T15:17:35+02:00");
    const b = toUtcIso("2024-05-02 13:17:36 UTC");
    expect(a < b).toBe(true);
  });

  it("rounds a since value down to whole seconds, keeping it inclusive", () => {
    expect(toWholeSecondSince("2024-01-02T03:04:05.999Z")).toBe("2024-01-02T03:04:05Z");
  });
});
