import { env } from "cloudflare:workers";
import fc from "fast-check";

// See vitest.config.ts: one seed for every property of the run, fixed unless FC_SEED says otherwise.
fc.configureGlobal({ seed: Number(env.FC_SEED) });
