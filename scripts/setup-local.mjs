#!/usr/bin/env node
// Local set-up, idempotent: creates .dev.vars with random secrets if missing (never committed),
// then applies the D1 migrations to the local database in .wrangler/. Run by `npm run dev`.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const devVars = join(root, ".dev.vars");

const wanted = {
  API_TOKEN: () => randomBytes(32).toString("hex"),
  TOKEN_ENCRYPTION_KEY: () => randomBytes(32).toString("base64"),
};

const existing = existsSync(devVars) ? readFileSync(devVars, "utf8") : "";
const missing = Object.keys(wanted).filter((k) => !new RegExp(`^${k}\\s*=`, "m").test(existing));
if (missing.length > 0) {
  const lines = missing.map((k) => `${k}="${wanted[k]()}"`);
  const prefix = existing && !existing.endsWith("\n") ? "\n" : "";
  writeFileSync(devVars, existing + prefix + lines.join("\n") + "\n", { mode: 0o600 });
  console.log(`setup: wrote ${missing.join(", ")} to .dev.vars (local use only; the API token is there)`);
} else {
  console.log("setup: .dev.vars already has API_TOKEN and TOKEN_ENCRYPTION_KEY");
}

const wrangler = join(root, "node_modules", ".bin", "wrangler");
// Quiet unless it fails: wrangler prints every migration's table otherwise.
// Every D1 binding in wrangler.toml (the catalog `DB` and each `DB_SHARD_n`) gets the same migrations.
const bindings = [...readFileSync(join(root, "wrangler.toml"), "utf8").matchAll(/^binding\s*=\s*"(DB(?:_SHARD_\d+)?)"/gm)].map((m) => m[1]);
try {
  for (const binding of bindings) {
    execFileSync(wrangler, ["d1", "migrations", "apply", binding, "--local"], {
      cwd: root,
      stdio: "pipe",
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    });
  }
  console.log(`setup: local D1 migrations applied (${bindings.join(", ")})`);
} catch (err) {
  process.stderr.write(`${err.stdout ?? ""}${err.stderr ?? ""}`);
  console.error("setup: applying the local D1 migrations failed (output above)");
  process.exit(1);
}
