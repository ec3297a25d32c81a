/**
 * Where events may be sent (checked at creation, and again before every send, since the rules or the
 * insecure-hosts list may change): `https://` only — plain `http://` just for hosts an operator lists
 * in ALLOW_INSECURE_TRACKER_HOSTS —, no user name or password, and no loopback, private, link-local
 * or otherwise internal address written as the host (the WHATWG URL parser has already normalised
 * forms such as `http://2130706433/` to `127.0.0.1`). Redirects are never followed at send time, so
 * an allowed URL cannot bounce a signed request inward. The one exception is the operator's own: a
 * host listed in ALLOW_INSECURE_TRACKER_HOSTS exactly as the URL names it (with its port when the
 * URL has one), e.g. a receiver on `127.0.0.1:8790` during local development or the benchmark.
 */
export type UrlCheck = { ok: true; value: string } | { ok: false; problem: string };

function ipv4Internal(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local (cloud metadata)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && Number(m[3]) === 0) ||
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast and reserved
  );
}

function ipv6Internal(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "::" || h === "::1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return ipv4Internal(mapped[1]!);
  // IPv4-mapped in hex form (::ffff:7f00:1), as the URL parser writes it.
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (hexMapped) {
    const hi = parseInt(hexMapped[1]!, 16);
    const lo = parseInt(hexMapped[2]!, 16);
    return ipv4Internal(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  const first = parseInt(h.split(":")[0] || "0", 16);
  return (first & 0xfe00) === 0xfc00 /* unique local */ || (first & 0xffc0) === 0xfe80 /* link-local */ || (first & 0xff00) === 0xff00; /* multicast */
}

export function checkSubscriptionUrl(raw: string, insecureHosts: readonly string[]): UrlCheck {
  const fail = (problem: string): UrlCheck => ({ ok: false, problem });
  if (/[\s\\]/.test(raw)) return fail("must not contain whitespace or a backslash");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail("is not a URL");
  }
  if (url.username || url.password || /^[a-z]+:\/\/[^/?#]*@/i.test(raw)) return fail("must not contain a user name or password (user:pass@)");
  const host = url.hostname.toLowerCase();
  const listed = insecureHosts.includes(url.host.toLowerCase()) || (url.port === "" && insecureHosts.includes(host));
  if (url.hash) return fail("must not contain a fragment (#)");
  if (listed && (url.protocol === "http:" || url.protocol === "https:")) return { ok: true, value: url.href };
  if (url.protocol === "http:") {
    if (!insecureHosts.includes(host) && !insecureHosts.includes(url.host.toLowerCase())) {
      return fail("must be an https:// URL (plain http:// only for hosts listed in ALLOW_INSECURE_TRACKER_HOSTS)");
    }
  } else if (url.protocol !== "https:") {
    return fail("must be an https:// URL");
  }
  if (host === "localhost" || host.endsWith(".localhost")) return fail("must not point at this machine (localhost)");
  const bare = host.replace(/^\[|\]$/g, "");
  if (ipv4Internal(bare) || (host.startsWith("[") && ipv6Internal(bare))) {
    return fail("must not be a loopback, private, link-local or reserved IP address");
  }
  return { ok: true, value: url.href };
}
