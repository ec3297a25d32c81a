import examples from "@octokit/webhooks-examples";
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseWebhook } from "../../src/providers";
import { applySnapshots } from "../../src/sync/apply-snapshots";
import { loadSyncContext } from "../../src/sync/context";
import { api, createProject, expectProblem, json, SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker } from "../support/trackers";
import {
  accepted,
  countRows,
  deliver,
  deliverAndApply,
  deliveryRow,
  githubDelivery,
  postWebhook,
  storedIssues,
  waitProcessed,
} from "./webhooks.support";

type Payload = Record<string, any>;

const examplesOf = (name: string): Payload[] => (examples.find((d) => d.name === name)?.examples ?? []) as Payload[];
const issueExamples = examplesOf("issues");
const [pingExample] = examplesOf("ping");
const [pullRequestExample] = examplesOf("pull_request");
const [pushExample] = examplesOf("push");

/** A GitHub project whose tracker is a fake (so any sync run it triggers stays offline). */
async function githubProject(overrides: Record<string, unknown> = {}) {
  const { project, fake } = await projectWithTracker("github", overrides, { webhookSecret: SECRET_WEBHOOK });
  return { project, fake };
}

/** What the local store must hold after applying this GitHub issue payload. */
function expectedFields(issue: Payload) {
  return {
    title: issue.title,
    body: issue.body ?? "",
    state: issue.state,
    labels: (issue.labels as Payload[]).map((l) => l.name).sort(),
    assignees: (issue.assignees as Payload[]).map((a) => a.login).sort(),
    milestone: issue.milestone?.title ?? null,
  };
}

/** An earlier `opened` delivery for the same issue, with every synced field different. */
function earlierOpened(payload: Payload): Payload {
  const issue = payload.issue;
  const earlier = new Date(Date.parse(issue.updated_at) - 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    ...payload,
    action: "opened",
    changes: undefined,
    issue: {
      ...issue,
      title: `Before: ${issue.title}`,
      body: "before",
      state: issue.state === "closed" ? "open" : "closed",
      closed_at: issue.state === "closed" ? null : earlier,
      labels: [{ id: 1, name: "stale-label", color: "ededed", default: false }],
      assignee: null,
      assignees: [],
      milestone: null,
      updated_at: earlier,
    },
  };
}

describe("GitHub issues examples (@octokit/webhooks-examples) delivered with a valid signature", () => {
  it.each(issueExamples.map((payload, i) => [`#${i} ${payload.action}`, payload] as const))(
    "%s changes the local store as its action says",
    async (_name, payload) => {
      const { project } = await githubProject();
      const expected = expectedFields({ labels: [], assignees: [], ...payload.issue });
      if (payload.action !== "opened") await deliverAndApply(project, await githubDelivery("issues", earlierOpened(payload)));
      const before = await storedIssues(project.id);

      const id = await accepted(await deliver(project, await githubDelivery("issues", payload)));
      const row = await waitProcessed(id);
      expect(row.status).toBe("applied");
      const after = await storedIssues(project.id);
      expect(after).toHaveLength(1);
      const [issue] = after;
      expect(issue!.external_id).toBe(String(payload.issue.id));

      switch (payload.action) {
        case "deleted":
        case "transferred":
          expect(issue).toMatchObject({ sync_state: "orphaned" });
          if (payload.action === "transferred") expect(issue!.sync_error).toContain(payload.changes.new_issue.html_url);
          break;
        case "pinned":
        case "unpinned":
          // A trimmed issue (no labels, no state) is no snapshot: nothing changes, a sync is asked for.
          expect(issue).toEqual(before[0]);
          expect(row.error).toMatch(/incremental sync was requested/);
          break;
        default:
          expect(issue).toMatchObject({ ...expected, sync_state: "synced" });
      }
      const events = await json(await api(`/api/v1/projects/${project.id}/events?kind=issue`));
      expect(events.items.at(-1)).toMatchObject({ id, kind: "issue", externalId: String(payload.issue.id), externalNumber: payload.issue.number });
    },
  );

  it("deleted with deletion policy delete removes the local issue", async () => {
    const payload = issueExamples.find((p) => p.action === "deleted")!;
    const { project } = await githubProject({ deletionPolicy: "delete" });
    await deliverAndApply(project, await githubDelivery("issues", earlierOpened(payload)));
    expect(await storedIssues(project.id)).toHaveLength(1);
    await deliverAndApply(project, await githubDelivery("issues", payload));
    expect(await storedIssues(project.id)).toHaveLength(0);
  });

  it("closed (built by the fake GitHub, which the examples lack) closes the local issue", async () => {
    const { project, fake } = await githubProject();
    const issue = fake.seedIssue({ title: "Will be closed", labels: ["bug"] });
    await deliverAndApply(project, await fake.webhook("opened", issue.number));
    fake.edit(issue.number, { state: "closed" });
    await deliverAndApply(project, await fake.webhook("closed", issue.number));
    expect(await storedIssues(project.id)).toMatchObject([{ title: "Will be closed", state: "closed", labels: ["bug"] }]);
  });
});

describe("the webhook edge", () => {
  const opened = issueExamples.find((p) => p.action === "opened")!;

  it.each([
    ["a wrong signature", (h: Record<string, string>) => ({ ...h, "x-hub-signature-256": `sha256=${"0".repeat(64)}` })],
    ["no signature", ({ "x-hub-signature-256": _, ...h }: Record<string, string>) => h],
    ["only the legacy sha1 signature", ({ "x-hub-signature-256": _, ...h }: Record<string, string>) => ({ ...h, "x-hub-signature": `sha1=${"a".repeat(40)}` })],
    ["a sha1= algorithm in the sha256 header", (h: Record<string, string>) => ({ ...h, "x-hub-signature-256": `sha1=${"a".repeat(40)}` })],
  ] as const)("%s answers 401 problem+json and stores nothing", async (_name, mutate) => {
    const { project } = await githubProject();
    const hook = await githubDelivery("issues", opened);
    await expectProblem(await postWebhook(`/webhooks/github/${project.id}`, { headers: mutate(hook.headers), body: hook.body }), 401);
    expect(await countRows("webhook_deliveries", project.id)).toBe(0);
    expect(await countRows("issues", project.id)).toBe(0);
  });

  it("a body signed with another secret answers 401 and stores nothing", async () => {
    const { project } = await githubProject();
    const hook = await githubDelivery("issues", opened, { secret: "not-the-project-secret" });
    await expectProblem(await deliver(project, hook), 401);
    expect(await countRows("webhook_deliveries", project.id)).toBe(0);
  });

  it("a delivery replayed with the same id answers 200 duplicate and changes nothing", async () => {
    const { project } = await githubProject();
    const hook = await githubDelivery("issues", opened);
    await deliverAndApply(project, hook);
    const [before] = await storedIssues(project.id);
    const res = await deliver(project, hook);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ status: "duplicate" });
    expect(await storedIssues(project.id)).toEqual([before]);
    expect(await countRows("webhook_deliveries", project.id)).toBe(1);
    expect(await countRows("events", project.id)).toBe(1);
  });

  it("a 6 MiB body with Content-Length answers 413 and stores nothing", async () => {
    const { project } = await githubProject();
    const body = new Uint8Array(6 * 1024 * 1024).fill(0x20);
    // A well-formed (if wrong) signature header: without one the request is refused before its size matters.
    await expectProblem(await postWebhook(`/webhooks/github/${project.id}`, { headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${"0".repeat(64)}` }, body }), 413);
    expect(await countRows("webhook_deliveries", project.id)).toBe(0);
  });

  it("a 6 MiB chunked body without Content-Length is cut at 5 MiB with 413", async () => {
    const { project } = await githubProject();
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 6 * 1024 * 1024) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const request = new Request(`http://sync.test/webhooks/github/${project.id}`, { method: "POST", body: stream, headers: { "content-type": "application/json" } });
    expect(request.headers.get("content-length")).toBeNull();
    await expectProblem(await postWebhook(`/webhooks/github/${project.id}`, { headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${"0".repeat(64)}` }, body: request.body }), 413);
    expect(sent).toBeLessThan(6 * 1024 * 1024);
    expect(await countRows("webhook_deliveries", project.id)).toBe(0);
  });

  it("a 2 MiB issue payload (over one D1 value) is stored compressed and applied", async () => {
    const { project } = await githubProject();
    const big = { ...opened, padding: Array.from({ length: 30_000 }, (_, i) => ({ index: i, note: "x".repeat(50) })) };
    const hook = await githubDelivery("issues", big);
    expect(hook.rawBody.byteLength).toBeGreaterThan(2 * 1024 * 1024);
    const id = await deliverAndApply(project, hook);
    const stored = await env.DB.prepare("select payload from webhook_deliveries where id = ?").bind(id).first<{ payload: string }>();
    expect(stored!.payload.startsWith("gzip+base64:")).toBe(true);
    expect(stored!.payload.length).toBeLessThan(1_000_000);
    expect(await storedIssues(project.id)).toMatchObject([{ title: opened.issue.title }]);
  });

  it("non-JSON behind a valid signature answers 400 and is recorded as a failed delivery", async () => {
    const { project } = await githubProject();
    const hook = await githubDelivery("issues", {});
    const body = "this is not json";
    const { sign } = await import("@octokit/webhooks-methods");
    const headers = { ...hook.headers, "x-hub-signature-256": await sign(SECRET_WEBHOOK, body) };
    const problem = await expectProblem(await postWebhook(`/webhooks/github/${project.id}`, { headers, body }), 400);
    expect(problem.detail).toMatch(/not JSON/);
    const failed = await json(await api(`/api/v1/projects/${project.id}/deliveries?status=failed`));
    expect(failed.items).toMatchObject([{ deliveryId: hook.headers["x-github-delivery"], status: "failed", event: "issues" }]);
  });

  it("a JSON array, or an issues event without its issue, answers 400", async () => {
    const { project } = await githubProject();
    await expectProblem(await deliver(project, await githubDelivery("issues", [1, 2])), 400);
    const problem = await expectProblem(await deliver(project, await githubDelivery("issues", { action: "opened" })), 400);
    expect(problem.errors?.[0]?.field).toBe("issue");
    expect(await countRows("issues", project.id)).toBe(0);
  });

  it("an unknown project, an unknown provider and the wrong provider for a project answer 404", async () => {
    const { project } = await githubProject();
    const hook = await githubDelivery("issues", opened);
    await expectProblem(await postWebhook(`/webhooks/github/0190f0f0-0000-7000-8000-000000000000`, { headers: hook.headers, body: hook.body }), 404);
    await expectProblem(await postWebhook(`/webhooks/bitbucket/${project.id}`, { headers: hook.headers, body: hook.body }), 404);
    await expectProblem(await postWebhook(`/webhooks/gitlab/${project.id}`, { headers: { ...hook.headers, "x-gitlab-token": SECRET_WEBHOOK }, body: hook.body }), 404);
    expect(await countRows("webhook_deliveries", project.id)).toBe(0);
  });

  it("ping answers 200 ignored and is recorded as ignored, with no event", async () => {
    const { project } = await githubProject();
    const res = await deliver(project, await githubDelivery("ping", pingExample));
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ status: "ignored" });
    expect(await deliveryRow(body.id)).toMatchObject({ status: "ignored" });
    expect(await countRows("events", project.id)).toBe(0);
  });

  it("a pull_request example is written to the event log, visible via GET events, and creates no issue", async () => {
    const { project } = await githubProject();
    const id = await deliverAndApply(project, await githubDelivery("pull_request", pullRequestExample));
    const events = await json(await api(`/api/v1/projects/${project.id}/events`));
    expect(events.items).toMatchObject([
      {
        id,
        kind: "pull_request",
        action: pullRequestExample!.action,
        externalNumber: pullRequestExample!.pull_request.number,
        data: { summary: { number: pullRequestExample!.pull_request.number, title: pullRequestExample!.pull_request.title } },
      },
    ]);
    expect(await countRows("issues", project.id)).toBe(0);
  });

  it("a push example is written to the event log as kind push", async () => {
    const { project } = await githubProject();
    await deliverAndApply(project, await githubDelivery("push", pushExample));
    const events = await json(await api(`/api/v1/projects/${project.id}/events?kind=push`));
    expect(events.items).toMatchObject([{ kind: "push", data: { summary: { ref: pushExample!.ref } } }]);
    expect(await countRows("issues", project.id)).toBe(0);
  });

  it("a form-encoded delivery (payload=…) is verified on its raw bytes and applied", async () => {
    const { project } = await githubProject();
    const hook = await githubDelivery("issues", opened);
    const body = new URLSearchParams({ payload: hook.body }).toString();
    const { sign } = await import("@octokit/webhooks-methods");
    const headers = { ...hook.headers, "content-type": "application/x-www-form-urlencoded", "x-hub-signature-256": await sign(SECRET_WEBHOOK, body) };
    const id = await accepted(await postWebhook(`/webhooks/github/${project.id}`, { headers, body }));
    expect((await waitProcessed(id)).status).toBe("applied");
    expect(await storedIssues(project.id)).toMatchObject([{ title: opened.issue.title }]);
  });
});

describe("applying exactly once", () => {
  it("the same change by webhook and then by poll applies once: the second is unchanged and the version does not move", async () => {
    const { project } = await githubProject();
    const payload = issueExamples.find((p) => p.action === "edited")!;
    await deliverAndApply(project, await githubDelivery("issues", earlierOpened(payload)));
    await deliverAndApply(project, await githubDelivery("issues", payload));
    const [before] = await storedIssues(project.id);

    const snapshot = parseWebhook("github", new Headers({ "x-github-event": "issues" }), payload).issue!;
    const stub = env.PROJECT_SYNC.get(env.PROJECT_SYNC.idFromName(project.id));
    const counts = await runInDurableObject(stub, async () => applySnapshots(await loadSyncContext(env, project.id), [snapshot]));
    expect(counts).toMatchObject({ created: 0, updated: 0, unchanged: 1 });
    const [after] = await storedIssues(project.id);
    expect(after!.version).toBe(before!.version);
    expect(after).toEqual(before);
  });

  it("an older delivery arriving after a newer one does not roll the issue back", async () => {
    const { project, fake } = await githubProject();
    const issue = fake.seedIssue({ title: "Original", labels: ["a"] });
    const older = await fake.webhook("opened", issue.number);
    fake.edit(issue.number, { title: "Edited later", labels: ["a", "b"] });
    const newer = await fake.webhook("edited", issue.number, { changes: { title: { from: "Original" } } });
    await deliverAndApply(project, newer);
    await deliverAndApply(project, older);
    expect(await storedIssues(project.id)).toMatchObject([{ title: "Edited later", labels: ["a", "b"] }]);
  });

  it("opened and labeled arriving at the same moment for a new issue create one local issue", async () => {
    const { project, fake } = await githubProject();
    const issue = fake.seedIssue({ title: "Brand new" });
    const openedHook = await fake.webhook("opened", issue.number);
    fake.edit(issue.number, { labels: ["triage"] });
    const labeledHook = await fake.webhook("labeled", issue.number);
    const ids = await Promise.all([deliver(project, openedHook), deliver(project, labeledHook)].map(async (res) => accepted(await res)));
    for (const id of ids) expect((await waitProcessed(id)).status).toBe("applied");
    expect(await storedIssues(project.id)).toMatchObject([{ title: "Brand new", labels: ["triage"] }]);
  });
});

describe("OpenAPI", () => {
  it("documents the webhook, deliveries, replay and events routes", async () => {
    const doc = await json(await api("/openapi.json", { token: null }));
    expect(doc.paths["/webhooks/{provider}/{projectId}"].post.security).toEqual([]);
    expect(doc.paths["/api/v1/projects/{projectId}/deliveries"].get).toBeDefined();
    expect(doc.paths["/api/v1/projects/{projectId}/deliveries/{deliveryId}/replay"].post).toBeDefined();
    expect(doc.paths["/api/v1/projects/{projectId}/events"].get).toBeDefined();
  });
});

describe("secrets", () => {
  it("no answer of the edge or the delivery API contains the webhook secret", async () => {
    const project = await createProject();
    const hook = await githubDelivery("issues", issueExamples.find((p) => p.action === "opened")!);
    const answers = [
      await deliver(project, hook),
      await deliver(project, hook),
      await postWebhook(`/webhooks/github/${project.id}`, { headers: { "x-hub-signature-256": "sha256=00" }, body: hook.body }),
      await api(`/api/v1/projects/${project.id}/deliveries`),
      await api(`/api/v1/projects/${project.id}/events`),
    ];
    for (const res of answers) expect(await res.text()).not.toContain(SECRET_WEBHOOK);
  });
});
