// Shared plumbing for the benchmarks (bench/run.mjs) and the demo (scripts/demo.mjs): start and
// stop the fake tracker and `wrangler dev` on 127.0.0.1 with a throw-away persist dir, talk to the
// API, poll with bounded loops, and watch the workerd process's memory. Every process started
// here is registered and stopped on exit, failure or Ctrl-C.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const run = promisify(execFile);
/** Children run on the project's Node 22 (node_modules/.bin first), whatever node started us. */
const CHILD_PATH = `${BIN}:${process.env.PATH ?? ""}`;

// ---------- process registry ----------

const children = new Set();
const tempDirs = new Set();

/** Stops every process started here (its whole process group) and removes temp dirs. */
export async function stopAll() {
  const waits = [];
  for (const child of children) waits.push(stopChild(child));
  await Promise.all(waits);
  for (const dir of tempDirs) {
    if (process.env.BENCH_KEEP_TMP) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}

async function stopChild(child) {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

let handlersInstalled = false;
/** Ctrl-C / SIGTERM stop everything we started, then exit. */
export function installSignalHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping everything this script started…`);
      stopAll().finally(() => process.exit(130));
    });
  }
}

/** Runs `main`, always stops every child, and exits non-zero on failure. */
export async function main(fn) {
  installSignalHandlers();
  let code = 0;
  try {
    await fn();
  } catch (err) {
    console.error(`\nFAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    code = 1;
  } finally {
    await stopAll();
  }
  process.exit(code);
}

function spawnTracked(command, args, { logFile, env, cwd = ROOT } = {}) {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, PATH: CHILD_PATH, ...env },
    // Own process group, so stopping it also stops what it started (workerd under wrangler).
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const log = logFile ? createWriteStream(logFile, { flags: "a" }) : null;
  const lines = [];
  const listeners = new Set();
  let partial = "";
  const onData = (chunk) => {
    log?.write(chunk);
    partial += chunk.toString("utf8");
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 5000) lines.shift();
      for (const l of listeners) l(line);
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  child.on("exit", () => {
    children.delete(child);
    log?.end();
  });
  return { child, lines, onLine: (fn) => (listeners.add(fn), () => listeners.delete(fn)) };
}

export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws after `timeoutMs` naming `what`. */
export async function waitFor(what, fn, { timeoutMs = 60_000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ""}`);
}

/** True once something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

/** A Node script of ours as a tracked child process; resolves once it listens on `port`. */
export async function startNodeScript(script, args, { dir, port }) {
  const proc = spawnTracked(join(BIN, "node"), [script, ...args], { logFile: join(dir, `${script.split("/").pop()}.log`), env: { NODE_NO_WARNINGS: "1" } });
  await waitFor(`${script} to listen on ${port}`, () => accepts(port), { timeoutMs: 30_000 });
  return { pid: proc.child.pid, lines: proc.lines };
}

// ---------- the fake tracker ----------

/** `node test/fakes/serve.ts` as a child process: GitHub at the root, seeded with `issues` items (1 in 7 a PR). */
export async function startFakeServer({ issues, dir, provider = "github", comments = 0, latencyMs = 0 }) {
  const port = await freePort();
  // `--comments N`: the fake seeds N comments at start, round-robin over the plain issues.
  const extra = comments > 0 ? ["--comments", String(comments)] : [];
  if (latencyMs > 0) extra.push("--latency-ms", String(latencyMs));
  // BENCH_REQUEST_LOG=/tmp/x: the fake appends "<ms> <method> <path>" per request to /tmp/x-<port> (gaps between pages).
  if (process.env.BENCH_REQUEST_LOG) extra.push("--request-log", `${process.env.BENCH_REQUEST_LOG}-${port}`);
  const proc = spawnTracked(join(BIN, "node"), [join(ROOT, "test", "fakes", "serve.ts"), "--port", String(port), "--provider", provider, "--issues", String(issues), ...extra], {
    logFile: join(dir, `fake-${port}.log`),
    env: { NODE_NO_WARNINGS: "1" },
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitFor("the fake tracker to listen", async () => (await fetch(`${origin}/__control/stats`, { signal: AbortSignal.timeout(5000) })).ok, { timeoutMs: 60_000 });
  return {
    origin,
    pid: proc.child.pid,
    stats: async () => (await (await fetch(`${origin}/__control/stats`, { signal: AbortSignal.timeout(30_000) })).json())[provider],
    control: async (action, body) => {
      const res = await fetch(`${origin}/__control/${action}`, { signal: AbortSignal.timeout(60_000), method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`fake control ${action}: ${res.status} ${await res.text()}`);
      return res.json();
    },
  };
}

// ---------- wrangler dev ----------

/**
 * Writes a wrangler config into `dir` that is wrangler.toml with absolute paths (so the
 * developer's .dev.vars and .wrangler/ are never read or written) and an optional other entry
 * point. `withoutConsumers` drops queue consumers for the named queues.
 */
function writeConfig(dir, { entry, withoutConsumers = [] }) {
  let toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  toml = toml.replace(/^main\s*=.*$/m, `main = ${JSON.stringify(entry ?? join(ROOT, "src", "index.ts"))}`);
  // Every D1 binding (DB and each DB_SHARD_n) has its own migrations_dir line.
  toml = toml.replace(/^migrations_dir\s*=.*$/gm, `migrations_dir = ${JSON.stringify(join(ROOT, "migrations"))}`);
  if (withoutConsumers.length > 0) {
    const blocks = toml.split(/(?=^\[)/m);
    toml = blocks
      .filter((b) => !(b.startsWith("[[queues.consumers]]") && withoutConsumers.some((q) => new RegExp(`queue\\s*=\\s*"${q}"`).test(b))))
      .join("");
  }
  const file = join(dir, "wrangler.toml");
  writeFileSync(file, toml);
  return file;
}

/** The D1 bindings wrangler.toml declares: DB (shard 0, the catalog) and each DB_SHARD_n. */
function d1Bindings() {
  return [...readFileSync(join(ROOT, "wrangler.toml"), "utf8").matchAll(/^binding\s*=\s*"(DB(?:_SHARD_\d+)?)"/gm)].map((m) => m[1]);
}

async function wrangler(args, { config, cwd }) {
  return run(join(BIN, "wrangler"), [...args, "-c", config], {
    cwd,
    env: { ...process.env, PATH: CHILD_PATH, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
}

/**
 * A fresh local Worker: temp persist dir, migrations applied, `wrangler dev` on a free port with
 * random secrets passed as --var. `beforeStart(worker)` may load data into the D1 first (wrangler d1
 * execute must not share the sqlite file with a running dev server).
 */
export async function startWorker({ label = "worker", entry, withoutConsumers, beforeStart, vars = {} } = {}) {
  const dir = makeTempDir(`syndarix-${label}-`);
  const persist = join(dir, "state");
  const config = writeConfig(dir, { entry, withoutConsumers });
  const secrets = { API_TOKEN: randomBytes(24).toString("hex"), TOKEN_ENCRYPTION_KEY: randomBytes(32).toString("base64") };
  // Every shard gets the schema (the cross-project jobs read each one).
  for (const binding of d1Bindings()) await wrangler(["d1", "migrations", "apply", binding, "--local", "--persist-to", persist], { config, cwd: dir });
  const worker = {
    dir,
    persist,
    config,
    secrets,
    /** Runs SQL from a file against the (stopped) worker's local D1. */
    executeFile: (file) => wrangler(["d1", "execute", "DB", "--local", "--persist-to", persist, "--file", file, "--yes"], { config, cwd: dir }),
    query: async (sqlText) => {
      const { stdout } = await wrangler(["d1", "execute", "DB", "--local", "--persist-to", persist, "--command", sqlText, "--json"], { config, cwd: dir });
      return JSON.parse(stdout)[0].results;
    },
  };
  if (beforeStart) await beforeStart(worker);

  const port = await freePort();
  const inspector = await freePort();
  const proc = spawnTracked(
    join(BIN, "wrangler"),
    [
      "dev",
      "-c", config,
      "--ip", "127.0.0.1",
      "--port", String(port),
      "--inspector-port", String(inspector),
      "--persist-to", persist,
      "--test-scheduled",
      "--show-interactive-dev-session=false",
      "--var", `API_TOKEN:${secrets.API_TOKEN}`,
      "--var", `TOKEN_ENCRYPTION_KEY:${secrets.TOKEN_ENCRYPTION_KEY}`,
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    { logFile: join(dir, "wrangler.log"), cwd: dir, env: { CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" } },
  );
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitFor("wrangler dev to answer /health", async () => (await fetch(`${origin}/health`, { signal: AbortSignal.timeout(5000) })).ok, { timeoutMs: 90_000, intervalMs: 300 });
  } catch (err) {
    throw new Error(`${err.message}\n--- wrangler output ---\n${proc.lines.slice(-40).join("\n")}`);
  }
  return Object.assign(worker, {
    origin,
    pid: proc.child.pid,
    lines: proc.lines,
    onLine: proc.onLine,
    workerdPid: () => findWorkerRuntime(proc.child.pid),
    api: apiClient(origin, secrets.API_TOKEN),
    stop: () => stopChild(proc.child),
  });
}

// ---------- the API ----------

function apiClient(origin, token) {
  const call = async (method, path, body, { expect } = {}) => {
    const res = await fetch(`${origin}${path}`, {
      signal: AbortSignal.timeout(60_000),
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    const ok = expect ? expect.includes(res.status) : res.ok;
    if (!ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
    return data;
  };
  return {
    get: (path) => call("GET", path),
    post: (path, body, opts) => call("POST", path, body, opts),
    patch: (path, body) => call("PATCH", path, body),
    createProject: (fields) =>
      call("POST", "/api/v1/projects", {
        provider: "github",
        repository: "acme/widgets",
        token: "test-token",
        webhookSecret: "webhook-secret-for-tests-0001",
        syncDirection: "bidirectional",
        ...fields,
      }),
    startSync: (projectId, mode) => call("POST", `/api/v1/projects/${projectId}/sync`, { mode }, { expect: [202] }),
    /** Polls the run until it leaves queued/running; `onPoll(run)` sees every observation. */
    waitRun: async (runId, { timeoutMs, onPoll } = {}) =>
      waitFor(
        `sync run ${runId}`,
        async () => {
          const r = await call("GET", `/api/v1/sync-runs/${runId}`);
          onPoll?.(r);
          return r.status === "succeeded" || r.status === "failed" ? r : null;
        },
        { timeoutMs, intervalMs: 200 },
      ),
  };
}

// ---------- processes and memory ----------

function childrenOf(pid) {
  const out = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // pid (comm) state ppid …  — comm may hold spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // process went away
    }
  }
  return out;
}

/**
 * wrangler dev starts two workerd processes: its dev proxy (a fixed entry port) and the runtime
 * that runs the Worker with its D1, queues and Durable Objects (started with an inspector). The
 * runtime is the one to watch.
 */
function findWorkerRuntime(root) {
  const found = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift();
    for (const c of childrenOf(pid)) {
      queue.push(c);
      try {
        if (readFileSync(`/proc/${c}/comm`, "utf8").trim() !== "workerd") continue;
        found.push({ pid: c, args: readFileSync(`/proc/${c}/cmdline`, "utf8") });
      } catch {
        continue;
      }
    }
  }
  return (found.find((p) => p.args.includes("--inspector-addr")) ?? found.at(-1))?.pid ?? null;
}

/** VmRSS and VmHWM of a process, in MiB. */
export function memoryOf(pid) {
  if (!pid || !existsSync(`/proc/${pid}/status`)) return null;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024 };
}

/** Samples a process's RSS every `intervalMs` until stopped; returns the peak seen and VmHWM. */
export function watchMemory(pid, intervalMs = 200) {
  let peak = 0;
  const sample = () => {
    const m = memoryOf(pid);
    if (m && m.rssMiB > peak) peak = m.rssMiB;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return { peakRssMiB: peak, hwmMiB: memoryOf(pid)?.hwmMiB ?? null };
    },
  };
}

// ---------- webhooks ----------

/** A GitHub delivery for `payload`, signed as GitHub signs (HMAC-SHA256 of the raw body). */
export async function signedGitHubDelivery(secret, event, payload, deliveryId) {
  const { createHmac } = await import("node:crypto");
  const body = JSON.stringify(payload);
  return {
    body,
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/bench",
      "x-github-event": event,
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
    },
  };
}
