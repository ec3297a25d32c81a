#!/usr/bin/env node
// Drift check for worker-configuration.d.ts (run by `npm test`): regenerates the Env types with the
// exact command of the `types` npm script into a temporary file beside the committed one (same
// folder, so the generated `import("./src/index")` paths match) and compares the two. Fails with the
// differing lines when wrangler.toml or .dev.vars.example changed without `npm run types`, or the file
// was edited by hand.
// Offline: `wrangler types` reads only wrangler.toml, .dev.vars.example (the secrets' names) and the
// entry path; no runtime types, no account. A developer's own .dev.vars plays no part.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const committedName = "worker-configuration.d.ts";
const tmpName = `.worker-configuration.check-${process.pid}.d.ts`;

// The one definition of the command: package.json's "types" script, e.g. `wrangler types --flag=x …`.
const script = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts?.types ?? "";
const match = /^wrangler types((?:\s+--[\w-]+(?:=\S+)?)*)\s*$/.exec(script);
if (!match) {
  console.error(`check-types: the "types" script must be \`wrangler types --option=value …\` (no path), found: ${script}`);
  process.exit(2);
}
const flags = match[1].trim().split(/\s+/).filter(Boolean);

// wrangler needs Node 22 (the project's own, from the npm package "node"), whatever node runs this.
const node22 = join(root, "node_modules", ".bin", "node");
const wranglerJs = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
if (!existsSync(wranglerJs)) {
  console.error("check-types: wrangler is not installed; run `npm ci` first");
  process.exit(2);
}

const committedPath = join(root, committedName);
const tmpPath = join(root, tmpName);
let generated;
try {
  execFileSync(existsSync(node22) ? node22 : process.execPath, [wranglerJs, "types", tmpName, ...flags], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    // CLOUDFLARE_INCLUDE_PROCESS_ENV=true would make every variable of this shell a secret of Env.
    env: { ...process.env, CLOUDFLARE_INCLUDE_PROCESS_ENV: "false", WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
    timeout: 60_000,
  });
  // The header repeats the command line, output path included; the committed one has none.
  generated = readFileSync(tmpPath, "utf8").replace(` ${tmpName}\``, "`");
} catch (err) {
  console.error(`check-types: \`wrangler types\` failed:\n${err.stderr?.toString() || err.stdout?.toString() || err.message}`);
  process.exit(2);
} finally {
  rmSync(tmpPath, { force: true });
}

const committed = existsSync(committedPath) ? readFileSync(committedPath, "utf8") : "";
if (committed === generated) {
  console.log(`check-types: ${committedName} matches wrangler.toml and .dev.vars.example`);
  process.exit(0);
}

const a = committed.split(/\r?\n/);
const b = generated.split(/\r?\n/);
const onlyCommitted = a.filter((l) => !b.includes(l));
const onlyGenerated = b.filter((l) => !a.includes(l));
console.error(
  [
    committed ? `check-types: ${committedName} is out of date with wrangler.toml and .dev.vars.example.` : `check-types: ${committedName} is missing.`,
    "Run `npm run types` and commit the result.",
    ...onlyCommitted.map((l) => `  - ${l}`),
    ...onlyGenerated.map((l) => `  + ${l}`),
  ].join("\n"),
);
process.exit(1);
