#!/usr/bin/env node
// Runs before every npm script (each `<name>` has a `pre<name>` calling this; test/unit/npm-scripts.test.ts
// keeps it so): on a fresh clone it installs exactly what the lock file says, so any `npm run …` works as
// the first command. Plain Node, so it runs on the system Node (20 is fine); the project's own Node 22
// arrives with the install (npm package "node") and the script itself then runs on it.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const installed = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");

/** path → version of every package the lock file lists (optional ones, e.g. other platforms' binaries, left out). */
function lockedVersions(file) {
  const packages = JSON.parse(readFileSync(file, "utf8")).packages ?? {};
  return Object.fromEntries(
    Object.entries(packages)
      .filter(([path, p]) => path.startsWith("node_modules/") && !p.optional)
      .map(([path, p]) => [path, p.version]),
  );
}

function upToDate() {
  if (!existsSync(installed) || !existsSync(join(root, "node_modules", ".bin", "node"))) return false;
  const have = lockedVersions(installed);
  return Object.entries(lockedVersions(lock)).every(([path, version]) => have[path] === version);
}

if (!upToDate()) {
  console.log("setup: installing dependencies from package-lock.json (npm ci)…");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
}
