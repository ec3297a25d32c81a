import { defineConfig } from "vitest/config";

/**
 * The dashboard's browser tests (`npm run test:browser`, and the end of `npm test`): plain Node, not
 * the workers pool. global-setup.mjs starts one `wrangler dev` for the suite and fails the run when
 * Chromium is missing; the tests drive Debian's Chromium with playwright-core.
 */
export default defineConfig({
  test: {
    environment: "node",
    include: ["test/browser/**/*.browser.ts"],
    globalSetup: ["./test/browser/global-setup.mjs"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
