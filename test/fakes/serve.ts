/**
 * Serves fake trackers over HTTP for benchmarks and the demo:
 *
 *   node test/fakes/serve.ts --port 8788 --provider github --issues 1000
 *   node test/fakes/serve.ts --port 8788 --provider all --issues 200
 *   node test/fakes/serve.ts --port 8788 --provider github --issues 10000 --comments 50000
 *
 * One provider answers at the root (GitLab under /api/v4, Gitea under /api/v1); `all` mounts
 * /github, /gitlab/api/v4 and /gitea/api/v1. Control endpoints (JSON, add `?provider=` with `all`):
 *   POST /__control/seed  {"count": 100, "pullRequestEvery": 5}
 *   POST /__control/edit  {"count": 10} or {"numbers": [1, 2], "title": "…"}
 *   POST /__control/comments {"perIssue": 5} (or {"count": 50000}: spread over the plain issues)
 *   POST /__control/fault {"kind": "rate_limit", "match": "GET", "times": 1}
 *   GET  /__control/stats
 * Bound to 127.0.0.1 only; the token is `test-token` unless --token is given.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Provider } from "../../src/providers/types.ts";
import { FakeTracker, type FaultSpec } from "./fake-tracker.ts";

const PROVIDERS: Provider[] = ["github", "gitlab", "gitea"];
const API_PATH: Record<Provider, string> = { github: "", gitlab: "/api/v4", gitea: "/api/v1" };

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? (process.argv[at + 1] as string) : fallback;
}

const port = Number(option("port", "8788"));
const which = option("provider", "all");
const issues = Number(option("issues", "0"));
/** Comments seeded at start, spread round-robin over the plain issues (as POST /__control/comments {"count"}). */
const seedCommentCount = Number(option("comments", "0"));
const token = option("token", "test-token");
/** Network latency to simulate per tracker request (bench): waiting, not CPU, as a real tracker's round trip. */
const latencyMs = Number(option("latency-ms", "0"));
/** Appends "<ms since start> <method> <path>" for every tracker request received (bench diagnostics). */
const requestLog = option("request-log", "");
// node:fs has no types in this (workerd) tsconfig; the fake runs on Node.
const appendFileSync: (file: string, text: string) => void = requestLog ? (await import(["node", "fs"].join(":"))).appendFileSync : () => undefined;
const started = performance.now();
const origin = `http://127.0.0.1:${port}`;

const mounts = new Map<Provider, { prefix: string; fake: FakeTracker }>();
for (const provider of PROVIDERS) {
  if (which !== "all" && which !== provider) continue;
  const prefix = (which === "all" ? `/${provider}` : "") + API_PATH[provider];
  const fake = new FakeTracker(provider, { baseUrl: `${origin}${prefix}`, token });
  fake.seed(issues, { pullRequestEvery: 7 });
  seedComments(fake, seedCommentCount);
  mounts.set(provider, { prefix, fake });
}
if (mounts.size === 0) {
  console.error(`unknown --provider ${which}; use github, gitlab, gitea or all`);
  process.exit(2);
}

/** Adds `count` comments round-robin over the plain issues (pull requests get none); the clock ticks per comment. */
function seedComments(fake: FakeTracker, count: number): number {
  const plain = fake.store.visible().filter((i) => i.kind === "issue");
  let added = 0;
  for (; added < count && plain.length > 0; added++) fake.addComment(plain[added % plain.length]!.number, { body: `Comment ${added + 1}` });
  return added;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of req) chunks.push(chunk);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function controlTarget(url: URL): FakeTracker | null {
  const name = url.searchParams.get("provider") ?? (mounts.size === 1 ? [...mounts.keys()][0] : null);
  return name ? (mounts.get(name as Provider)?.fake ?? null) : null;
}

async function control(url: URL, body: Record<string, unknown>, res: ServerResponse): Promise<void> {
  const action = url.pathname.slice("/__control/".length);
  if (action === "stats") {
    const stats: Record<string, unknown> = {};
    for (const [provider, { fake }] of mounts) stats[provider] = fake.stats();
    return send(res, 200, stats);
  }
  const fake = controlTarget(url);
  if (!fake) return send(res, 400, { error: "name the fake with ?provider=" });
  if (action === "seed") {
    const seeded = fake.seed(Number(body.count ?? 1), { pullRequestEvery: typeof body.pullRequestEvery === "number" ? body.pullRequestEvery : undefined });
    return send(res, 200, { seeded: seeded.length, numbers: seeded.map((i) => i.number) });
  }
  if (action === "comments") {
    const plain = fake.store.visible().filter((i) => i.kind === "issue").length;
    const count = typeof body.count === "number" ? body.count : plain * Number(body.perIssue ?? 1);
    return send(res, 200, { comments: seedComments(fake, count) });
  }
  if (action === "edit") {
    const numbers = Array.isArray(body.numbers)
      ? (body.numbers as number[])
      : fake.store.visible().filter((i) => i.kind === "issue").slice(0, Number(body.count ?? 1)).map((i) => i.number);
    for (const number of numbers) fake.edit(number, { title: typeof body.title === "string" ? body.title : `${fake.issue(number)?.title ?? "Issue"} (edited)` });
    return send(res, 200, { edited: numbers });
  }
  if (action === "fault") {
    fake.fail(body as unknown as FaultSpec);
    return send(res, 200, { ok: true });
  }
  return send(res, 404, { error: `unknown control ${action}` });
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? "/", origin);
    const raw = await readBody(req);
    if (url.pathname.startsWith("/__control/")) {
      const body = raw.length > 0 ? (JSON.parse(new TextDecoder().decode(raw)) as Record<string, unknown>) : {};
      return await control(url, body, res);
    }
    if (requestLog) appendFileSync(requestLog, `${Math.round(performance.now() - started)} ${req.method} ${url.pathname}${url.search}\n`);
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    const mount = [...mounts.values()].find(({ prefix }) => prefix === "" || url.pathname.startsWith(`${prefix}/`));
    if (!mount) return send(res, 404, { message: "Not Found" });
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === "string") headers.set(name, value);
    }
    const request = new Request(url, {
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" || raw.length === 0 ? undefined : raw,
    });
    let answer: Response;
    try {
      answer = await mount.fake.handle(request);
    } catch {
      // An injected network fault: drop the connection as a broken network would.
      req.socket.destroy();
      return;
    }
    const out: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      out[name] = value;
    });
    res.writeHead(answer.status, out);
    res.end(new Uint8Array(await answer.arrayBuffer()));
  } catch (err) {
    send(res, 500, { message: err instanceof Error ? err.message : "fake server error" });
  }
});

server.listen(port, "127.0.0.1", () => {
  for (const [provider, { prefix }] of mounts) console.log(`fake ${provider}: ${origin}${prefix}`);
});
