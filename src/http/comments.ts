import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { projectDatabase } from "../db/shards";
import { listIssueComments } from "../db/comments";
import { getIssue } from "../db/issues";
import type { CommentRow } from "../db/schema";
import { NotFound } from "../errors";
import { createLocalComment, deleteLocalComment, editLocalComment } from "../sync/comment-edits";
import { retryCommentPush } from "../sync/repair";
import { conflictResponse, decodeCursor, IdParam, IsoTimestamp, jsonBody, jsonContent, listOf, ListQuery, pageOf, problemResponses, IdempotencyHeaders } from "./common";
import type { AppEnv } from "./project";
import { validationHook } from "./validation";
import { peopleOf } from "../sync/identities";

// GitHub's limit (65,536 characters) is the strictest of the three trackers.
const Body = z.string().min(1).max(65_536).refine((s) => s.trim() !== "", { message: "must not be blank" });

const CreateComment = z
  .strictObject({
    body: Body,
    author: z.string().trim().min(1).max(100).optional().openapi({ description: "Who wrote it (default: the API token's name)" }),
    visibility: z.enum(["public", "internal"]).default("public").openapi({ description: "internal comments never leave Syndarix" }),
  })
  .openapi("CreateComment");

const UpdateComment = z.strictObject({ body: Body }).openapi("UpdateComment");

export const CommentSchema = z
  .object({
    id: z.string(),
    issueId: z.string(),
    projectId: z.string(),
    body: z.string(),
    author: z.string(),
    authorUser: z.string().nullable().openapi({ description: "The platform user an identity maps the author's tracker login to; null when unmapped" }),
    visibility: z.enum(["public", "internal"]),
    createdAt: IsoTimestamp,
    updatedAt: IsoTimestamp,
    external: z.object({ id: z.string(), url: z.string().nullable(), updatedAt: IsoTimestamp.nullable() }).nullable(),
    syncState: z.enum(["synced", "pending_push", "conflict", "error"]),
    syncError: z.string().nullable(),
    deletedAt: IsoTimestamp.nullable(),
  })
  .openapi("Comment");

/** `people`: login → platform user of the project's tracker. */
export function commentToApi(row: CommentRow, people: ReadonlyMap<string, string> = new Map()): z.infer<typeof CommentSchema> {
  return {
    authorUser: people.get(row.author) ?? null,
    id: row.id,
    issueId: row.issueId,
    projectId: row.projectId,
    body: row.body,
    author: row.author,
    visibility: row.visibility,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    external: row.externalId !== null ? { id: row.externalId, url: row.externalUrl, updatedAt: row.externalUpdatedAt } : null,
    syncState: row.syncState,
    syncError: row.syncError,
    deletedAt: row.deletedAt,
  };
}

const IssueParams = z.object({ projectId: IdParam("projectId"), issueId: IdParam("issueId") });
const CommentParams = IssueParams.extend({ commentId: IdParam("commentId") });

const routes = {
  list: createRoute({
    operationId: "listComments",
    method: "get",
    path: "/{projectId}/issues/{issueId}/comments",
    tags: ["comments"],
    summary: "An issue's comments, oldest first (deleted ones included, with deletedAt)",
    request: { params: IssueParams, query: ListQuery },
    responses: { 200: jsonContent(listOf(CommentSchema, "CommentList"), "Comments, oldest first"), ...problemResponses },
  }),
  create: createRoute({
    operationId: "createComment",
    method: "post",
    path: "/{projectId}/issues/{issueId}/comments",
    tags: ["comments"],
    summary: "Write a local comment; public ones are posted to the tracker (refused for inbound projects)",
    request: { params: IssueParams, headers: IdempotencyHeaders, body: jsonBody(CreateComment) },
    responses: { 201: jsonContent(CommentSchema, "The comment"), ...problemResponses, ...conflictResponse },
  }),
  update: createRoute({
    operationId: "updateComment",
    method: "patch",
    path: "/{projectId}/issues/{issueId}/comments/{commentId}",
    tags: ["comments"],
    summary: "Edit a local comment and queue the tracker edit (refused for inbound projects)",
    request: { params: CommentParams, body: jsonBody(UpdateComment) },
    responses: { 200: jsonContent(CommentSchema, "The comment"), ...problemResponses, ...conflictResponse },
  }),
  delete: createRoute({
    operationId: "deleteComment",
    method: "delete",
    path: "/{projectId}/issues/{issueId}/comments/{commentId}",
    tags: ["comments"],
    summary: "Delete a local comment and queue the tracker deletion (refused for inbound projects)",
    request: { params: CommentParams },
    responses: { 204: { description: "Deleted" }, ...problemResponses, ...conflictResponse },
  }),
  retryPush: createRoute({
    operationId: "retryIssueCommentPush",
    method: "post",
    path: "/{projectId}/issues/{issueId}/comments/{commentId}/retry-push",
    tags: ["comments"],
    summary: "Queue a comment's failed push again",
    request: { params: CommentParams },
    responses: {
      202: jsonContent(z.object({ status: z.literal("queued"), commentId: z.string() }).openapi("CommentPushRetried"), "The push is queued"),
      ...problemResponses,
      ...conflictResponse,
    },
  }),
};

export const commentsRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.list, async (c) => {
    const { issueId } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    const afterId = decodeCursor(cursor);
    const db = projectDatabase(c.env, c.var.project);
    if (!(await getIssue(db, c.var.project.id, issueId))) throw new NotFound("issue", issueId);
    const rows = await listIssueComments(db, c.var.project.id, issueId, { limit: limit + 1, afterId });
    const people = await peopleOf(db, c.var.project, rows.map((r) => r.author));
    return c.json(pageOf(rows, limit, (r) => commentToApi(r, people)), 200);
  })
  .openapi(routes.create, async (c) => {
    const { issueId } = c.req.valid("param");
    const input = c.req.valid("json");
    const author = input.author ?? (c.var as { apiToken?: { name: string } }).apiToken?.name ?? "syndarix";
    const db = projectDatabase(c.env, c.var.project);
    const row = await createLocalComment(c.env, db, c.var.project, issueId, { body: input.body, author, visibility: input.visibility }, { source: "api", actor: c.var.apiToken.name });
    return c.json(commentToApi(row, await peopleOf(db, c.var.project, [row.author])), 201);
  })
  .openapi(routes.update, async (c) => {
    const { issueId, commentId } = c.req.valid("param");
    const db = projectDatabase(c.env, c.var.project);
    const row = await editLocalComment(c.env, db, c.var.project, issueId, commentId, c.req.valid("json").body, { source: "api", actor: c.var.apiToken.name });
    return c.json(commentToApi(row, await peopleOf(db, c.var.project, [row.author])), 200);
  })
  .openapi(routes.delete, async (c) => {
    const { issueId, commentId } = c.req.valid("param");
    await deleteLocalComment(c.env, projectDatabase(c.env, c.var.project), c.var.project, issueId, commentId, { source: "api", actor: c.var.apiToken.name });
    return c.body(null, 204);
  })
  .openapi(routes.retryPush, async (c) => {
    const { issueId, commentId } = c.req.valid("param");
    await retryCommentPush(c.env, projectDatabase(c.env, c.var.project), c.var.project, commentId, { source: "api", actor: c.var.apiToken.name }, issueId);
    return c.json({ status: "queued" as const, commentId }, 202);
  });
