import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { generateAppKeys, toPem } from "./test/support/app-keys.ts";

/**
 * Property tests (fast-check) run with a fixed seed so a CI run is reproducible; `FC_SEED=random npm test`
 * explores new cases (the seed used is printed with any failure), `FC_SEED=<n>` replays one.
 */
const fcSeed = process.env.FC_SEED === "random" ? String(Date.now()) : (process.env.FC_SEED ?? "20261124");

/**
 * A GitHub App key pair made fresh for each test run (never stored): the Worker gets the private key
 * as GitHub downloads it (PKCS#1 PEM), the fake GitHub verifies App JWTs with the public key.
 */
async function testAppKeys(): Promise<{ privateKey: string; publicKey: string }> {
  const keys = await generateAppKeys();
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", keys.publicKey)) as ArrayBuffer);
  return { privateKey: keys.pkcs1Pem, publicKey: toPem("PUBLIC KEY", spki) };
}

export default defineConfig(async () => {
  const appKeys = await testAppKeys();
  return {
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      // CI has no network: every binding is local, every tracker is a fake.
      remoteBindings: false,
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations("migrations"),
          API_TOKEN: "test-api-token",
          // Issue 16: a second admin token (rotation) and a read-only one, valid beside API_TOKEN.
          API_TOKENS: JSON.stringify([
            { name: "ops-2026", scope: "admin", token: "test-admin-token-rotated-0002" },
            { name: "dashboard", scope: "read", token: "test-read-token-dashboard-0003" },
          ]),
          // Issue 16: the one non-loopback host a test tracker may reach over plain http://.
          ALLOW_INSECURE_TRACKER_HOSTS: "plain-http-tracker.test",
          // 32 bytes of 0x01, base64: a fixed key for tests only.
          TOKEN_ENCRYPTION_KEY: "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
          FC_SEED: fcSeed,
          GITHUB_APP_ID: "424242",
          GITHUB_APP_PRIVATE_KEY: appKeys.privateKey,
          GITHUB_APP_WEBHOOK_SECRET: "test-github-app-webhook-secret",
          // The one API base App JWTs go to; every App test's fake GitHub shares it (test/support/trackers.ts).
          GITHUB_APP_API_BASE_URL: "https://github-app.test/api/v3",
          TEST_APP_PUBLIC_KEY: appKeys.publicKey,
        },
        queueConsumers: {
          "syndarix-sync-jobs": { maxBatchTimeout: 0.05 },
          "syndarix-sync-push": { maxBatchTimeout: 0.05 },
        },
      },
    }),
  ],
  test: {
    setupFiles: ["./test/apply-migrations.ts", "./test/fast-check-seed.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    // The Worker logs one JSON line per notable event; show them only for tests that fail.
    silent: "passed-only" as const,
  },
};
});
