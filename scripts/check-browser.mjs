#!/usr/bin/env node
// First step of `npm test`: the browser suite runs last, so a missing Chromium is reported now, in
// the first second, not after the whole workers suite. Prints which browser the suite will drive.
import { findChromium } from "../test/browser/find-chromium.mjs";

try {
  const found = await findChromium();
  console.log(`check-browser: the browser tests will drive ${found.source} (${found.path})`);
} catch (err) {
  console.error(`check-browser: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
