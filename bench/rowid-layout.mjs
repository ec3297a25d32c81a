#!/usr/bin/env node
// The `issues` table as it is (a rowid table keyed by text `id`: the row + a separate primary-key
// index) against a `WITHOUT ROWID` table keyed (project_id, id), which folds the primary-key index
// and issues_project_id_idx into the table (docs/performance.md, "WITHOUT ROWID: measured").
// Both layouts are built from the real migrations (0000–0020; the second one then rebuilt the way a
// migration would), filled through the same INSERT … SELECT FROM json_each page write as
// src/db/synced-rows.ts, pages of 100, one transaction per page (a D1 batch). Measures bytes per issue
// (dbstat: whole pages, as D1 bills), insert time, a read by id, a keyset page of 50, and the
// rebuild's copy of the rowid table into the new one.
//
//   node_modules/.bin/node bench/rowid-layout.mjs [--n=100000] [--copy=1000000] [--projects=1] [--kinds=short,long]
//   (kinds: short, medium, long, long3k; --layouts=without-rowid,rowid-pk2 adds the rowid table keyed
//   (project_id, id); --reads=20000 --pages=2000 set how many reads are timed)
//
// Runs on plain Node 22 (node:sqlite), single-threaded, on temporary files it deletes at the end.
import { DatabaseSync } from "node:sqlite";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const N = Number(args.n ?? 100_000);
const COPY = Number(args.copy ?? 1_000_000);
const PROJECTS = Number(args.projects ?? 1);
const READS = Number(args.reads ?? 20_000);
const PAGES = Number(args.pages ?? 2_000);
const LAST_ROWID_MIGRATION = 20;
const LAYOUTS = ["rowid", ...(args.layouts ?? "without-rowid").split(",")];

const dir = mkdtempSync(join(tmpdir(), "rowid-layout-"));
const log = (s) => process.stdout.write(`${s}\n`);

/** Migrations 0000..0020 (the `issues` table as a rowid table), statement by statement. */
function migrationStatements() {
  const files = readdirSync(join(root, "migrations"))
    .filter((f) => /^\d{4}_.*\.sql$/.test(f) && Number(f.slice(0, 4)) <= LAST_ROWID_MIGRATION)
    .sort();
  return files.flatMap((f) =>
    readFileSync(join(root, "migrations", f), "utf8")
      .split("--> statement-breakpoint")
      .map((s) => s.trim())
      .filter((s) => s.replace(/--.*$/gm, "").trim().length > 0),
  );
}

/**
 * The rebuild into WITHOUT ROWID, in the shape drizzle-kit writes a table rebuild (`__new_issues`,
 * copy, drop, rename, indexes), derived from the live table's DDL so every column is copied.
 */
function rebuildStatements(db, withoutRowid = true) {
  const ddl = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'issues'").get().sql;
  const columns = db.prepare("SELECT name FROM pragma_table_info('issues') ORDER BY cid").all().map((c) => `\`${c.name}\``);
  if (!/`id` text PRIMARY KEY NOT NULL/.test(ddl)) throw new Error(`unexpected issues DDL: ${ddl}`);
  const created = ddl
    .replace(/^CREATE TABLE [`"]?issues[`"]?/, "CREATE TABLE `__new_issues`")
    .replace("`id` text PRIMARY KEY NOT NULL", "`id` text NOT NULL")
    .replace(/\)\s*$/, `,\n\tPRIMARY KEY(\`project_id\`, \`id\`)\n)${withoutRowid ? " WITHOUT ROWID" : ""}`);
  const indexes = db
    .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'issues' AND sql IS NOT NULL AND name <> 'issues_project_id_idx'")
    .all()
    .map((r) => r.sql);
  return [
    { what: "create", sql: created },
    { what: "copy", sql: `INSERT INTO \`__new_issues\`(${columns.join(", ")}) SELECT ${columns.join(", ")} FROM \`issues\`` },
    { what: "drop", sql: "DROP TABLE `issues`" },
    { what: "rename", sql: "ALTER TABLE `__new_issues` RENAME TO `issues`" },
    ...indexes.map((sql) => ({ what: `index ${sql.match(/INDEX [`"]?(\w+)/)[1]}`, sql })),
  ];
}

function open(name, layout) {
  const file = join(dir, `${name}.sqlite`);
  const db = new DatabaseSync(file);
  // D1's page size (bench/RESULTS.md: PRAGMA page_size = 4096).
  db.exec("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  for (const s of migrationStatements()) db.exec(s);
  // "rowid-pk2": still a rowid table, its primary key (project_id, id) instead of (id) — the separate
  // primary-key index then also serves the keyset pages: 5 entries, no overflow cliff.
  if (layout !== "rowid") for (const s of rebuildStatements(db, layout === "without-rowid")) db.exec(s.sql);
  for (let p = 0; p < PROJECTS; p++) {
    db.prepare("INSERT INTO projects (id, name, provider, api_base_url, repository, sync_direction, token_enc, webhook_secret_enc) VALUES (?, ?, 'github', 'https://api.github.com', 'acme/widgets', 'both', 'x', 'x')").run(projectId(p), `p${p}`);
  }
  return { db, file };
}

const projectId = (p) => `0190a000-0000-7000-8000-${String(p).padStart(12, "0")}`;

/** UUIDv7 like src/ids.ts: time-ordered, so a project's ids ascend with creation. */
let clock = Date.parse("2026-01-01T00:00:00Z");
function uuidv7() {
  const ms = clock++;
  const rnd = Array.from({ length: 10 }, () => Math.floor(Math.random() * 256));
  const hex = ms.toString(16).padStart(12, "0") + rnd.map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const words = "the of sync issue label when a tracker comment body page import fails retry token shard webhook run migration index row write read project".split(" ");
function text(chars, seed) {
  let s = "";
  let i = seed;
  while (s.length < chars) s += `${words[(i = (i * 1103515245 + 12345) & 0x7fffffff) % words.length]} `;
  return s.slice(0, chars);
}

/**
 * One RowWrite as synced-rows.ts binds it. `kind` short: the bench fake's sizes (~140 characters of
 * title + body + base); medium ~550; long ~1 KB; long3k ~3 KB (base repeats title and body).
 */
const SIZES = { medium: [40, 200], long: [60, 420], long3k: [80, 1_400] };
function row(n, kind) {
  if (kind !== "short" && !SIZES[kind]) throw new Error(`unknown kind ${kind}`);
  const title = kind === "short" ? `Issue ${n}` : text(SIZES[kind][0], n);
  // Bodies vary (0.5–1.5 × the kind's length) so rows do not all sit on one side of a page-fill edge.
  const body = kind === "short" ? `Body of issue ${n}.` : text(Math.round(SIZES[kind][1] * (0.5 + ((n * 7919) % 1000) / 1000)), n + 7);
  const fields = { title, body, state: "open", labels: [], assignees: [], milestone: null };
  const at = new Date(Date.parse("2025-01-01T00:00:00Z") + n * 1000).toISOString();
  return {
    id: uuidv7(),
    title,
    body,
    state: "open",
    labels: "[]",
    assignees: "[]",
    milestone: null,
    createdAt: at,
    updatedAt: at,
    externalId: String(1_000_000_000 + n),
    externalNumber: n,
    externalUrl: `https://github.com/acme/widgets/issues/${n}`,
    externalUpdatedAt: at,
    base: JSON.stringify(fields),
    baseHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    syncState: "synced",
    bodyParts: 0,
    baseParts: 0,
    closeReason: null,
  };
}

const j = (f) => `json_extract(j.value, '$.${f}')`;
// The page write of src/db/synced-rows.ts (writeSyncedRows), with the same columns and guard.
const INSERT = `
  INSERT INTO issues (id, project_id, title, body, state, labels, assignees, milestone, created_at, updated_at, version,
    external_id, external_number, external_url, external_updated_at, base, base_hash, sync_state, sync_error, deleted_at,
    body_parts, base_parts, last_seen_run_id, close_reason)
  SELECT ${j("id")}, ?1, ${j("title")}, ${j("body")}, ${j("state")}, ${j("labels")}, ${j("assignees")}, ${j("milestone")},
    ${j("createdAt")}, ${j("updatedAt")}, 1, ${j("externalId")}, ${j("externalNumber")}, ${j("externalUrl")}, ${j("externalUpdatedAt")},
    ${j("base")}, ${j("baseHash")}, ${j("syncState")}, NULL, NULL, ${j("bodyParts")}, ${j("baseParts")}, ?3, ${j("closeReason")}
  FROM json_each(?2) AS j
  WHERE EXISTS (SELECT 1 FROM projects p WHERE p.id = ?1)
  ON CONFLICT DO NOTHING
  RETURNING id`;

/** Imports `n` issues in pages of 100, the projects' pages interleaved (round-robin). */
function fill(db, n, kind) {
  const insert = db.prepare(INSERT);
  const ids = [];
  const t0 = performance.now();
  for (let start = 0; start < n; start += 100) {
    const p = (start / 100) % PROJECTS;
    const rows = [];
    for (let k = start; k < Math.min(n, start + 100); k++) rows.push(row(k + 1, kind));
    db.exec("BEGIN");
    const updatedAt = new Map(rows.map((r) => [r.id, r.updatedAt]));
    for (const r of insert.all(projectId(p), JSON.stringify(rows), "run-1")) ids.push({ projectId: projectId(p), id: r.id, updatedAt: updatedAt.get(r.id) });
    db.exec("COMMIT");
  }
  return { ids, ms: performance.now() - t0 };
}

function storage(db, n) {
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const objects = db.prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'issues' AND type IN ('table', 'index')").all().map((r) => r.name);
  const stat = db.prepare("SELECT name, sum(pgsize) AS bytes, sum(payload) AS payload FROM dbstat GROUP BY name").all();
  const parts = stat.filter((r) => objects.includes(r.name)).sort((a, b) => b.bytes - a.bytes);
  const total = parts.reduce((a, r) => a + r.bytes, 0);
  const overflow = db.prepare("SELECT count(*) AS n FROM dbstat WHERE name = 'issues' AND pagetype = 'overflow'").get().n;
  return { perIssue: total / n, parts: parts.map((r) => `${r.name} ${(r.bytes / n).toFixed(1)}`).join(", "), overflowPages: overflow };
}

function timeReads(db, ids, layout) {
  const byId =
    layout === "rowid"
      ? db.prepare("SELECT * FROM issues WHERE id = ?")
      : db.prepare("SELECT * FROM issues WHERE project_id = ? AND id = ?");
  const page = db.prepare("SELECT * FROM issues WHERE project_id = ? AND id > ? ORDER BY id LIMIT 50");
  const updated = db.prepare("SELECT * FROM issues WHERE project_id = ? AND updated_at >= ? ORDER BY updated_at, id LIMIT 50");
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  const plans = {
    byId: (layout === "rowid"
      ? db.prepare("EXPLAIN QUERY PLAN SELECT * FROM issues WHERE id = ?").all("a")
      : db.prepare("EXPLAIN QUERY PLAN SELECT * FROM issues WHERE project_id = ? AND id = ?").all("a", "b")
    ).map((r) => r.detail).join("; "),
    page: db.prepare("EXPLAIN QUERY PLAN SELECT * FROM issues WHERE project_id = ? AND id > ? ORDER BY id LIMIT 50").all("a", "b").map((r) => r.detail).join("; "),
  };
  // Warm the cache the same way for both layouts, then time.
  for (let i = 0; i < 2_000; i++) {
    const x = pick();
    layout === "rowid" ? byId.get(x.id) : byId.get(x.projectId, x.id);
  }
  let t0 = performance.now();
  for (let i = 0; i < READS; i++) {
    const x = pick();
    const r = layout === "rowid" ? byId.get(x.id) : byId.get(x.projectId, x.id);
    if (!r) throw new Error("missing row");
  }
  const byIdUs = ((performance.now() - t0) * 1000) / READS;
  t0 = performance.now();
  for (let i = 0; i < PAGES; i++) {
    const x = pick();
    page.all(x.projectId, x.id);
  }
  const pageUs = ((performance.now() - t0) * 1000) / PAGES;
  t0 = performance.now();
  for (let i = 0; i < PAGES; i++) {
    const x = pick();
    updated.all(x.projectId, x.updatedAt);
  }
  const updatedUs = ((performance.now() - t0) * 1000) / PAGES;
  return { byIdUs, pageUs, updatedUs, plans };
}

log(`rowid-layout: ${N.toLocaleString("en")} issues per case, ${PROJECTS} project(s), copy of ${COPY.toLocaleString("en")} short rows; node ${process.version}, SQLite ${new DatabaseSync(":memory:").prepare("SELECT sqlite_version() AS v").get().v}; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
const report = [];
try {
  for (const kind of (args.kinds ?? "short,long").split(",")) {
    const line = { kind };
    for (const layout of LAYOUTS) {
      const { db } = open(`${kind}-${layout}`, layout);
      const { ids, ms } = fill(db, N, kind);
      const st = storage(db, ids.length);
      const rd = timeReads(db, ids, layout);
      const avg = db.prepare("SELECT avg(length(title) + length(body) + length(base)) AS t FROM issues").get().t;
      line[layout] = { insertMs: ms, ...st, ...rd, textChars: avg };
      log(
        `${kind.padEnd(6)} ${layout.padEnd(13)} text ${avg.toFixed(0)} chars | ${st.perIssue.toFixed(1)} B/issue (${st.parts}; ${st.overflowPages} overflow pages) | insert ${(ms / 1000).toFixed(2)} s ` +
          `| by id ${rd.byIdUs.toFixed(1)} µs | keyset page of 50 ${rd.pageUs.toFixed(1)} µs | updatedSince page of 50 ${rd.updatedUs.toFixed(1)} µs`,
      );
      log(`         plans: by id: ${rd.plans.byId} | page: ${rd.plans.page}`);
      db.close();
    }
    const a = line.rowid;
    const pct = (x, y) => `${(((y - x) / x) * 100).toFixed(1)} %`;
    for (const layout of LAYOUTS.slice(1)) {
      const b = line[layout];
      log(`${kind.padEnd(6)} ${layout} vs rowid: bytes ${pct(a.perIssue, b.perIssue)}, insert ${pct(a.insertMs, b.insertMs)}, by id ${pct(a.byIdUs, b.byIdUs)}, keyset page ${pct(a.pageUs, b.pageUs)}, updatedSince page ${pct(a.updatedUs, b.updatedUs)}`);
    }
    report.push(line);
  }

  if (COPY > 0) {
    // The rebuild's cost on a large shard: COPY short rows in a rowid table, then each statement of
    // the rebuild timed on its own (D1 limits each query, not the migration, to 30 s).
    const { db } = open("copy", "rowid");
    const t0 = performance.now();
    fill(db, COPY, "short");
    log(`copy: filled ${COPY.toLocaleString("en")} short rows in ${((performance.now() - t0) / 1000).toFixed(1)} s; rebuilding:`);
    const before = db.prepare("SELECT count(*) AS n FROM issues").get().n;
    for (const s of rebuildStatements(db)) {
      const t = performance.now();
      db.exec(s.sql);
      log(`  ${s.what}: ${((performance.now() - t) / 1000).toFixed(2)} s`);
    }
    const after = db.prepare("SELECT count(*) AS n FROM issues").get().n;
    if (after !== before) throw new Error(`the rebuild kept ${after} of ${before} rows`);
    db.close();
  }
  log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
