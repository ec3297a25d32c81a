/**
 * Where a project's token may go. `apiBaseUrl` is checked strictly and stored normalised, because
 * `new URL()` resolves dot segments and keeps userinfo, query and fragment: each of those once
 * pointed token-bearing requests at other endpoints of the tracker (issue 17). Plain `http://` is
 * refused except for loopback hosts and the hosts an operator lists in ALLOW_INSECURE_TRACKER_HOSTS
 * (issue 16: the token would cross the network in clear text).
 */

/** Hosts a token may reach over plain HTTP without any opt-in: this machine only. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** ALLOW_INSECURE_TRACKER_HOSTS: comma- or space-separated host names (optionally host:port). */
export function parseInsecureHosts(value: string | undefined): string[] {
  return (value ?? "")
    .split(/[\s,]+/)
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

/** A path segment that `new URL()` would resolve away (".", "..", and their percent-encoded forms). */
export function isDotSegment(segment: string): boolean {
  const s = segment.replace(/%2e/gi, ".");
  return s === "." || s === "..";
}

export type ApiBaseUrlCheck = { ok: true; value: string } | { ok: false; problem: string };

/**
 * The normalised API base (`https://host[:port]/path`, lower-case host, no trailing slash), or what
 * is wrong with it. No userinfo, query, fragment, backslash, dot segment or encoded slash.
 */
export function checkApiBaseUrl(raw: string, insecureHosts: readonly string[]): ApiBaseUrlCheck {
  const fail = (problem: string): ApiBaseUrlCheck => ({ ok: false, problem });
  if (/[?#\\\s]/.test(raw)) return fail("must not contain a query (?), a fragment (#), a backslash or whitespace");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail("is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return fail("must be an https:// URL");
  if (url.username || url.password || /^[a-z]+:\/\/[^/]*@/i.test(raw)) return fail("must not contain a user name or password (user:pass@)");
  const rawPath = raw.replace(/^[a-z]+:\/\/[^/]*/i, "");
  if (rawPath.split("/").some(isDotSegment)) return fail('must not contain "." or ".." path segments');
  if (/%2f|%5c/i.test(rawPath)) return fail("must not contain encoded slashes");
  if (url.protocol === "http:") {
    const host = url.hostname.toLowerCase();
    const allowed = isLoopbackHost(host) || insecureHosts.includes(host) || insecureHosts.includes(url.host.toLowerCase());
    if (!allowed) {
      return fail("must be an https:// URL (plain http:// is allowed only for loopback hosts and hosts listed in ALLOW_INSECURE_TRACKER_HOSTS)");
    }
  }
  return { ok: true, value: `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}` };
}

/** The origin (`scheme://host[:port]`) a stored token is bound to. */
export function originOf(apiBaseUrl: string): string {
  return new URL(apiBaseUrl).origin;
}
