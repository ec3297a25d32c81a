/**
 * One parser for every tracker timestamp. GitHub sends `2024-01-02T03:04:05Z`, GitLab's REST API
 * `…05.123Z` and its older webhooks `2018-09-17 21:01:30 UTC`, Gitea RFC 3339 with the server's
 * offset (`…T15:17:35+02:00`). Everything we store and compare is the one fixed form
 * `YYYY-MM-DDTHH:MM:SS.sssZ`, so plain string comparison orders instants correctly.
 */

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)$/i;

export function toUtcIso(value: string): string {
  const m = TIMESTAMP.exec(value.trim());
  if (!m) throw new RangeError(`not a timestamp: ${JSON.stringify(value.slice(0, 64))}`);
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as [string, string, string, string, string, string, string, string | undefined, string];
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  // Fractions beyond milliseconds are truncated, never rounded up into the next second.
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, "0")) : 0;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) {
    throw new RangeError(`timestamp out of range: ${JSON.stringify(value)}`);
  }
  const local = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), ms);
  if (new Date(local).getUTCDate() !== day) {
    throw new RangeError(`timestamp out of range: ${JSON.stringify(value)}`);
  }
  return new Date(local - offsetMinutes(zone) * 60_000).toISOString();
}

/** Like `toUtcIso` for optional fields: null and undefined stay null. */
export function toUtcIsoOrNull(value: string | null | undefined): string | null {
  return value == null ? null : toUtcIso(value);
}

/** ISO UTC from a Unix epoch in seconds (rate-limit reset headers). */
export function fromEpochSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/**
 * A `since` query value in whole seconds, rounded down so the filter stays inclusive of the given
 * instant (GitHub documents `YYYY-MM-DDTHH:MM:SSZ`; Gitea compares whole Unix seconds).
 */
export function toWholeSecondSince(iso: string): string {
  return `${toUtcIso(iso).slice(0, 19)}Z`;
}

function offsetMinutes(zone: string): number {
  const z = zone.toUpperCase();
  if (z === "Z" || z === "UTC") return 0;
  const sign = z.startsWith("-") ? -1 : 1;
  const digits = z.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (hours > 23 || minutes > 59) throw new RangeError(`bad UTC offset: ${zone}`);
  return sign * (hours * 60 + minutes);
}
