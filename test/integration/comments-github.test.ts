import examples from "@octokit/webhooks-examples";
import { describe, expect, it, vi } from "vitest";
import { validateCommentCreateRequest, validateCommentUpdateRequest, validateIssueComment } from "../fixtures/github/openapi-comment-validators.js";
import { api, json, SECRET_WEBHOOK } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";
import { deliverAndApply, githubDelivery } from "./webhooks.support";

type Payload = Record<string, any>;
const commentExamples = (examples.find((d) => d.name === "issue_comment")?.examples ?? []) as Payload[];

async function commentsOf(projectId: string, issueId: string): Promise<any[]> {
  return (await json(await api(`/api/v1/projects/${projectId}/issues/${issueId}/comments?limit=500`))).items;
}

describe("GitHub issue_comment examples (@octokit/webhooks-examples) delivered with a valid signature", () => {
  it("has examples of every action", () => {
    expect(new Set(commentExamples.map((p) => p.action))).toEqual(new Set(["created", "edited", "deleted"]));
  });

  it.each(commentExamples.map((payload, i) => [`#${i} ${payload.action}`, payload] as const))("%s changes the local comment as its action says", async (_name, payload) => {
    const { project } = await projectWithTracker("github", {}, { webhookSecret: SECRET_WEBHOOK });
    // The issue first, as its own `issues` delivery (the example's issue is a full REST issue).
    await deliverAndApply(project, await githubDelivery("issues", { action: "opened", issue: payload.issue, repository: payload.repository, sender: payload.sender }));
    if (payload.action !== "created") {
      const earlier = { ...payload, action: "created", comment: { ...payload.comment, body: "earlier text", updated_at: payload.comment.created_at } };
      if (payload.action === "edited") earlier.comment.updated_at = "2000-01-01T00:00:00Z";
      await deliverAndApply(project, await githubDelivery("issue_comment", { ...earlier, comment: { ...earlier.comment, created_at: earlier.comment.updated_at } }));
    }
    await deliverAndApply(project, await githubDelivery("issue_comment", payload));

    const issue = (await localByNumber(project.id)).get(payload.issue.number);
    const [comment, ...rest] = await commentsOf(project.id, issue.id);
    expect(rest).toEqual([]);
    expect(comment).toMatchObject({ author: payload.comment.user.login, external: { id: String(payload.comment.id), url: payload.comment.html_url } });
    if (payload.action === "deleted") expect(comment.deletedAt).not.toBeNull();
    else expect(comment).toMatchObject({ body: payload.comment.body, deletedAt: null, syncState: "synced" });
  });
});

describe("GitHub comment writes", () => {
  it("send bodies valid against GitHub's OpenAPI request schemas, and the fake answers valid issue comments", async () => {
    const { fake, project } = await projectWithTracker("github");
    const schemaErrors: string[] = [];
    const handle = fake.handle.bind(fake);
    fake.handle = async (request: Request) => {
      const path = new URL(request.url).pathname;
      const isCreate = request.method === "POST" && /\/issues\/\d+\/comments$/.test(path);
      const isEdit = request.method === "PATCH" && /\/issues\/comments\/\d+$/.test(path);
      if (isCreate || isEdit) {
        const validate = isCreate ? validateCommentCreateRequest : validateCommentUpdateRequest;
        if (!validate(await request.clone().json())) schemaErrors.push(`${request.method} ${path}: ${JSON.stringify(validate.errors)}`);
      }
      const res = await handle(request);
      if ((isCreate || isEdit) && res.ok && !validateIssueComment(await res.clone().json())) schemaErrors.push(`answer ${path}: ${JSON.stringify(validateIssueComment.errors)}`);
      return res;
    };
    const tracked = fake.seedIssue();
    await syncAndWait(project.id);
    const issue = (await localByNumber(project.id)).get(tracked.number);
    const created: any = await (await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments`, { method: "POST", body: { body: "valid?" } })).json();
    await vi.waitFor(async () => expect((await commentsOf(project.id, issue.id))[0].syncState).toBe("synced"), { timeout: 10_000, interval: 25 });
    await api(`/api/v1/projects/${project.id}/issues/${issue.id}/comments/${created.id}`, { method: "PATCH", body: { body: "still valid" } });
    await vi.waitFor(() => expect(fake.commentsOf(tracked.number)[0]?.body).toBe("still valid"), { timeout: 10_000, interval: 25 });
    expect(schemaErrors).toEqual([]);
  });

  it("an idle incremental run adds one comment request, answered 304 once the ETag is stored", async () => {
    const { fake, project } = await projectWithTracker("github");
    const issue = fake.seedIssue();
    fake.addComment(issue.number, { body: "hello" });
    await syncAndWait(project.id);
    await syncAndWait(project.id);
    await syncAndWait(project.id);
    fake.clearLog();
    await syncAndWait(project.id);
    const commentReads = fake.requests.filter((r) => r.path.includes("/comments"));
    expect(commentReads.map((r) => r.status)).toEqual([304]);
  });
});
