#!/usr/bin/env node
// The layer rules as data, checked (`npm run check:layers`, part of `npm test`):
//   .dependency-cruiser.json  import rules: no circles, which layer may import which, drizzle-orm and
//                             the table objects of db/schema only inside db/ (dependency-cruiser, swc parser)
//   .source-rules.json        text rules: no SQL text / raw D1 calls outside db/, queue sends only in queue/
// Prints every finding of both and exits non-zero when there is one. Offline; about a second.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let failed = false;

// 1. Imports: dependency-cruiser (needs Node 22: the project's own, from the npm package "node").
const node22 = join(root, "node_modules", ".bin", "node");
const depcruise = join(root, "node_modules", "dependency-cruiser", "bin", "dependency-cruiser.mjs");
if (!existsSync(depcruise)) {
  console.error("check-layers: dependency-cruiser is not installed; run `npm ci` first");
  process.exit(2);
}
try {
  execFileSync(existsSync(node22) ? node22 : process.execPath, [depcruise, "src", "--config", ".dependency-cruiser.json", "--output-type", "err"], {
    cwd: root,
    stdio: "inherit",
  });
} catch (err) {
  if (typeof err.status !== "number") throw err;
  failed = true;
}

// 2. Text: the rules of .source-rules.json over src/, comments stripped.
const { rules } = JSON.parse(readFileSync(join(root, ".source-rules.json"), "utf8"));
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(ts|tsx|mts|cts)$/.test(name)) files.push(relative(root, p).split(sep).join("/"));
  }
})(join(root, "src"));

/** Source without comments (block, and line comments not inside a string such as a URL's //). */
const stripComments = (text) => text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " ")).replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");

const findings = [];
for (const file of files.sort()) {
  const text = stripComments(readFileSync(join(root, file), "utf8"));
  for (const rule of rules) {
    if (!file.startsWith(rule.scope) || rule.allowedIn.some((dir) => file.startsWith(dir))) continue;
    const lines = new Set();
    for (const pattern of rule.patterns) {
      for (const m of text.matchAll(new RegExp(pattern, "gm"))) lines.add(text.slice(0, m.index).split("\n").length);
    }
    if (lines.size > 0) findings.push(`  error ${rule.name}: ${file} (line ${[...lines].sort((a, b) => a - b).join(", ")})`);
  }
}
if (findings.length > 0) {
  failed = true;
  console.error(`\n${findings.join("\n")}\n\nx ${findings.length} source rule violations (.source-rules.json; one line per rule and file).\n`);
} else {
  console.log(`✔ no source rule violations (${rules.length} rules, ${files.length} files cruised)`);
}
process.exit(failed ? 1 : 0);
