#!/usr/bin/env node
// Shard check (`npm run check:d1`, part of `npm test`): only src/db/ touches a D1 binding. Everything
// else asks src/db/shards.ts for a database (projectDatabase, projectDatabaseById, catalogDatabase,
// allShardDatabases), so no code can read or write a project's rows in the wrong shard. Flags, outside
// src/db/: a D1 binding named in wrangler.toml (`env.DB`, `c.env.DB_SHARD_1`, `env["DB"]`), the
// `D1Database` type, and a value import of `database` from db/client (the raw binding wrapper).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
const bindings = [...toml.matchAll(/\[\[d1_databases\]\][^[]*?binding\s*=\s*"([A-Za-z0-9_]+)"/g)].map((m) => m[1]);
if (!bindings.includes("DB")) {
  console.error("check-d1-bindings: no D1 binding named DB in wrangler.toml");
  process.exit(2);
}
const rules = [
  ...bindings.map((b) => ({ re: new RegExp(`(?:\\.\\s*${b}\\b|\\[\\s*["'\`]${b}["'\`]\\s*\\])`), why: `reaches the D1 binding ${b}` })),
  { re: /\bD1Database\b/, why: "handles a D1Database" },
  { re: /import\s*\{[^}]*\bdatabase\b[^}]*\}\s*from\s*["'][^"']*db\/client["']/, why: "imports database() from db/client" },
];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(entry.name)) yield path;
  }
}

const src = join(root, "src");
const problems = [];
for (const file of files(src)) {
  const rel = relative(root, file);
  if (rel.startsWith(join("src", "db") + "/")) continue;
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((line, i) => {
    if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
    for (const { re, why } of rules) if (re.test(line)) problems.push(`${rel}:${i + 1}: ${why}; use src/db/shards.ts (projectDatabase, projectDatabaseById, catalogDatabase, allShardDatabases)`);
  });
}
// Multi-line imports: checked on the whole file too.
for (const file of files(src)) {
  const rel = relative(root, file);
  if (rel.startsWith(join("src", "db") + "/")) continue;
  const text = readFileSync(file, "utf8");
  if (rules[rules.length - 1].re.test(text) && !problems.some((p) => p.startsWith(`${rel}:`))) problems.push(`${rel}: imports database() from db/client; use src/db/shards.ts`);
}
if (problems.length > 0) {
  console.error(`check-d1-bindings: ${problems.length} place(s) outside src/db/ bypass the shard choice:\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`check-d1-bindings: no code outside src/db/ reaches a D1 binding (${bindings.join(", ")})`);
