#!/usr/bin/env node
// `npm run dev` after the local set-up: `wrangler dev --test-scheduled` with its chatter down to
// warnings and errors, and, once the Worker answers, one short banner: where it is, where the
// dashboard is, where the API token is. Extra arguments go to wrangler (`npm run dev -- --port 9000`).
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const portArg = args.findIndex((a) => a === "--port" || a.startsWith("--port="));
const port = portArg < 0 ? "8787" : args[portArg].includes("=") ? args[portArg].split("=")[1] : args[portArg + 1];
const origin = `http://localhost:${port}`;

const wrangler = spawn(join(root, "node_modules", ".bin", "wrangler"), ["dev", "--test-scheduled", "--log-level", "warn", ...args], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
wrangler.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => wrangler.kill(sig));

const started = Date.now();
while (Date.now() - started < 120_000 && wrangler.exitCode === null) {
  const ok = await fetch(`${origin}/health`).then((r) => r.ok, () => false);
  if (ok) {
    console.log(
      [
        "",
        `syndarix-sync is running at ${origin}`,
        `  dashboard  ${origin}/ui/   sign in with API_TOKEN from .dev.vars (the file in this folder)`,
        `  API        ${origin}/api/v1/…   Authorization: Bearer <API_TOKEN>; contract: ${origin}/openapi.json, docs/api.md`,
        `  crons      curl "${origin}/__scheduled?cron=*/5+*+*+*+*"`,
        "  Ctrl-C stops it.",
        "",
      ].join("\n"),
    );
    break;
  }
  await new Promise((r) => setTimeout(r, 300));
}
