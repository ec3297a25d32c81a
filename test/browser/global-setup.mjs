// Global set-up of the browser suite (vitest.browser.config.ts): checks that Chromium is there, then
// starts ONE Worker under `wrangler dev` for the whole suite (fresh temp persist dir, D1 migrations
// applied, random secrets; bench/lib.mjs does it the same way for the benchmarks and the demo) and
// hands its origin and API token to the tests. Teardown stops wrangler and removes the temp dir.
// A missing browser fails the run: it is never a skip.
import { existsSync } from "node:fs";
import { installSignalHandlers, startWorker, stopAll } from "../../bench/lib.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export default async function setup(project) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests need Chromium at ${CHROMIUM} and it is not there. Install Debian's package ` +
        "(as root: apt-get update && apt-get install -y chromium) or point CHROMIUM_PATH at a Chromium binary. " +
        "Do not run `npx playwright install`: its download cannot work offline.",
    );
  }
  installSignalHandlers();
  try {
    const worker = await startWorker({ label: "browser" });
    project.provide("browserSuite", { origin: worker.origin, apiToken: worker.secrets.API_TOKEN, chromium: CHROMIUM });
  } catch (err) {
    await stopAll();
    throw err;
  }
  return async () => {
    await stopAll();
  };
}
