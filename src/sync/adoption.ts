/**
 * The one lost-create adoption rule, for every record kind (issues, comments).
 *
 * A create whose answer was lost may still have made the record. A tracker record is taken as that
 * create's result only if all hold:
 * - the local create is still in flight: its outbox row is pending with an attempt on record (a
 *   create the tracker refused, 403/422, made nothing and adopts nothing);
 * - the tracker record was created inside the attempt's window (from a little before the attempt,
 *   for clock skew, to a few minutes after it);
 * - its text equals what the attempt sent, in the form the tracker stores (`sameStoredText`);
 * - it was made by the token's own user (asked of the tracker, never inferred from the text);
 * - no other local record already owns it (two identical "+1"s adopt one each, never the same).
 */

/** A lost create is looked for from this long before its attempt: the tracker's clock may differ. */
export const ADOPT_CLOCK_SKEW_MS = 5 * 60_000;
/** ... and only if the tracker record was created this soon after the attempt. */
export const ADOPT_WINDOW_MS = 15 * 60_000;

export interface AdoptionWindow {
  from: string;
  until: string;
}

export function adoptionWindow(attemptedAt: string): AdoptionWindow {
  const at = Date.parse(attemptedAt);
  return { from: new Date(at - ADOPT_CLOCK_SKEW_MS).toISOString(), until: new Date(at + ADOPT_WINDOW_MS).toISOString() };
}

export function inAdoptionWindow(window: AdoptionWindow, createdAt: string): boolean {
  return window.from <= createdAt && createdAt <= window.until;
}

/**
 * Text compared as trackers store it: GitLab deletes CR and strips surrounding whitespace, others
 * keep the text; a sent text and the stored copy of it are the same text in this form.
 */
export function sameStoredText(a: string, b: string): boolean {
  return storedForm(a) === storedForm(b);
}

function storedForm(text: string): string {
  return text
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((line) => line.replace(/[ \t]+$/, ""))
    .join("\n")
    .trim();
}

/**
 * The first candidate that the rule accepts: `matches` (window and text), then `isOwn` (the token's
 * own user, one tracker question) and `unowned` (no local record has it). Candidates failing the
 * cheap test cost no tracker call.
 */
export async function firstAdoptable<T>(
  candidates: readonly T[],
  matches: (candidate: T) => boolean,
  isOwn: (candidate: T) => Promise<boolean>,
  unowned: (candidate: T) => Promise<boolean> = async () => true,
): Promise<T | null> {
  for (const candidate of candidates) {
    if (!matches(candidate)) continue;
    if ((await unowned(candidate)) && (await isOwn(candidate))) return candidate;
  }
  return null;
}
