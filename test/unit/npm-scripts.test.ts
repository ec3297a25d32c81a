import { describe, expect, it } from "vitest";
import pkg from "../../package.json";

/**
 * Every npm script must work as the first command on a fresh clone (no node_modules, system Node 20):
 * its pre-script installs from the lock file first and brings the project's Node 22 (scripts/ensure-deps.mjs).
 */
describe("npm scripts", () => {
  const scripts: Record<string, string> = pkg.scripts;
  const main = Object.keys(scripts).filter((name) => !(name.startsWith("pre") && name.slice(3) in scripts) && !name.startsWith("post"));

  it.each(main)("%s installs the dependencies first", (name) => {
    expect(scripts[`pre${name}`]).toBe("node scripts/ensure-deps.mjs");
  });

  it("the types drift check runs the same command as `npm run types`", () => {
    expect(scripts.types).toMatch(/^wrangler types( --[\w-]+=\S+)*$/);
    expect(scripts.test).toContain("node scripts/check-types.mjs");
    expect(scripts.test).toContain("node scripts/check-layers.mjs");
    expect(scripts.test).toContain("node scripts/check-d1-bindings.mjs");
  });
});
