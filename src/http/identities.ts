/**
 * People: identity mappings (platform user ↔ tracker login, per tracker origin) and the logins a
 * project has seen without one. Changes are activity entries on every project of that tracker.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { catalogDatabase, projectDatabase } from "../db/shards";
import { listIdentities, unmappedLogins } from "../db/identities";
import type { IdentityRow } from "../db/schema";
import { PROVIDERS } from "../providers/types";
import { MAX_EMAIL_LOOKUPS, putIdentitiesInAllShards, removeIdentityInAllShards, spaceOf, suggestProjectUsers } from "../sync/identities";
import { decodeCursor, IdParam, IsoTimestamp, jsonBody, jsonContent, listOf, ListQuery, pageOf, problemResponses, ProblemSchema, ProjectIdParams } from "./common";
import type { AppEnv } from "./project";
import { validationHook } from "./validation";

export const IdentitySchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    provider: z.enum(PROVIDERS),
    trackerOrigin: z.string().openapi({ description: "The tracker's API origin, e.g. https://api.github.com" }),
    login: z.string(),
    trackerUserId: z.string().nullable().openapi({ description: "The tracker's numeric user id: a renamed login still maps" }),
    email: z.string().nullable().openapi({ description: "The platform user's email (lower case): only ever used to suggest mappings" }),
    createdAt: IsoTimestamp,
    updatedAt: IsoTimestamp,
  })
  .openapi("Identity");

const IdentityInput = z.strictObject({
  userId: z.string().trim().min(1).max(200),
  provider: z.enum(PROVIDERS),
  trackerOrigin: z.string().trim().min(1).max(500),
  login: z.string().trim().min(1).max(255),
  trackerUserId: z
    .union([z.string().trim().regex(/^\d{1,20}$/, "must be the tracker's numeric user id"), z.number().int().positive().max(Number.MAX_SAFE_INTEGER)])
    .transform(String)
    .optional(),
  email: z.email().max(320).optional().openapi({ description: "The platform user's email; a tracker's public email matching it suggests this user for an unmapped login" }),
});
const PutIdentities = z.strictObject({ items: z.array(IdentityInput).min(1).max(500) }).openapi("PutIdentities");

const IdentityQuery = ListQuery.extend({
  userId: z.string().min(1).max(200).optional(),
  login: z.string().min(1).max(255).optional(),
});

const UnmappedLogin = z
  .object({
    login: z.string(),
    seen: z.number().int().openapi({ description: "Issues and comments naming the login" }),
    suggestedUserId: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: "With suggest=true: the platform user whose identity email equals the login's public email on the tracker (a suggestion, never mapped)" }),
  })
  .openapi("UnmappedLogin");

const UnmappedQuery = ListQuery.pick({ limit: true }).extend({
  suggest: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: `Read the tracker's public profile of each listed login (at most ${MAX_EMAIL_LOOKUPS}) to suggest a platform user by email` }),
});

function identityToApi(r: IdentityRow): z.infer<typeof IdentitySchema> {
  return { id: r.id, userId: r.userId, provider: r.provider, trackerOrigin: r.trackerOrigin, login: r.login, trackerUserId: r.trackerUserId, email: r.email, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

const routes = {
  put: createRoute({
    operationId: "upsertIdentities",
    method: "put",
    path: "/identities",
    tags: ["identities"],
    summary: "Map platform users to tracker logins (bulk upsert on provider, trackerOrigin and login)",
    request: { body: jsonBody(PutIdentities) },
    responses: {
      200: jsonContent(z.object({ items: z.array(IdentitySchema) }).openapi("IdentityPutResult"), "The identities as stored"),
      ...problemResponses,
      422: { description: "An item cannot be stored as sent (`errors` names `items.<i>.<field>`)", content: { "application/problem+json": { schema: ProblemSchema } } },
    },
  }),
  list: createRoute({
    operationId: "listIdentities",
    method: "get",
    path: "/identities",
    tags: ["identities"],
    request: { query: IdentityQuery },
    responses: { 200: jsonContent(listOf(IdentitySchema, "IdentityList"), "Identities"), ...problemResponses },
  }),
  remove: createRoute({
    operationId: "deleteIdentity",
    method: "delete",
    path: "/identities/{identityId}",
    tags: ["identities"],
    request: { params: z.object({ identityId: IdParam("identityId") }) },
    responses: { 204: { description: "Deleted" }, ...problemResponses },
  }),
  unmapped: createRoute({
    operationId: "listUnmappedLogins",
    method: "get",
    path: "/projects/{projectId}/identities/unmapped",
    tags: ["identities"],
    summary: "Tracker logins seen in the project (assignees, comment authors) that no identity maps",
    request: { params: ProjectIdParams, query: UnmappedQuery },
    responses: { 200: jsonContent(z.object({ items: z.array(UnmappedLogin) }).openapi("UnmappedLogins"), "Unmapped logins, by name"), ...problemResponses },
  }),
};

export const identitiesRouter = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.put, async (c) => {
    const rows = await putIdentitiesInAllShards(c.env, c.req.valid("json").items, { source: "api", actor: c.var.apiToken.name });
    return c.json({ items: rows.map(identityToApi) }, 200);
  })
  .openapi(routes.list, async (c) => {
    const { limit, cursor, userId, login } = c.req.valid("query");
    const rows = await listIdentities(catalogDatabase(c.env), { userId, login, limit: limit + 1, afterId: decodeCursor(cursor) });
    return c.json(pageOf(rows, limit, identityToApi), 200);
  })
  .openapi(routes.remove, async (c) => {
    await removeIdentityInAllShards(c.env, c.req.valid("param").identityId, { source: "api", actor: c.var.apiToken.name });
    return c.body(null, 204);
  })
  .openapi(routes.unmapped, async (c) => {
    const { limit, suggest } = c.req.valid("query");
    const items = await unmappedLogins(projectDatabase(c.env, c.var.project), c.var.project.id, spaceOf(c.var.project), limit);
    if (suggest !== "true") return c.json({ items }, 200);
    const suggestions = await suggestProjectUsers(c.env, c.var.project.id, items.map((i) => i.login));
    return c.json({ items: items.map((i) => ({ ...i, suggestedUserId: suggestions.get(i.login) ?? null })) }, 200);
  });
