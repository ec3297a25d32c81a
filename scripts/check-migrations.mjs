#!/usr/bin/env node
// Schema drift check (`npm run check:migrations`, part of `npm test`): src/db/schema.ts and the
// migrations must describe the same database. drizzle-kit diffs the schema against the newest snapshot
// in migrations/meta; here it generates into a scratch copy of migrations/, and any file it writes
// means a schema change without its migration (run `npm run db:generate`, review the SQL, commit both).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const drizzleKit = join(root, "node_modules", "drizzle-kit", "bin.cjs");
if (!existsSync(drizzleKit)) {
  console.error("check-migrations: drizzle-kit is not installed; run `npm ci` first");
  process.exit(2);
}
// drizzle-kit takes --out relative to the working directory, so the scratch copy lives inside the repo
// (node_modules/.cache is git-ignored).
const cache = join(root, "node_modules", ".cache");
mkdirSync(cache, { recursive: true });
const scratch = mkdtempSync(join(cache, "check-migrations-"));
try {
  cpSync(join(root, "migrations"), scratch, { recursive: true });
  const before = new Set(readdirSync(scratch));
  const node22 = join(root, "node_modules", ".bin", "node");
  const output = execFileSync(
    existsSync(node22) ? node22 : process.execPath,
    [drizzleKit, "generate", "--dialect", "sqlite", "--schema", "./src/db/schema.ts", "--out", relative(root, scratch), "--name", "drift"],
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const added = readdirSync(scratch).filter((f) => !before.has(f));
  if (added.length > 0) {
    console.error(
      `check-migrations: src/db/schema.ts differs from the migrations (drizzle-kit would write ${added.join(", ")}).\n` +
        "Run `npm run db:generate`, review the SQL (additive; see PLATFORM.md on table rebuilds), and commit it.",
    );
    process.exit(1);
  }
  if (!/No schema changes/.test(output)) {
    console.error(`check-migrations: drizzle-kit did not confirm the schema matches:\n${output}`);
    process.exit(1);
  }
  console.log("check-migrations: schema.ts and migrations agree");
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
