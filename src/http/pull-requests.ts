/**
 * Development links over HTTP: the project's pull requests, an issue's development (status, PRs,
 * branches, commits) and its manual links. Reads only, except manual links.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Database } from "../db/client";
import { projectDatabase } from "../db/shards";
import { getIssue } from "../db/issues";
import { linksOfPullRequests, listPullRequests } from "../db/pull-requests";
import type { PullRequestRow } from "../db/schema";
import { NotFound } from "../errors";
import { addManualLink, developmentOf, issuesOfPullRequests, removeManualLink, type Development } from "../sync/pull-requests";
import { conflictResponse, decodeCursor, IdParam, IsoTimestamp, jsonBody, jsonContent, listOf, ListQuery, pageOf, problemResponses, ProjectIdParams } from "./common";
import type { AppEnv } from "./project";
import { validationHook } from "./validation";

const Relation = z.enum(["closes", "references"]);
const PrState = z.enum(["open", "draft", "merged", "closed"]);
const LinkSource = z.enum(["tracker", "keyword", "branch", "commit", "manual"]);

export const DevelopmentSchema = z
  .object({
    status: z.enum(["none", "in_progress", "in_review", "merged", "abandoned"]).openapi({ description: "Derived from the linked pull requests, branches and commits; read-only" }),
    pullRequests: z.array(z.object({ number: z.number().int(), url: z.string(), title: z.string(), state: PrState, relation: Relation })),
    branches: z.array(z.object({ name: z.string(), relation: Relation })),
    commits: z.array(z.object({ sha: z.string(), url: z.string().nullable(), title: z.string().nullable(), relation: Relation })),
    closedBy: z
      .object({
        kind: z.enum(["pull_request", "commit"]),
        number: z.number().int().nullable(),
        sha: z.string().nullable(),
        url: z.string().nullable(),
        at: IsoTimestamp,
      })
      .nullable()
      .openapi({ description: "The pull request or commit that closed the issue (by the tracker or by prAutomation)" }),
    links: z.array(
      z.object({
        id: z.string(),
        kind: z.enum(["pull_request", "branch", "commit", "url"]),
        relation: Relation,
        source: LinkSource,
        url: z.string().nullable(),
        ref: z.string().nullable(),
        pullRequestNumber: z.number().int().nullable(),
      }),
    ),
  })
  .openapi("Development");

export function developmentToApi(d: Development): z.infer<typeof DevelopmentSchema> {
  return d;
}

const PullRequestSchema = z
  .object({
    id: z.string(),
    number: z.number().int(),
    title: z.string(),
    url: z.string(),
    author: z.string().nullable(),
    state: PrState,
    draft: z.boolean(),
    baseRef: z.string().nullable(),
    headRef: z.string().nullable(),
    mergedAt: IsoTimestamp.nullable(),
    closedAt: IsoTimestamp.nullable(),
    updatedAt: IsoTimestamp,
    issues: z
      .array(
        z.object({
          issueId: z.string().nullable().openapi({ description: "The local issue; null while the tracker issue is not imported yet" }),
          projectId: z.string(),
          issueNumber: z.number().int().nullable(),
          relation: Relation,
          sources: z.array(LinkSource),
        }),
      )
      .openapi({ description: "The issues the PR links, one entry per issue" }),
  })
  .openapi("PullRequest");

const ManualLink = z.strictObject({ url: z.url().max(2000), relation: Relation.default("references") }).openapi("ManualLink");
const IssueParams = z.object({ projectId: IdParam("projectId"), issueId: IdParam("issueId") });
const LinkParams = IssueParams.extend({ linkId: IdParam("linkId") });

const routes = {
  list: createRoute({
    operationId: "listPullRequests",
    method: "get",
    path: "/{projectId}/pull-requests",
    tags: ["development"],
    summary: "The project's pull requests (GitLab: merge requests) with the issues each links",
    request: {
      params: ProjectIdParams,
      query: ListQuery.extend({
        state: z.enum(["open", "draft", "merged", "closed", "all"]).default("all"),
        updatedSince: z.iso.datetime({ offset: true }).optional().openapi({ description: "ISO-8601 instant; pull requests updated at or after it" }),
      }),
    },
    responses: { 200: jsonContent(listOf(PullRequestSchema, "PullRequestList"), "Pull requests"), ...problemResponses },
  }),
  development: createRoute({
    operationId: "getIssueDevelopment",
    method: "get",
    path: "/{projectId}/issues/{issueId}/development",
    tags: ["development"],
    summary: "An issue's development status, pull requests, branches and commits",
    request: { params: IssueParams },
    responses: { 200: jsonContent(DevelopmentSchema, "The development"), ...problemResponses },
  }),
  addLink: createRoute({
    operationId: "addIssueLink",
    method: "post",
    path: "/{projectId}/issues/{issueId}/links",
    tags: ["development"],
    summary: "Link the issue to a URL by hand (a pull request of the project's repository counts for status and automation)",
    request: { params: IssueParams, body: jsonBody(ManualLink) },
    responses: { 201: jsonContent(DevelopmentSchema, "The issue's development after the change"), ...problemResponses },
  }),
  removeLink: createRoute({
    operationId: "removeIssueLink",
    method: "delete",
    path: "/{projectId}/issues/{issueId}/links/{linkId}",
    tags: ["development"],
    summary: "Remove a manual link (links made from tracker data: 409)",
    request: { params: LinkParams },
    responses: { 204: { description: "Removed" }, ...problemResponses, ...conflictResponse },
  }),
};

async function developmentOfIssue(db: Database, projectId: string, issueId: string): Promise<Development> {
  const issue = await getIssue(db, projectId, issueId);
  if (!issue) throw new NotFound("issue", issueId);
  return (await developmentOf(db, projectId, [issue])).get(issue.id)!;
}

function toApi(row: PullRequestRow, issues: z.infer<typeof PullRequestSchema>["issues"]): z.infer<typeof PullRequestSchema> {
  return {
    id: row.id,
    number: row.number,
    title: row.title,
    url: row.url,
    author: row.author,
    state: row.state,
    draft: row.state === "draft",
    baseRef: row.baseRef,
    headRef: row.headRef,
    mergedAt: row.mergedAt,
    closedAt: row.closedAt,
    updatedAt: row.updatedAt,
    issues,
  };
}

export const pullRequestsRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.list, async (c) => {
    const { limit, cursor, state, updatedSince } = c.req.valid("query");
    const db = projectDatabase(c.env, c.var.project);
    const rows = await listPullRequests(
      db,
      c.var.project.id,
      { state, updatedSince: updatedSince ? new Date(updatedSince).toISOString() : undefined },
      { limit: limit + 1, afterId: decodeCursor(cursor) },
    );
    const issues = await issuesOfPullRequests(db, await linksOfPullRequests(db, rows.slice(0, limit).map((r) => r.id)));
    return c.json(pageOf(rows, limit, (row) => toApi(row, issues.get(row.id) ?? [])), 200);
  })
  .openapi(routes.development, async (c) => {
    const { issueId } = c.req.valid("param");
    return c.json(developmentToApi(await developmentOfIssue(projectDatabase(c.env, c.var.project), c.var.project.id, issueId)), 200);
  })
  .openapi(routes.addLink, async (c) => {
    const { issueId } = c.req.valid("param");
    const db = projectDatabase(c.env, c.var.project);
    await addManualLink(db, c.var.project, issueId, c.req.valid("json"), { source: "api", actor: c.var.apiToken.name });
    return c.json(developmentToApi(await developmentOfIssue(db, c.var.project.id, issueId)), 201);
  })
  .openapi(routes.removeLink, async (c) => {
    const { issueId, linkId } = c.req.valid("param");
    await removeManualLink(projectDatabase(c.env, c.var.project), c.var.project, issueId, linkId, { source: "api", actor: c.var.apiToken.name });
    return c.body(null, 204);
  });
