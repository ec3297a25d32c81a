import { sign } from "@octokit/webhooks-methods";
import { describe, expect, it } from "vitest";
import { deliveryIdOf, eventNameOf, verifyWebhook } from "../../../src/providers";
import { FakeTracker } from "../../fakes/fake-tracker.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const headers = (values: Record<string, string>) => new Headers(values);

describe("GitHub signatures", () => {
  const secret = "It's a Secret to Everybody";
  const body = encode("Hello, World!");
  const vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

  it("accepts GitHub's documented test vector", async () => {
    expect(await verifyWebhook("github", headers({ "X-Hub-Signature-256": vector }), body, secret)).toBe(true);
  });

  it("agrees with @octokit/webhooks-methods' reference sign()", async () => {
    const payload = JSON.stringify({ action: "opened", n: 1 });
    const signature = await sign(secret, payload);
    expect(await verifyWebhook("github", headers({ "X-Hub-Signature-256": signature }), encode(payload), secret)).toBe(true);
  });

  it.each([
    ["a wrong digest", { "X-Hub-Signature-256": vector.replace("757", "758") }],
    ["no signature header", {}],
    ["only the legacy sha1 signature", { "X-Hub-Signature": "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59" }],
    ["a sha1= value in the sha256 header", { "X-Hub-Signature-256": "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59" }],
    ["a bare hex digest without the prefix", { "X-Hub-Signature-256": vector.slice(7) }],
    ["a truncated digest", { "X-Hub-Signature-256": vector.slice(0, 40) }],
  ])("rejects %s", async (_, values) => {
    expect(await verifyWebhook("github", headers(values), body, secret)).toBe(false);
  });

  it("rejects the right signature over different bytes and under another secret", async () => {
    expect(await verifyWebhook("github", headers({ "X-Hub-Signature-256": vector }), encode("Hello, World! "), secret)).toBe(false);
    expect(await verifyWebhook("github", headers({ "X-Hub-Signature-256": vector }), body, "another secret")).toBe(false);
  });

  it("verifies nothing when the project has no secret", async () => {
    expect(await verifyWebhook("github", headers({ "X-Hub-Signature-256": vector }), body, "")).toBe(false);
  });
});

describe("deliveries built by the fakes verify as the real trackers' do", () => {
  it.each(["github", "gitlab", "gitea"] as const)("%s: signed delivery verifies, tampered body does not", async (provider) => {
    const fake = new FakeTracker(provider, { baseUrl: "https://tracker.example/api", webhookSecret: "s3cret" });
    fake.seedIssue({ title: "Hook me" });
    const delivery = await fake.webhook(provider === "gitlab" ? "open" : "opened", 1);
    const h = headers(delivery.headers);
    expect(await verifyWebhook(provider, h, delivery.rawBody, "s3cret")).toBe(true);
    expect(await verifyWebhook(provider, h, delivery.rawBody, "wrong")).toBe(false);
    const tampered = encode(delivery.body.replace("Hook me", "Hooked"));
    expect(await verifyWebhook(provider, h, tampered, "s3cret")).toBe(provider === "gitlab");
  });

  it("Gitea: rejects a delivery without X-Gitea-Signature even when GitHub-style headers are present", async () => {
    const fake = new FakeTracker("gitea", { baseUrl: "https://gitea.example/api/v1" });
    fake.seedIssue();
    const delivery = await fake.webhook("opened", 1);
    const { "x-gitea-signature": _, ...rest } = delivery.headers;
    expect(await verifyWebhook("gitea", headers(rest), delivery.rawBody, "webhook-secret")).toBe(false);
  });

  it("GitLab: a missing or different token is rejected", async () => {
    expect(await verifyWebhook("gitlab", headers({}), encode("{}"), "tok")).toBe(false);
    expect(await verifyWebhook("gitlab", headers({ "X-Gitlab-Token": "tok2" }), encode("{}"), "tok")).toBe(false);
    expect(await verifyWebhook("gitlab", headers({ "X-Gitlab-Token": "tok" }), encode("{}"), "tok")).toBe(true);
  });
});

describe("delivery ids and event names", () => {
  const body = encode('{"a":1}');
  const bodyHash = "sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862";

  it("uses each tracker's delivery header", async () => {
    expect(await deliveryIdOf("github", headers({ "X-GitHub-Delivery": "72d3162e" }), body)).toBe("72d3162e");
    expect(await deliveryIdOf("gitea", headers({ "X-Gitea-Delivery": "f6266f16" }), body)).toBe("f6266f16");
  });

  it("GitLab prefers Idempotency-Key, then X-Gitlab-Event-UUID, never X-Gitlab-Webhook-UUID", async () => {
    const all = { "Idempotency-Key": "idem", "X-Gitlab-Event-UUID": "event", "X-Gitlab-Webhook-UUID": "per-request" };
    expect(await deliveryIdOf("gitlab", headers(all), body)).toBe("idem");
    expect(await deliveryIdOf("gitlab", headers({ "X-Gitlab-Event-UUID": "event", "X-Gitlab-Webhook-UUID": "x" }), body)).toBe("event");
    expect(await deliveryIdOf("gitlab", headers({ "X-Gitlab-Webhook-UUID": "x" }), body)).toBe(bodyHash);
  });

  it("falls back to the body hash when the header is missing", async () => {
    expect(await deliveryIdOf("github", headers({}), body)).toBe(bodyHash);
    expect(await deliveryIdOf("gitea", headers({}), body)).toBe(bodyHash);
  });

  it("names the event from each tracker's header", () => {
    expect(eventNameOf("github", headers({ "X-GitHub-Event": "issues" }))).toBe("issues");
    expect(eventNameOf("gitlab", headers({ "X-Gitlab-Event": "Issue Hook" }))).toBe("Issue Hook");
    expect(eventNameOf("gitea", headers({ "X-Gitea-Event": "issues", "X-Gitea-Event-Type": "issue_label" }))).toBe("issue_label");
    expect(eventNameOf("gitea", headers({ "X-Gitea-Event": "issues" }))).toBe("issues");
    expect(eventNameOf("github", headers({}))).toBeNull();
  });
});
