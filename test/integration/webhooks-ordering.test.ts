import { describe, expect, it } from "vitest";
import { localByNumber, projectWithTracker } from "../support/trackers";
import { accepted, deliver, waitProcessed } from "./webhooks.support";

describe("webhook ordering around deletions", () => {
  it("a late edited delivery, no newer than the deletion, does not bring an orphaned issue back", async () => {
    const { fake, project } = await projectWithTracker("github", { syncDirection: "inbound" });
    fake.seedIssue({ title: "short-lived" });
    await waitProcessed(await accepted(await deliver(project, await fake.webhook("opened", 1))));
    const lateEdit = await fake.webhook("edited", 1, { changes: { title: { from: "older" } } } as any);
    fake.delete(1);
    await waitProcessed(await accepted(await deliver(project, await fake.webhook("deleted", 1))));
    expect((await localByNumber(project.id)).get(1)!.syncState).toBe("orphaned");
    await waitProcessed(await accepted(await deliver(project, lateEdit)));
    const issue = (await localByNumber(project.id)).get(1)!;
    expect(issue.syncState).toBe("orphaned");
    expect(issue.deletedAt).not.toBeNull();
  });
});
