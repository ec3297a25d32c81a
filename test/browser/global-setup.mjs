// Global set-up of the browser suite (vitest.browser.config.ts): finds Chromium (find-chromium.mjs), then
// starts ONE Worker under `wrangler dev` for the whole suite (fresh temp persist dir, D1 migrations
// applied, random secrets; bench/lib.mjs does it the same way for the benchmarks and the demo) and
// hands its origin and API token to the tests. Teardown stops wrangler and removes the temp dir.
// A missing browser fails the run: it is never a skip.
import { installSignalHandlers, startWorker, stopAll } from "../../bench/lib.mjs";
import { findChromium } from "./find-chromium.mjs";

export default async function setup(project) {
  const chromium = await findChromium();
  installSignalHandlers();
  try {
    const worker = await startWorker({ label: "browser" });
    project.provide("browserSuite", { origin: worker.origin, apiToken: worker.secrets.API_TOKEN, chromium: chromium.path, chromiumArgs: chromium.args });
  } catch (err) {
    await stopAll();
    throw err;
  }
  return async () => {
    await stopAll();
  };
}
