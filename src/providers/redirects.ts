/**
 * Redirects an adapter follows itself (with `manualRedirect`): GitHub answers every request for a
 * renamed or transferred repository with 301 (GET/HEAD) or 307 (writes) and a `Location` on the
 * same host; the ids stay the same. A redirect is only ever followed on the origin the token was
 * configured for, and it never means "moved" by itself: the caller compares ids.
 */
import type { TrackerHttp, TrackerResponse } from "./http";

export const REDIRECT_STATUSES: readonly number[] = [301, 302, 303, 307, 308];
/** More hops than a rename plus a transfer ever take. */
export const MAX_REDIRECTS = 5;

export function isRedirect(status: number): boolean {
  return REDIRECT_STATUSES.includes(status);
}

/** The absolute `Location` of a redirect answer when it stays on `origin`; null otherwise (never followed). */
export function sameOriginLocation(res: TrackerResponse, from: string, origin: string): URL | null {
  const location = res.headers.get("location");
  if (!location) return null;
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    return null;
  }
  return target.origin === origin ? target : null;
}

/**
 * GET `url`, following same-origin redirects by hand (bounded). Returns the final answer (any
 * status in `accept` or 2xx), the URL it came from, and the Location of a redirect that was not
 * followed (another origin) when that is where it stopped.
 */
export async function getFollowingSameOrigin(
  http: TrackerHttp,
  url: string,
  accept: readonly number[],
  follow: (target: URL) => boolean | Promise<boolean> = () => true,
): Promise<{ res: TrackerResponse; url: string; unfollowed: string | null }> {
  const origin = new URL(http.baseUrl).origin;
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await http.request("GET", current, { accept: [...REDIRECT_STATUSES, ...accept], manualRedirect: true });
    if (!isRedirect(res.status)) return { res, url: current, unfollowed: null };
    const target = sameOriginLocation(res, current, origin);
    if (!target || hop >= MAX_REDIRECTS || !(await follow(target))) {
      return { res, url: current, unfollowed: res.headers.get("location") };
    }
    current = target.toString();
  }
}
