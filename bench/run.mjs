#!/usr/bin/env node
// Benchmarks of syndarix-sync on `wrangler dev` against the fake tracker over HTTP, all on 127.0.0.1:
//
//   npm run bench              full run (10k and 100k imports, incremental, webhooks, cron fan-out)
//   npm run bench -- --quick   a short run (2k import, fewer deliveries and projects; no 100k)
//
// Each section gets a fresh worker (temp persist dir, migrations applied, random secrets), so the
// developer's local state is never touched. The worker runs bench/worker-entry.ts: the real Worker
// with counting wrappers on D1 and the queues. The full run rewrites the generated part of
// bench/RESULTS.md; a quick run writes bench/out/quick.md. Every loop is bounded; every process is
// stopped on exit, failure or Ctrl-C.
//
// After each import the worker's local D1 file is measured (SQLite's dbstat, through node:sqlite):
// bytes per stored issue, per table and per index — the numbers behind the storage ceiling.
//
// Comments (issues 12 and 15): every run also imports 10,000 listed items with 50,000 comments (quick:
// 2,000 with 10,000). The fake seeds them at start (`serve.ts --comments N`, round-robin over the plain
// issues, one clock tick each); the run lists them with GitHub's repository-wide
// GET /repos/{owner}/{repo}/issues/comments?since=&sort=updated&direction=asc&per_page=100 as a keyset
// scan (a new `since` per page, inclusive, so each page after the first repeats its boundary comment).
// The floor is the plain fetch, in the same run, of the issue listing plus that comment listing by
// `Link` (offset pages). `--only=comments` runs just this section.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:http";
import { availableParallelism, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { FakeTracker } from "../test/fakes/fake-tracker.ts";
import {
  freePort,
  main,
  makeTempDir,
  memoryOf,
  ROOT,
  startFakeServer,
  startNodeScript,
  startWorker,
  waitFor,
  watchMemory,
} from "./lib.mjs";

const QUICK = process.argv.includes("--quick");
/** `--only=import,webhooks,freshness,cron,large,latency,comments,events` runs a subset (incremental runs belong to `import`; `webhooks` and `freshness` run on the first import). */
const ONLY = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",") ?? null;
const wanted = (section) => ONLY === null || ONLY.includes(section);
const PAGE_SIZE = 100; // GitHub's maximum per_page, which the adapter asks for
const PR_EVERY = 7; // serve.ts seeds every 7th item as a pull request
const ENTRY = join(ROOT, "bench", "worker-entry.ts");

const plan = QUICK
  ? { imports: [2_000], incremental: [0, 0, 1, 100], webhooks: { count: 300, warmup: 50, concurrency: 16 }, cronProjects: 1_000, cronRepeats: 2 }
  : { imports: [10_000, 100_000], incremental: [0, 0, 1, 100], webhooks: { count: 2_000, warmup: 200, concurrency: 16 }, cronProjects: 10_000, cronRepeats: 3 };
/**
 * Simulated tracker round trip of the `latency` section: api.github.com takes 300–800 ms a page, so
 * 300 by default (`--latency-ms=N` to change). The section imports 10,000 items and the comments row
 * at that latency; `--latency-large` adds the 100,000 import (about 10 minutes more).
 */
const LATENCY_MS = Number(process.argv.find((a) => a.startsWith("--latency-ms="))?.slice("--latency-ms=".length) ?? 300);
const LATENCY_LARGE = process.argv.includes("--latency-large");
const IMPORT_TIMEOUT_MS = { 2_000: 120_000, 10_000: 240_000, 100_000: 600_000 };
/** The fake's requests per route during a phase (`/__control/stats` byRoute, after − before). */
function routeDelta(before, after) {
  const out = {};
  for (const [route, count] of Object.entries(after.byRoute ?? {})) {
    const d = count - (before.byRoute?.[route] ?? 0);
    if (d > 0) out[route] = d;
  }
  return out;
}

/** The keyset scan's minimum requests for n items: `since` is inclusive, so pages after the first bring 99 new items. */
const keysetPages = (n) => 1 + Math.ceil(Math.max(0, n - PAGE_SIZE) / (PAGE_SIZE - 1));
/** The comments row of issue 15: 10,000 listed items with 50,000 comments (quick: 2,000 with 10,000). */
const COMMENTS_PLAN = QUICK ? { issues: 2_000, comments: 10_000 } : { issues: 10_000, comments: 50_000 };
const ISSUES_PATH = `/repos/acme/widgets/issues?state=all&sort=updated&direction=asc&per_page=${PAGE_SIZE}`;
const COMMENTS_PATH = `/repos/acme/widgets/issues/comments?sort=updated&direction=asc&per_page=${PAGE_SIZE}`;

const results = { quick: QUICK, date: new Date().toISOString(), machine: machine(), imports: [], incremental: [], webhooks: null, freshness: null, cron: null, storage: [], events: null, notes: [] };
/** Event subscriptions (issue 22): an import's issue.created events, then single webhook changes one at a time. `--events=N` overrides the import size. */
const EVENTS_PLAN = (() => {
  const n = Number(process.argv.find((a) => a.startsWith("--events="))?.slice("--events=".length));
  const base = QUICK ? { import: 2_000, steady: 50 } : { import: 10_000, steady: 200 };
  return Number.isFinite(n) && n > 0 ? { import: n, steady: Math.min(base.steady, 50) } : base;
})();

function machine() {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      return "?";
    }
  };
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    wrangler: pkg("wrangler"),
    workerd: pkg("workerd"),
    loadAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** user+system CPU seconds of a process so far (Linux /proc; clock ticks of 100 Hz). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

const round = (n, digits = 0) => (n === null || n === undefined || Number.isNaN(n) ? null : Math.round(n * 10 ** digits) / 10 ** digits);
const log = (msg) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function benchStats(worker) {
  return (await fetch(`${worker.origin}/__bench/stats`, { signal: AbortSignal.timeout(30_000) })).json();
}
async function benchReset(worker) {
  await fetch(`${worker.origin}/__bench/reset`, { method: "POST", signal: AbortSignal.timeout(30_000) });
}

/** The floor: read every page of the same listing with plain Node fetch, in sequence, and parse it. */
async function floorListing(fakeOrigin, path = ISSUES_PATH) {
  let url = `${fakeOrigin}${path}`;
  const start = performance.now();
  let requests = 0;
  let items = 0;
  for (let guard = 0; url && guard < 10_000; guard++) {
    const res = await fetch(url, { headers: { authorization: "Bearer test-token", accept: "application/vnd.github+json" }, signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`floor listing: ${res.status}`);
    items += (await res.json()).length;
    requests++;
    url = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "")?.[1] ?? null;
  }
  return { ms: performance.now() - start, requests, items };
}

// ---------- 1 + 2: full import, then incremental runs ----------

async function importSection(n, { withIncremental, comments = 0, latencyMs = 0 }) {
  log(`import of ${n.toLocaleString("en")} issues${comments ? ` with ${comments.toLocaleString("en")} comments` : ""}${latencyMs ? `, tracker latency ${latencyMs} ms` : ""}: starting the fake tracker and a fresh worker`);
  const dir = makeTempDir(`syndarix-bench-import-${n}-`);
  const fake = await startFakeServer({ issues: n, dir, comments, latencyMs });
  const worker = await startWorker({ label: `import-${n}`, entry: ENTRY });
  const workerd = worker.workerdPid();
  if (!workerd) throw new Error("could not find the workerd process under wrangler dev");
  const project = await worker.api.createProject({ name: `bench ${n}`, apiBaseUrl: fake.origin });

  const idleRss = memoryOf(workerd)?.rssMiB ?? null;
  const fakeBefore = await fake.stats();
  const cpuBefore = { workerd: cpuSeconds(workerd), fake: cpuSeconds(fake.pid) };
  await benchReset(worker);
  const mem = watchMemory(workerd);
  const start = performance.now();
  const { runId } = await worker.api.startSync(project.id, "full");
  let lastReport = Date.now();
  let lastSeen = null;
  let run;
  try {
    run = await worker.api.waitRun(runId, {
      timeoutMs: comments ? 600_000 : (IMPORT_TIMEOUT_MS[n] ?? 600_000),
      onPoll: (r) => {
        lastSeen = { run: r, ms: performance.now() - start };
        if (Date.now() - lastReport > 10_000) {
          lastReport = Date.now();
          log(`  … ${r.stats.created.toLocaleString("en")} created, ${r.stats.requests} requests`);
        }
      },
    });
  } catch (err) {
    // Did not fit the time box: report the progress so far and extrapolate.
    const memory = mem.stop();
    const seen = lastSeen?.run.stats.created ?? 0;
    const rate = lastSeen ? seen / (lastSeen.ms / 1000) : 0;
    results.imports.push({ n, finished: false, created: seen, elapsedMs: lastSeen?.ms ?? null, issuesPerSec: round(rate), extrapolatedMs: rate > 0 ? ((n - Math.floor(n / PR_EVERY)) / rate) * 1000 : null, memory, error: String(err.message) });
    results.notes.push(`The ${n.toLocaleString("en")} import did not finish within its time box; its line is extrapolated from the progress seen.`);
    await worker.stop();
    return null;
  }
  const wallMs = performance.now() - start;
  const memory = mem.stop();
  const d1 = await benchStats(worker);
  const fakeAfter = await fake.stats();
  const cpu = { workerd: cpuSeconds(workerd) - cpuBefore.workerd, fake: cpuSeconds(fake.pid) - cpuBefore.fake };
  if (run.status !== "succeeded") throw new Error(`the import run failed: ${run.error}`);

  const status = await worker.api.get(`/api/v1/projects/${project.id}/status`);
  const expectedIssues = n - Math.floor(n / PR_EVERY);
  if (status.issues.total !== expectedIssues) throw new Error(`expected ${expectedIssues} local issues after the import, found ${status.issues.total}`);
  if (comments && status.comments.total !== comments) throw new Error(`expected ${comments} local comments after the import, found ${status.comments.total}`);

  log("  floor: plain fetch of the same listing");
  const floor = await floorListing(fake.origin);
  floor.issuesMs = floor.ms;
  if (comments) {
    const c = await floorListing(fake.origin, COMMENTS_PATH);
    if (c.items !== comments) throw new Error(`the fake listed ${c.items} comments, expected ${comments}`);
    floor.ms += c.ms;
    floor.requests += c.requests;
    floor.comments = c.items;
    floor.commentsMs = c.ms;
  }
  const serverMs = Date.parse(run.finishedAt) - Date.parse(run.startedAt);
  const per1k = (v) => round((v / expectedIssues) * 1000, 1);
  const entry = {
    n,
    comments,
    latencyMs,
    finished: true,
    issues: expectedIssues,
    listed: floor.items,
    wallMs: round(wallMs),
    serverMs,
    issuesPerSec: round(expectedIssues / (wallMs / 1000)),
    stats: run.stats,
    trackerRequests: {
      run: run.stats.requests,
      fake: fakeAfter.requests - fakeBefore.requests,
      byRoute: routeDelta(fakeBefore, fakeAfter),
      // GitHub GraphQL closingIssuesReferences for the listed open PRs (one query per listing page
      // carrying any): not part of the listing, so reported apart from its minimum.
      closingReferences: routeDelta(fakeBefore, fakeAfter)["POST /graphql"] ?? 0,
      minimum: Math.ceil(n / PAGE_SIZE) + Math.ceil(comments / PAGE_SIZE),
      // The keyset scans' `since` is inclusive: each page after the first repeats the boundary item
      // (issues and comments alike).
      keysetMinimum: keysetPages(n) + (comments ? keysetPages(comments) : 0),
    },
    d1: {
      roundTrips: d1.roundTrips,
      statements: d1.statements,
      batches: d1.batches,
      rowsWritten: d1.rowsWritten,
      d1Ms: round(d1.d1Ms),
      per1k: { roundTrips: per1k(d1.roundTrips), statements: per1k(d1.statements), rowsWritten: per1k(d1.rowsWritten) },
      bySource: d1.bySource,
    },
    memory: { idleRssMiB: round(idleRss, 1), peakRssMiB: round(memory.peakRssMiB, 1), hwmMiB: round(memory.hwmMiB, 1) },
    cpuSeconds: { workerd: round(cpu.workerd, 1), fake: round(cpu.fake, 1) },
    floor: { ms: round(floor.ms), requests: floor.requests, items: floor.items, ratio: round(wallMs / floor.ms, 2), issuesMs: round(floor.issuesMs), commentsMs: round(floor.commentsMs ?? null), comments: floor.comments ?? 0 },
    commentsStored: comments ? status.comments.total : 0,
  };
  results.imports.push(entry);
  log(`  ${expectedIssues.toLocaleString("en")} issues in ${(wallMs / 1000).toFixed(1)} s (${entry.issuesPerSec}/s), ${entry.trackerRequests.run} requests (min ${entry.trackerRequests.minimum}), floor ${(floor.ms / 1000).toFixed(1)} s → ${entry.floor.ratio}× the floor`);
  log(`  tracker requests by route: ${JSON.stringify(entry.trackerRequests.byRoute)}`);

  if (withIncremental) await incrementalSection(worker, fake, project, plan.incremental, n);
  else if (n >= 100_000) await incrementalSection(worker, fake, project, [100], n);
  return { worker, fake, project };
}

async function incrementalSection(worker, fake, project, counts, n) {
  for (const [i, changed] of counts.entries()) {
    const label = changed === 0 && counts.indexOf(0) !== i ? "0 (again)" : String(changed);
    if (changed > 0) await fake.control("edit", { count: changed });
    const fakeBefore = await fake.stats();
    await benchReset(worker);
    const start = performance.now();
    const { runId } = await worker.api.startSync(project.id, "incremental");
    const run = await worker.api.waitRun(runId, { timeoutMs: 120_000 });
    const wallMs = performance.now() - start;
    if (run.status !== "succeeded") throw new Error(`incremental run (${label} changed) failed: ${run.error}`);
    const fakeAfter = await fake.stats();
    const d1 = await benchStats(worker);
    if (changed > 0 && run.stats.updated < changed) throw new Error(`incremental run saw ${run.stats.updated} updates for ${changed} changed issues`);
    results.incremental.push({
      project: n,
      changed: label,
      wallMs: round(wallMs),
      serverMs: Date.parse(run.finishedAt) - Date.parse(run.startedAt),
      requests: run.stats.requests,
      fakeRequests: fakeAfter.requests - fakeBefore.requests,
      notModified: fakeAfter.notModified - fakeBefore.notModified,
      byRoute: routeDelta(fakeBefore, fakeAfter),
      fetched: run.stats.fetched,
      updated: run.stats.updated,
      d1Statements: d1.statements,
      d1RoundTrips: d1.roundTrips,
      d1Ms: round(d1.d1Ms),
    });
    log(`  incremental on ${n.toLocaleString("en")}, ${label} changed: ${run.stats.requests} requests (${fakeAfter.notModified - fakeBefore.notModified} × 304), ${run.stats.fetched} fetched, ${(wallMs / 1000).toFixed(2)} s; by route ${JSON.stringify(routeDelta(fakeBefore, fakeAfter))}`);
  }
}

// ---------- storage: bytes per stored issue, from the worker's local D1 file ----------

/** The local D1 database files under a (stopped) worker's persist dir. */
function d1Files(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".sqlite") && p.includes("D1DatabaseObject")) out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/**
 * Per table and index: bytes on disk (dbstat's pgsize: whole pages, so free space in them counts, as
 * it does in D1's database size) and payload bytes; then bytes per stored issue. Runs after the
 * worker stopped, on its D1 file.
 */
async function measureStorage(worker, label) {
  const { DatabaseSync } = await import("node:sqlite");
  const files = d1Files(join(worker.persist, "v3", "d1"));
  const withIssues = files
    .map((file) => {
      const db = new DatabaseSync(file);
      try {
        const has = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'issues'").get().n > 0;
        return has ? { file, db } : (db.close(), null);
      } catch {
        db.close();
        return null;
      }
    })
    .filter(Boolean);
  // Every shard (DB, DB_SHARD_n) has the schema; the bench's projects live in shard 0: measure the
  // one file whose issues table holds rows.
  const stored = withIssues.filter((f) => f.db.prepare("SELECT count(*) AS n FROM issues").get().n > 0);
  for (const f of withIssues) if (!stored.includes(f)) f.db.close();
  if (stored.length !== 1) {
    results.notes.push(`Storage after the ${label} import: found ${stored.length} D1 files with stored issues; not measured.`);
    for (const f of stored) f.db.close();
    return;
  }
  const { file, db } = stored[0];
  try {
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const pageSize = db.prepare("PRAGMA page_size").get().page_size;
    const pageCount = db.prepare("PRAGMA page_count").get().page_count;
    const issues = db.prepare("SELECT count(*) AS n, avg(length(title)) AS title, avg(length(body)) AS body, avg(length(base)) AS base, avg(length(labels) + length(assignees)) AS lists FROM issues").get();
    const objects = db.prepare("SELECT name, tbl_name AS tbl, type FROM sqlite_schema WHERE type IN ('table', 'index')").all();
    const stat = db.prepare("SELECT name, sum(pgsize) AS bytes, sum(payload) AS payload FROM dbstat GROUP BY name").all();
    const byName = Object.fromEntries(stat.map((r) => [r.name, r]));
    const issueObjects = objects.filter((o) => o.tbl === "issues");
    const perIssue = (bytes) => round(bytes / issues.n, 1);
    const parts = issueObjects
      .map((o) => ({ name: o.name, type: o.type, bytes: byName[o.name]?.bytes ?? 0, payload: byName[o.name]?.payload ?? 0 }))
      .sort((a, b) => b.bytes - a.bytes)
      .map((p) => ({ ...p, perIssue: perIssue(p.bytes) }));
    const issuesBytes = parts.reduce((a, p) => a + p.bytes, 0);
    const otherBytes = stat.filter((r) => !issueObjects.some((o) => o.name === r.name)).reduce((a, r) => a + r.bytes, 0);
    // Comments (table + its indexes), when the import brought any.
    const commentCount = objects.some((o) => o.name === "comments") ? db.prepare("SELECT count(*) AS n, avg(length(body)) AS body FROM comments").get() : { n: 0, body: null };
    const commentParts = objects
      .filter((o) => o.tbl === "comments")
      .map((o) => ({ name: o.name, bytes: byName[o.name]?.bytes ?? 0 }))
      .sort((a, b) => b.bytes - a.bytes);
    const commentBytes = commentParts.reduce((a, p) => a + p.bytes, 0);
    results.storage.push({
      label,
      issues: issues.n,
      avgChars: { title: round(issues.title, 1), body: round(issues.body, 1), base: round(issues.base, 1), labelsAndAssignees: round(issues.lists, 1) },
      pageSize,
      pageCount,
      databaseBytes: pageSize * pageCount,
      fileBytes: statSync(file).size,
      issuesBytes,
      otherBytes,
      bytesPerIssue: perIssue(issuesBytes),
      parts,
      comments:
        commentCount.n > 0
          ? { n: commentCount.n, avgBodyChars: round(commentCount.body, 1), bytes: commentBytes, bytesPerComment: round(commentBytes / commentCount.n, 1), parts: commentParts.map((p) => ({ name: p.name, perComment: round(p.bytes / commentCount.n, 1) })) }
          : null,
    });
    log(`  storage: ${fmt(issues.n)} issues, ${round((pageSize * pageCount) / 2 ** 20, 1)} MiB database, ${perIssue(issuesBytes)} bytes per issue (table + indexes)`);
  } finally {
    db.close();
  }
}

// ---------- 3: webhook ingest ----------

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function load(url, deliveries, concurrency) {
  const latencies = [];
  const statuses = {};
  let next = 0;
  const start = performance.now();
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= deliveries.length) return;
      const d = deliveries[i];
      const t = performance.now();
      let status = "error";
      try {
        const res = await fetch(url, { method: d.method ?? "POST", headers: d.headers, body: d.body, signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        status = res.status;
      } catch (err) {
        status = err.name ?? "error";
      }
      latencies.push(performance.now() - t);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const ms = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return { count: deliveries.length, ms: round(ms), perSec: round(deliveries.length / (ms / 1000)), p50: round(percentile(latencies, 50), 2), p99: round(percentile(latencies, 99), 2), statuses };
}

/** Waits until the worker's background work (queue → DO applies) stops touching D1, bounded. */
async function quiesce(worker, { timeoutMs = 120_000 } = {}) {
  let last = -1;
  let stableSince = Date.now();
  await waitFor(
    "the worker to go quiet",
    async () => {
      const { statements } = await benchStats(worker);
      if (statements !== last) {
        last = statements;
        stableSince = Date.now();
      }
      return Date.now() - stableSince > 2_500;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

async function webhookSection(ctx) {
  const { count, warmup, concurrency } = plan.webhooks;
  log(`webhook ingest: ${count} signed GitHub "issues" deliveries at concurrency ${concurrency}, ours vs @octokit/webhooks`);
  const n = plan.imports[0];
  // The same items serve.ts seeded, so every delivery names an issue the worker imported.
  const gh = new FakeTracker("github", { baseUrl: ctx.fake.origin });
  gh.seed(n, { pullRequestEvery: PR_EVERY });
  const numbers = gh.store.visible().filter((i) => i.kind === "issue").map((i) => i.number);
  // Every body unique: the edge drops a delivery whose body it has already stored (body-hash dedupe,
  // GitHub's redeliveries), so the warm-up and the measured load must not repeat each other.
  const make = async (k, tag) => {
    const out = [];
    for (let i = 0; i < k; i++) {
      const w = await gh.webhook("edited", numbers[i % numbers.length], { changes: { title: { from: `before (${tag} ${i})` } } });
      out.push({ headers: w.headers, body: w.body });
    }
    return out;
  };
  const warm = await make(warmup, "warm-up");
  const deliveries = await make(count, "load");

  const dir = makeTempDir("syndarix-bench-octokit-");
  const port = await freePort();
  await startNodeScript(join(ROOT, "bench", "octokit-server.mjs"), [String(port), "webhook-secret-for-tests-0001"], { dir, port });
  const theirsUrl = `http://127.0.0.1:${port}/webhook`;
  const oursUrl = `${ctx.worker.origin}/webhooks/github/${ctx.project.id}`;

  await quiesce(ctx.worker);
  await load(oursUrl, warm, concurrency);
  await load(theirsUrl, warm, concurrency);
  await quiesce(ctx.worker);
  await benchReset(ctx.worker);
  const ours = await load(oursUrl, deliveries, concurrency);
  const edgeD1 = await benchStats(ctx.worker);
  // Let the queue consumer finish applying before the reference runs, so it gets the CPU alone too.
  const applyStart = performance.now();
  await quiesce(ctx.worker);
  const applyMs = performance.now() - applyStart;
  const theirs = await load(theirsUrl, deliveries, concurrency);
  // Where the time goes: the same deliveries on a worker whose sync-jobs queue has no consumer (the
  // edge alone, nothing applied behind it), and wrangler dev's own floor (GET /health, no D1).
  const health = await load(`${ctx.worker.origin}/health`, deliveries.map(() => ({ method: "GET" })), concurrency);
  const edgeWorker = await startWorker({ label: "webhook-edge", entry: ENTRY, withoutConsumers: ["syndarix-sync-jobs", "syndarix-sync-jobs-dlq"] });
  // Since the hand-off (issue 26) the edge applies through the Durable Object after answering: switched
  // off here, so this line measures the edge alone (verify, store, answer; nothing applied or queued).
  await fetch(`${edgeWorker.origin}/__bench/no-handoff`, { method: "POST", signal: AbortSignal.timeout(30_000) });
  const edgeProject = await edgeWorker.api.createProject({ name: "bench webhooks", apiBaseUrl: ctx.fake.origin });
  const edgeUrl = `${edgeWorker.origin}/webhooks/github/${edgeProject.id}`;
  await load(edgeUrl, warm, concurrency);
  await benchReset(edgeWorker);
  const edgeOnly = await load(edgeUrl, deliveries, concurrency);
  const edgeStats = await benchStats(edgeWorker);
  if (edgeStats.roundTrips < count) results.notes.push(`The edge-only worker's counters saw ${edgeStats.roundTrips} D1 round trips for ${count} deliveries: its isolate was restarted during the load, so its D1 line is incomplete.`);
  edgeOnly.d1 = { roundTrips: edgeStats.roundTrips, avgMsPerCall: round(edgeStats.d1Ms / edgeStats.roundTrips, 2), queueCalls: edgeStats.queueCalls };
  await edgeWorker.stop();
  const accepted = ours.statuses[202] ?? 0;
  if (accepted !== count) throw new Error(`expected ${count} deliveries accepted (202), got ${JSON.stringify(ours.statuses)}`);
  if ((theirs.statuses[200] ?? 0) !== count) throw new Error(`@octokit/webhooks answered ${JSON.stringify(theirs.statuses)}`);
  results.webhooks = {
    count,
    concurrency,
    ours,
    edgeOnly,
    health,
    theirs,
    ratio: { throughput: round(ours.perSec / theirs.perSec, 2), p50: round(ours.p50 / theirs.p50, 2), p99: round(ours.p99 / theirs.p99, 2) },
    oursD1DuringIngest: { statements: edgeD1.statements, roundTrips: edgeD1.roundTrips, queueMessages: edgeD1.queueMessages },
    applyTailMs: round(applyMs),
  };
  if ((edgeOnly.statuses[202] ?? 0) !== count) throw new Error(`edge-only worker answered ${JSON.stringify(edgeOnly.statuses)}`);
  log(`  edge only (no consumer) ${edgeOnly.perSec}/s p50 ${edgeOnly.p50} ms; wrangler dev GET /health ${health.perSec}/s p50 ${health.p50} ms`);
  log(`  ours ${ours.perSec}/s p50 ${ours.p50} ms p99 ${ours.p99} ms; theirs ${theirs.perSec}/s p50 ${theirs.p50} ms p99 ${theirs.p99} ms`);
}

// ---------- 3b: freshness (issue 26): signed delivery → change visible in GET …/issues/:id ----------

/**
 * Open-loop load: delivery i is sent at t0 + i / rate (not when the previous one finished). Its
 * freshness is the time from sending it to the first answer of one watcher that follows the
 * project's activity stream (`GET …/activity?kind=issue.updated&after=<cursor>`, every POLL_MS) and
 * finds the change's new title: the entry commits in the same D1 batch as the issue row, so that is
 * when `GET …/issues/:id` shows it. An upper bound, within POLL_MS plus one request. One watcher, not
 * a poller per delivery, and each poll returns only the new entries: watching costs a fixed
 * ~1,000 / POLL_MS small requests per second whatever the rate.
 */
const FRESHNESS_PLAN = QUICK ? { rates: [5, 50], seconds: 4 } : { rates: [5, 50], seconds: 10 };
const POLL_MS = 20;

async function freshnessSection(ctx) {
  const n = plan.imports[0];
  const gh = new FakeTracker("github", { baseUrl: ctx.fake.origin });
  gh.seed(n, { pullRequestEvery: PR_EVERY });
  const numbers = gh.store.visible().filter((i) => i.kind === "issue").map((i) => i.number);
  const api = ctx.worker.api;
  const url = `${ctx.worker.origin}/webhooks/github/${ctx.project.id}`;
  results.freshness = { pollMs: POLL_MS, rates: [] };
  let offset = 0;
  for (const rate of FRESHNESS_PLAN.rates) {
    const count = rate * FRESHNESS_PLAN.seconds;
    log(`freshness: ${count} signed deliveries at ${rate}/s (open loop), each until its change is listed`);
    const jobs = [];
    for (let i = 0; i < count; i++) {
      const number = numbers[(offset + i) % numbers.length];
      const title = `fresh ${rate}/s #${i} ${Date.now()}`;
      gh.edit(number, { title });
      const w = await gh.webhook("edited", number);
      jobs.push({ title, headers: w.headers, body: w.body, sent: null, visible: null });
    }
    offset += count;
    await quiesce(ctx.worker);
    await benchReset(ctx.worker);
    const statuses = {};
    // The watcher follows the project's activity stream from its current end: the issue.updated entry
    // commits in the same batch as the issue's new title, so it is visible exactly when GET /issues/:id is.
    const feed = `/api/v1/projects/${ctx.project.id}/activity?kind=issue.updated&limit=500`;
    let cursor = null;
    for (let guard = 0; guard < 10_000; guard++) {
      const page = await api.get(`${feed}${cursor ? `&after=${cursor}` : ""}`);
      cursor = page.nextCursor ?? page.tailCursor ?? cursor;
      if (page.items.length === 0) break;
    }
    const byTitle = new Map(jobs.map((j) => [j.title, j]));
    let sentAll = false;
    const watcher = (async () => {
      const deadline = performance.now() + 120_000;
      while (performance.now() < deadline) {
        const page = await api.get(`${feed}${cursor ? `&after=${cursor}` : ""}`);
        const at = performance.now();
        cursor = page.nextCursor ?? page.tailCursor ?? cursor;
        for (const entry of page.items) {
          const job = byTitle.get(entry.changes?.title?.after);
          if (job && job.sent !== null && job.visible === null) job.visible = at;
        }
        if (sentAll && jobs.every((j) => j.visible !== null)) return;
        if (page.items.length < 500) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      throw new Error(`freshness: ${jobs.filter((j) => j.visible === null).length} changes never became visible`);
    })();
    const t0 = performance.now();
    await Promise.all(
      jobs.map(async (job, i) => {
        const due = t0 + (i * 1000) / rate;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
        job.sent = performance.now();
        const res = await fetch(url, { method: "POST", headers: job.headers, body: job.body, signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }),
    );
    const sendMs = performance.now() - t0;
    sentAll = true;
    await watcher;
    const visibleMs = jobs.map((j) => j.visible - j.sent);
    await quiesce(ctx.worker);
    const stats = await benchStats(ctx.worker);
    visibleMs.sort((a, b) => a - b);
    const entry = {
      rate,
      count,
      achievedPerSec: round(count / (sendMs / 1000), 1),
      p50: round(percentile(visibleMs, 50), 1),
      p95: round(percentile(visibleMs, 95), 1),
      p99: round(percentile(visibleMs, 99), 1),
      max: round(visibleMs.at(-1), 1),
      statuses,
      // The watcher's list requests write nothing; the worker was quiet before the phase.
      rowsWrittenPerDelivery: round(stats.rowsWritten / count, 2),
      d1RoundTripsPerDelivery: round(stats.roundTrips / count, 2),
      queueMessages: stats.queueMessages,
    };
    results.freshness.rates.push(entry);
    log(`  ${rate}/s: p50 ${entry.p50} ms, p99 ${entry.p99} ms, max ${entry.max} ms; ${entry.rowsWrittenPerDelivery} rows written per delivery; ${entry.queueMessages} queue messages`);
  }

  // Rows written per push: local edits through the API, each pushed to the fake tracker.
  const pushes = QUICK ? 20 : 50;
  await quiesce(ctx.worker);
  await benchReset(ctx.worker);
  for (let i = 0; i < pushes; i++) {
    const number = numbers[(offset + i) % numbers.length];
    const page = await api.get(`/api/v1/projects/${ctx.project.id}/issues?externalNumber=${number}&state=all`);
    await api.patch(`/api/v1/projects/${ctx.project.id}/issues/${page.items[0].id}`, { body: `edited locally ${i}` });
  }
  await quiesce(ctx.worker);
  const pushStats = await benchStats(ctx.worker);
  results.freshness.push = { count: pushes, rowsWrittenPerPush: round(pushStats.rowsWritten / pushes, 2), d1RoundTripsPerPush: round(pushStats.roundTrips / pushes, 2) };
  log(`  ${pushes} local edits pushed: ${results.freshness.push.rowsWrittenPerPush} rows written per edit + push`);
}

// ---------- 6: event subscriptions ----------

/**
 * A subscriber on 127.0.0.1 (node:http, answers 204 at once) subscribed to `issue.*` of one project.
 * (a) A first import of EVENTS_PLAN.import items: every issue.created must arrive exactly once;
 * sustained events/s is counted between the first and the last arrival, and change → received is
 * arrival minus the event's own timestamp (the activity entry's commit time; both clocks are this
 * machine's). (b) Then EVENTS_PLAN.steady signed GitHub `issues.edited` webhooks, one at a time:
 * POST → the subscriber has the issue.updated, the path a tracker change takes in production.
 */
async function eventsSection() {
  const n = EVENTS_PLAN.import;
  log(`event subscriptions: import of ${n.toLocaleString("en")} items with a subscriber, then ${EVENTS_PLAN.steady} single webhook changes`);
  const dir = makeTempDir("syndarix-bench-events-");
  const fake = await startFakeServer({ issues: n, dir });
  const arrivals = new Map();
  let duplicates = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = Date.now();
      const id = req.headers["webhook-id"];
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (arrivals.has(id)) duplicates++;
      else arrivals.set(id, { at, timestamp: Date.parse(body.timestamp), type: body.type, issueId: body.data.issue?.id ?? null });
      res.writeHead(204).end();
    });
  });
  const rport = await freePort();
  await new Promise((resolve) => server.listen(rport, "127.0.0.1", resolve));
  const worker = await startWorker({ label: "events", entry: ENTRY, vars: { ALLOW_INSECURE_TRACKER_HOSTS: `127.0.0.1:${rport}` } });
  try {
    const project = await worker.api.createProject({ name: "bench events", apiBaseUrl: fake.origin });
    await worker.api.post("/api/v1/subscriptions", { url: `http://127.0.0.1:${rport}/hook`, eventTypes: ["issue.*"], projectIds: [project.id], payload: "full" });
    const expected = n - Math.floor(n / PR_EVERY);
    const start = Date.now();
    const { runId } = await worker.api.startSync(project.id, "full");
    const run = await worker.api.waitRun(runId, { timeoutMs: IMPORT_TIMEOUT_MS[n] ?? 600_000 });
    if (run.status !== "succeeded") throw new Error(`the import run failed: ${run.error}`);
    const importMs = Date.now() - start;
    const created = () => [...arrivals.values()].filter((a) => a.type === "issue.created");
    await waitFor(`${expected} issue.created events at the subscriber`, async () => created().length >= expected, { timeoutMs: 600_000, intervalMs: 250 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const got = created();
    const ats = got.map((a) => a.at).sort((a, b) => a - b);
    const lag = got.map((a) => a.at - a.timestamp).sort((a, b) => a - b);
    const spanMs = ats[ats.length - 1] - ats[0];
    const importRow = {
      n,
      expected,
      received: got.length,
      duplicates,
      importMs,
      lastEventMs: ats[ats.length - 1] - start,
      perSec: round(got.length / Math.max(0.001, spanMs / 1000)),
      p50: round(percentile(lag, 50)),
      p99: round(percentile(lag, 99)),
    };
    log(`  import: ${got.length}/${expected} events, ${duplicates} duplicates, ${importRow.perSec}/s, change → received p50 ${importRow.p50} ms p99 ${importRow.p99} ms`);

    // (b) one change at a time, from the webhook POST to the subscriber.
    await quiesce(worker);
    const gh = new FakeTracker("github", { baseUrl: fake.origin });
    gh.seed(n, { pullRequestEvery: PR_EVERY });
    const numbers = gh.store.visible().filter((i) => i.kind === "issue").map((i) => i.number);
    const latencies = [];
    for (let i = 0; i < EVENTS_PLAN.steady; i++) {
      const number = numbers[i % numbers.length];
      gh.edit(number, { title: `edited for the events bench ${i}` });
      const w = await gh.webhook("edited", number);
      const before = arrivals.size;
      const t0 = Date.now();
      const res = await fetch(`${worker.origin}/webhooks/github/${project.id}`, { method: "POST", headers: w.headers, body: w.body, signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      await waitFor("the edit's event at the subscriber", async () => [...arrivals.values()].some((a) => a.type === "issue.updated" && a.at >= t0) && arrivals.size > before, { timeoutMs: 60_000, intervalMs: 5 });
      const first = Math.min(...[...arrivals.values()].filter((a) => a.at >= t0).map((a) => a.at));
      latencies.push(first - t0);
    }
    latencies.sort((a, b) => a - b);

    // (c) one local change at a time, from the API PATCH to the subscriber.
    await quiesce(worker);
    const locals = (await worker.api.get(`/api/v1/projects/${project.id}/issues?limit=${Math.min(EVENTS_PLAN.steady, 500)}`)).items;
    const localLatencies = [];
    for (let i = 0; i < EVENTS_PLAN.steady; i++) {
      const issue = locals[i % locals.length];
      const before = arrivals.size;
      const t0 = Date.now();
      await worker.api.patch(`/api/v1/projects/${project.id}/issues/${issue.id}`, { body: `edited locally for the events bench ${i}` });
      await waitFor("the local edit's event at the subscriber", async () => [...arrivals.values()].some((a) => a.type === "issue.updated" && a.at >= t0) && arrivals.size > before, { timeoutMs: 60_000, intervalMs: 5 });
      const first = Math.min(...[...arrivals.values()].filter((a) => a.at >= t0).map((a) => a.at));
      localLatencies.push(first - t0);
    }
    localLatencies.sort((a, b) => a - b);
    results.events = {
      import: importRow,
      steady: { count: latencies.length, p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
      local: { count: localLatencies.length, p50: round(percentile(localLatencies, 50)), p99: round(percentile(localLatencies, 99)) },
      duplicates,
    };
    log(`  single changes: webhook POST → subscriber p50 ${results.events.steady.p50} ms p99 ${results.events.steady.p99} ms; local API edit → subscriber p50 ${results.events.local.p50} ms p99 ${results.events.local.p99} ms`);
  } finally {
    await worker.stop();
    server.close();
  }
}

// ---------- 4: cron fan-out ----------

async function cronSection() {
  const projects = plan.cronProjects;
  log(`cron fan-out over ${projects.toLocaleString("en")} projects (sync-jobs queue without a consumer)`);
  const worker = await startWorker({
    label: "cron",
    entry: ENTRY,
    // The dispatched jobs would start 10,000 runs (each its own Durable Object): measure the handler only.
    withoutConsumers: ["syndarix-sync-jobs", "syndarix-sync-jobs-dlq"],
    beforeStart: async (w) => {
      const rows = [];
      for (let i = 0; i < projects; i++) {
        const id = `bench-${String(i).padStart(6, "0")}`;
        rows.push(`('${id}','bench ${i}','github','http://127.0.0.1:9','acme/widgets','inbound',1,'v1.dummy.dummy','v1.dummy.dummy')`);
      }
      const statements = [];
      for (let i = 0; i < rows.length; i += 500) {
        statements.push(
          `INSERT INTO projects (id, name, provider, api_base_url, repository, sync_direction, sync_enabled, token_enc, webhook_secret_enc) VALUES\n${rows.slice(i, i + 500).join(",\n")};`,
        );
      }
      const file = join(w.dir, "projects.sql");
      writeFileSync(file, statements.join("\n"));
      await w.executeFile(file);
    },
  });
  const runs = [];
  for (let i = 0; i < plan.cronRepeats; i++) {
    const seen = worker.lines.length;
    const start = performance.now();
    const res = await fetch(`${worker.origin}/__scheduled?cron=${encodeURIComponent("*/5 * * * *").replace(/%20/g, "+")}`, { signal: AbortSignal.timeout(120_000) });
    await res.text();
    const httpMs = performance.now() - start;
    if (!res.ok) throw new Error(`/__scheduled answered ${res.status}`);
    const line = (msg) =>
      worker.lines
        .slice(seen)
        .map((l) => {
          const at = l.indexOf("{");
          try {
            return at >= 0 ? JSON.parse(l.slice(at)) : null;
          } catch {
            return null;
          }
        })
        .find((o) => o?.msg === msg);
    const [dispatched, bench] = await waitFor("the cron log lines", async () => {
      const d = line("cron dispatched");
      const b = line("bench scheduled");
      return d && b ? [d, b] : null;
    }, { timeoutMs: 30_000 });
    if (dispatched.projects !== projects) throw new Error(`cron dispatched ${dispatched.projects} projects, expected ${projects}`);
    runs.push({ httpMs: round(httpMs), handlerMs: bench.ms, projects: dispatched.projects, sends: dispatched.sends, queueMessages: bench.queueMessages, d1RoundTrips: bench.d1RoundTrips, d1Statements: bench.d1Statements });
    log(`  run ${i + 1}: handler ${bench.ms} ms, ${dispatched.sends} sendBatch calls, ${bench.queueMessages} messages, ${bench.d1RoundTrips} D1 round trips`);
  }
  results.cron = { projects, runs };
  await worker.stop();
}

// ---------- report ----------

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}
const fmt = (n) => (n === null || n === undefined ? "–" : n.toLocaleString("en"));

function report() {
  const m = results.machine;
  const out = [];
  out.push(`Run: ${results.date.slice(0, 10)} (${results.date}), ${results.quick ? "quick" : "full"} run of \`npm run bench${results.quick ? " -- --quick" : ""}\`.`);
  out.push(`Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}. Everything (fake tracker, wrangler dev/workerd, load generator) on 127.0.0.1 of this one machine. Load average (1/5/15 min) at start ${m.loadAtStart.join(" / ")}, at end ${m.loadAtEnd?.join(" / ") ?? "?"}: other work on the machine shows up as noise.`);
  out.push("");
  out.push("### 1. Full import (github, 1 in 7 listed items an open pull request: stored as a pull request, its closing references read per listing page)");
  out.push("");
  out.push("| listed items | issues stored | wall time | issues/s | tracker requests (run / fake / minimum: offset paging, keyset scan) | floor: plain fetch of the listing | import ÷ floor | D1 round trips / statements per 1,000 issues | D1 rows written per 1,000 issues | workerd RSS idle → peak | CPU s (workerd / fake) |");
  out.push("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of results.imports) {
    if (!r.finished) {
      out.push(`| ${fmt(r.n)} | ${fmt(r.created)} so far | did not finish (${fmtMs(r.elapsedMs)}) | ${fmt(r.issuesPerSec)} | – | – | – | – | – | peak ${round(r.memory.peakRssMiB, 1)} MiB | – |`);
      continue;
    }
    out.push(
      `| ${fmt(r.n)}${r.comments ? ` + ${fmt(r.comments)} comments` : ""}${r.latencyMs ? `, tracker latency ${r.latencyMs} ms` : ""} | ${fmt(r.issues)}${r.comments ? ` + ${fmt(r.commentsStored)} comments` : ""} | ${fmtMs(r.wallMs)} | ${fmt(r.issuesPerSec)} | ${r.trackerRequests.run} / ${r.trackerRequests.fake} / ${r.trackerRequests.minimum}, ${r.trackerRequests.keysetMinimum ?? "–"}${r.trackerRequests.closingReferences ? ` (of which ${r.trackerRequests.closingReferences} closing-reference queries)` : ""} | ${fmtMs(r.floor.ms)} (${r.floor.requests} requests) | ${r.floor.ratio}× | ${r.d1.per1k.roundTrips} / ${r.d1.per1k.statements} | ${fmt(r.d1.per1k.rowsWritten)} | ${r.memory.idleRssMiB} → ${r.memory.peakRssMiB} MiB | ${r.cpuSeconds.workerd} / ${r.cpuSeconds.fake} |`,
    );
  }
  out.push("");
  for (const r of results.imports.filter((x) => x.finished)) {
    if (r.comments) {
      out.push(`- ${fmt(r.n)} + ${fmt(r.comments)} comments (GitHub): minimum requests ${r.trackerRequests.minimum} = ceil(${fmt(r.n)}/100) + ceil(${fmt(r.comments)}/100) with offset pages; the run's two keyset scans (issues, then the repository-wide comment listing) repeat one boundary item per page, so their minimum is ${r.trackerRequests.keysetMinimum} = ${keysetPages(r.n)} + ${keysetPages(r.comments)}. Floor ${fmtMs(r.floor.ms)} = issues ${fmtMs(r.floor.issuesMs)} + comments ${fmtMs(r.floor.commentsMs)} (${fmt(r.floor.comments)} comments by \`Link\`). Import ÷ floor **${r.floor.ratio}×** (goal ≤ 1.5×).`);
    }
    out.push(`- ${fmt(r.n)}${r.comments ? " + comments" : r.latencyMs ? ", latency" : ""}: tracker requests by route ${JSON.stringify(r.trackerRequests.byRoute ?? {})}; run stats ${JSON.stringify(r.stats)}; server-side run time ${fmtMs(r.serverMs)}; D1 totals: ${fmt(r.d1.roundTrips)} round trips, ${fmt(r.d1.statements)} statements (${fmt(r.d1.batches)} batches), ${fmt(r.d1.rowsWritten)} rows written, ${fmtMs(r.d1.d1Ms)} awaiting D1; by caller ${JSON.stringify(r.d1.bySource)}.`);
  }
  out.push("");
  out.push("### 2. Incremental runs after an import (issues edited through the fake's /__control/edit)");
  out.push("");
  out.push("| project size | changed issues | wall time (run start → finish) | tracker requests (run / fake, of which 304) | items fetched | updated | D1 round trips / statements | time awaiting D1 |");
  out.push("|---|---|---|---|---|---|---|---|");
  for (const r of results.incremental) {
    out.push(`| ${fmt(r.project)} | ${r.changed} | ${fmtMs(r.wallMs)} (${fmtMs(r.serverMs)}) | ${r.requests} / ${r.fakeRequests}, ${r.notModified} | ${r.fetched} | ${r.updated} | ${r.d1RoundTrips} / ${r.d1Statements} | ${fmtMs(r.d1Ms)} |`);
  }
  out.push("");
  if (results.webhooks) {
    const w = results.webhooks;
    out.push(`### 3. Webhook ingest: ${fmt(w.count)} signed GitHub \`issues\` deliveries, concurrency ${w.concurrency}`);
    out.push("");
    out.push("| server | requests/s | p50 | p99 | answers |");
    out.push("|---|---|---|---|---|");
    out.push(`| ours: wrangler dev, POST /webhooks/github/:id (verify, D1 round trips and queue sends as counted below) | ${w.ours.perSec} | ${w.ours.p50} ms | ${w.ours.p99} ms | ${JSON.stringify(w.ours.statuses)} |`);
    out.push(`| ours, edge only: same, on a worker with the hand-off switched off and no sync-jobs consumer (nothing applied or queued behind it) | ${w.edgeOnly.perSec} | ${w.edgeOnly.p50} ms | ${w.edgeOnly.p99} ms | ${JSON.stringify(w.edgeOnly.statuses)} |`);
    out.push(`| wrangler dev floor: GET /health (no D1, no crypto) | ${w.health.perSec} | ${w.health.p50} ms | ${w.health.p99} ms | ${JSON.stringify(w.health.statuses)} |`);
    out.push(`| @octokit/webhooks createNodeMiddleware on node:http (verify, parse, dispatch) | ${w.theirs.perSec} | ${w.theirs.p50} ms | ${w.theirs.p99} ms | ${JSON.stringify(w.theirs.statuses)} |`);
    out.push(`| **ours ÷ wrangler dev floor** | **${round(w.ours.perSec / w.health.perSec, 2)}×** | ${round(w.ours.p50 / w.health.p50, 2)}× | ${round(w.ours.p99 / w.health.p99, 2)}× | |`);
    out.push(`| **ours, edge only ÷ wrangler dev floor** | **${round(w.edgeOnly.perSec / w.health.perSec, 2)}×** | ${round(w.edgeOnly.p50 / w.health.p50, 2)}× | ${round(w.edgeOnly.p99 / w.health.p99, 2)}× | |`);
    out.push(`| ours ÷ theirs | ${w.ratio.throughput}× | ${w.ratio.p50}× | ${w.ratio.p99}× | |`);
    out.push(`| ours, edge only ÷ theirs | ${round(w.edgeOnly.perSec / w.theirs.perSec, 2)}× | ${round(w.edgeOnly.p50 / w.theirs.p50, 2)}× | ${round(w.edgeOnly.p99 / w.theirs.p99, 2)}× | |`);
    out.push("");
    out.push(`Edge only: ${fmt(w.edgeOnly.d1.roundTrips)} D1 round trips for ${fmt(w.count)} deliveries (${round(w.edgeOnly.d1.roundTrips / w.count, 2)} each), ${w.edgeOnly.d1.avgMsPerCall} ms per D1 call on average under this load, ${fmt(w.edgeOnly.d1.queueCalls)} queue sends.`);
    out.push(`During our ingest the counters saw ${fmt(w.oursD1DuringIngest.roundTrips)} D1 round trips and ${fmt(w.oursD1DuringIngest.queueMessages)} queue messages (this includes the queue consumer/DO applying deliveries in the background while the load ran); the background applies then needed ${fmtMs(w.applyTailMs)} more to drain before the reference was measured.`);
    out.push("");
  }
  if (results.freshness) {
    const f = results.freshness;
    out.push(`### 3b. Freshness: signed delivery sent → change visible in \`GET …/issues/:id\` (open loop; one watcher follows the activity stream every ${f.pollMs} ms)`);
    out.push("");
    out.push("| rate | deliveries | achieved/s | p50 | p95 | p99 (goal ≤ 300 ms) | max | answers | D1 rows written per delivery | D1 round trips per delivery (the watcher's list requests included) | queue messages |");
    out.push("|---|---|---|---|---|---|---|---|---|---|---|");
    for (const r of f.rates) {
      out.push(`| ${r.rate}/s | ${r.count} | ${r.achievedPerSec} | ${r.p50} ms | ${r.p95} ms | **${r.p99} ms** | ${r.max} ms | ${JSON.stringify(r.statuses)} | ${r.rowsWrittenPerDelivery} | ${r.d1RoundTripsPerDelivery} | ${r.queueMessages} |`);
    }
    if (f.push) out.push(`\nLocal edits through the API, each pushed to the tracker: ${f.push.rowsWrittenPerPush} D1 rows written and ${f.push.d1RoundTripsPerPush} round trips per edit + push (${f.push.count} edits).`);
    out.push("");
  }
  if (results.cron) {
    const c = results.cron;
    out.push(`### 4. Cron fan-out (\`*/5 * * * *\`, incremental) over ${fmt(c.projects)} enabled projects`);
    out.push("");
    out.push("| trigger | scheduled handler | /__scheduled HTTP | projects | sendBatch calls | messages | D1 round trips |");
    out.push("|---|---|---|---|---|---|---|");
    c.runs.forEach((r, i) => out.push(`| ${i + 1} | ${fmtMs(r.handlerMs)} | ${fmtMs(r.httpMs)} | ${fmt(r.projects)} | ${r.sends} | ${fmt(r.queueMessages)} | ${r.d1RoundTrips} |`));
    out.push("");
  }
  if (results.storage.length > 0) {
    out.push("### 5. Storage after the imports (local D1 file, SQLite dbstat: whole pages, free space included)");
    out.push("");
    out.push("| import | issues | database (page_size × page_count) | issues table + its indexes | bytes per issue | of which (bytes per issue) | rest of the database | average title / body / base / labels+assignees chars |");
    out.push("|---|---|---|---|---|---|---|---|");
    const commentStorage = [];
    for (const st of results.storage) {
      const parts = st.parts.map((p) => `${p.name} ${p.perIssue}`).join(", ");
      if (st.comments) commentStorage.push(`- ${st.label}: ${fmt(st.comments.n)} comments, comments table + its indexes ${round(st.comments.bytes / 2 ** 20, 1)} MiB = **${st.comments.bytesPerComment} bytes per comment** (${st.comments.parts.map((p) => `${p.name} ${p.perComment}`).join(", ")}); average body ${st.comments.avgBodyChars} chars.`);
      out.push(`| ${st.label} | ${fmt(st.issues)} | ${round(st.databaseBytes / 2 ** 20, 1)} MiB (${st.pageSize} × ${fmt(st.pageCount)}) | ${round(st.issuesBytes / 2 ** 20, 1)} MiB | ${st.bytesPerIssue} | ${parts} | ${round(st.otherBytes / 2 ** 20, 2)} MiB | ${st.avgChars.title} / ${st.avgChars.body} / ${st.avgChars.base} / ${st.avgChars.labelsAndAssignees} |`);
    }
    out.push("");
    if (commentStorage.length > 0) {
      out.push(...commentStorage);
      out.push("");
    }
  }
  if (results.events) {
    const e = results.events;
    const floor = results.webhooks ? `${results.webhooks.edgeOnly.p50} ms / ${results.webhooks.edgeOnly.p99} ms` : "– (run with the webhooks section)";
    out.push(`### 6. Event subscriptions: one subscriber on 127.0.0.1 (answers 204 at once), \`issue.*\`, full payloads`);
    out.push("");
    out.push("| what | events | received (duplicates) | sustained events/s | change → subscriber p50 | p99 | webhook-ingest floor p50 / p99 (edge only, section 3) |");
    out.push("|---|---|---|---|---|---|---|");
    out.push(`| first import of ${fmt(e.import.n)} listed items (import ${fmtMs(e.import.importMs)}, last event ${fmtMs(e.import.lastEventMs)} after the start) | ${fmt(e.import.expected)} issue.created | ${fmt(e.import.received)} (${e.import.duplicates}) | ${e.import.perSec} | ${fmtMs(e.import.p50)} | ${fmtMs(e.import.p99)} | |`);
    out.push(`| single tracker changes, one at a time: signed webhook POST → issue.updated at the subscriber | ${e.steady.count} | ${e.steady.count} | – | ${fmtMs(e.steady.p50)} | ${fmtMs(e.steady.p99)} | ${floor} |`);
    if (e.local) out.push(`| single local changes, one at a time: API PATCH → issue.updated at the subscriber (the push to the tracker runs beside it) | ${e.local.count} | ${e.local.count} | – | ${fmtMs(e.local.p50)} | ${fmtMs(e.local.p99)} | – |`);
    out.push("");
    out.push("During the import, change → subscriber is measured from each event's own timestamp (the commit of its activity entry), so it includes the wait behind the import's backlog; a dispatcher round sends at most 25 events, 5 at a time, then takes a fresh alarm.");
    out.push("");
  }
  if (results.notes.length > 0) {
    out.push("Notes from this run:");
    for (const n of results.notes) out.push(`- ${n}`);
  }
  return out.join("\n");
}

function writeReport(text) {
  const outDir = join(ROOT, "bench", "out");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, QUICK ? "quick.json" : ONLY ? "partial.json" : "results.json"), JSON.stringify(results, null, 2));
  if (QUICK || ONLY) {
    const name = QUICK ? "quick.md" : "partial.md";
    writeFileSync(join(outDir, name), `${text}\n`);
    return join(outDir, name);
  }
  const file = join(ROOT, "bench", "RESULTS.md");
  const begin = "<!-- bench:begin (generated by npm run bench; edits between these markers are overwritten) -->";
  const end = "<!-- bench:end -->";
  const existing = existsSync(file) ? readFileSync(file, "utf8") : `# Benchmark results\n\n${begin}\n${end}\n`;
  const a = existing.indexOf("<!-- bench:begin");
  const b = existing.indexOf(end);
  const next = a >= 0 && b > a ? `${existing.slice(0, a)}${begin}\n${text}\n${existing.slice(b)}` : `${existing}\n${begin}\n${text}\n${end}\n`;
  writeFileSync(file, next);
  return file;
}

await main(async () => {
  const started = performance.now();
  log(`${QUICK ? "quick" : "full"} run on ${results.machine.cpus} CPUs (${results.machine.cpuModel}), Node ${results.machine.node}`);
  if (wanted("import") || wanted("webhooks") || wanted("freshness")) {
    const first = await importSection(plan.imports[0], { withIncremental: wanted("import") });
    if (first && wanted("webhooks")) await webhookSection(first);
    if (first && wanted("freshness")) await freshnessSection(first);
    await first?.worker.stop();
    if (first) await measureStorage(first.worker, fmt(plan.imports[0]));
  }
  if (wanted("cron")) await cronSection();
  for (const n of wanted("large") ? plan.imports.slice(1) : []) {
    const section = await importSection(n, { withIncremental: false });
    await section?.worker.stop();
    if (section) await measureStorage(section.worker, fmt(n));
  }
  if (wanted("latency")) {
    // The same 10,000 import against a tracker that waits LATENCY_MS per request (a network round
    // trip, not CPU): the production-like case where the next fetch can hide the apply.
    const section = await importSection(plan.imports[0], { withIncremental: false, latencyMs: LATENCY_MS });
    await section?.worker.stop();
    for (const n of LATENCY_LARGE ? plan.imports.slice(1) : []) {
      const large = await importSection(n, { withIncremental: false, latencyMs: LATENCY_MS });
      await large?.worker.stop();
    }
    const comments = await importSection(COMMENTS_PLAN.issues, { withIncremental: false, comments: COMMENTS_PLAN.comments, latencyMs: LATENCY_MS });
    await comments?.worker.stop();
  }
  if (wanted("comments")) {
    const section = await importSection(COMMENTS_PLAN.issues, { withIncremental: false, comments: COMMENTS_PLAN.comments });
    await section?.worker.stop();
    if (section) await measureStorage(section.worker, `${fmt(COMMENTS_PLAN.issues)} + comments`);
  }
  if (wanted("events")) await eventsSection();
  results.machine.loadAtEnd = loadavg().map((l) => round(l, 2));
  const text = report();
  const file = writeReport(text);
  console.log(`\n${text}\n`);
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s; written to ${file}`);
});
