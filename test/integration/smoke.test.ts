import { env, exports } from "cloudflare:workers";
import { expect, it } from "vitest";

it("health answers ok", async () => {
  const res = await exports.default.fetch("http://x/health");
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: "ok" });
  const r = await env.DB.prepare("select count(*) as n from projects").first<{ n: number }>();
  expect(r?.n).toBe(0);
});
