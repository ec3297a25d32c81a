/**
 * Form-encoded deliveries (`payload=<urlencoded JSON>`), verified as each tracker signs them:
 * GitHub signs the form body it sends, Gitea signs the JSON inside it (services/webhook/deliver.go).
 */
import { describe, expect, it } from "vitest";
import { SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker } from "../support/trackers";
import { accepted, deliver, storedIssues, waitProcessed } from "./webhooks.support";

describe("form-encoded webhooks", () => {
  for (const provider of ["github", "gitea"] as const) {
    it(`${provider}: a form delivery signed as ${provider} signs it is accepted and applied`, async () => {
      const { project, fake } = await projectWithTracker(provider, {}, { webhookSecret: SECRET_WEBHOOK });
      const issue = fake.seedIssue({ title: "Sent as a form", labels: ["bug"] });
      const hook = await fake.formWebhook("opened", issue.number);
      expect(hook.body.startsWith("payload=")).toBe(true);
      const id = await accepted(await deliver(project, hook));
      expect((await waitProcessed(id)).status).toBe("applied");
      expect(await storedIssues(project.id)).toMatchObject([{ title: "Sent as a form", labels: ["bug"] }]);
    });
  }

  it("gitea: a form delivery whose signature is the HMAC of the form body (not Gitea's way) is refused", async () => {
    const { project, fake } = await projectWithTracker("gitea", {}, { webhookSecret: SECRET_WEBHOOK });
    const issue = fake.seedIssue({ title: "Signed the wrong way" });
    const form = await fake.formWebhook("opened", issue.number);
    // Re-sign the form bytes the way GitHub would: Gitea never sends that signature.
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(SECRET_WEBHOOK), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(form.body)));
    const hex = [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
    const res = await deliver(project, { ...form, headers: { ...form.headers, "x-gitea-signature": hex } });
    expect(res.status).toBe(401);
    expect(await storedIssues(project.id)).toEqual([]);
  });
});
