import type { Env as WorkerEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
      /** fast-check seed for this test run (see vitest.config.ts). */
      FC_SEED: string;
      /** SPKI PEM of the test GitHub App's key (vitest.config.ts); GITHUB_APP_PRIVATE_KEY is its private half. */
      TEST_APP_PUBLIC_KEY: string;
    }
    interface GlobalProps {
      mainModule: typeof import("../src/index");
      durableNamespaces: "ProjectSync";
    }
  }
}
