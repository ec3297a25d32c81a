// Which Chromium the browser suite drives, in this order: CHROMIUM_PATH (any Chromium binary), the
// one the lock file brings (the npm package @sparticuz/chromium: Chromium inside the package,
// unpacked into the temp folder on first use; PLATFORM.md), Debian's /usr/bin/chromium. Used by
// `npm test` before anything else (scripts/check-browser.mjs: a missing browser is reported in the
// first second) and by the suite's global set-up.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/** True when the binary starts here (its shared libraries are present): `--version` answers. */
function runs(path) {
  try {
    execFileSync(path, ["--version"], { stdio: "pipe", timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

/** @returns {Promise<{ path: string, source: string, args: string[] }>} */
export async function findChromium() {
  if (process.env.CHROMIUM_PATH) {
    if (existsSync(process.env.CHROMIUM_PATH)) return { path: process.env.CHROMIUM_PATH, source: "CHROMIUM_PATH", args: [] };
    throw new Error(`CHROMIUM_PATH is ${process.env.CHROMIUM_PATH}, and there is no file there.`);
  }
  const tried = [];
  try {
    const { default: chromium } = await import("@sparticuz/chromium");
    const path = await chromium.executablePath();
    if (path && existsSync(path) && runs(path)) return { path, source: "@sparticuz/chromium", args: [] };
    tried.push(`@sparticuz/chromium's binary (${path}) does not start here`);
  } catch (err) {
    tried.push(`@sparticuz/chromium: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (existsSync("/usr/bin/chromium")) return { path: "/usr/bin/chromium", source: "Debian's chromium", args: [] };
  throw new Error(
    `The browser tests need Chromium and none was found (${tried.join("; ")}; no /usr/bin/chromium). ` +
      "Run `npm ci` (the lock file brings @sparticuz/chromium), or install Debian's package " +
      "(as root: apt-get update && apt-get install -y chromium), or point CHROMIUM_PATH at a Chromium binary. " +
      "Do not run `npx playwright install`: its download cannot work offline.",
  );
}
