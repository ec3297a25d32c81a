/**
 * Pull requests and development links: the queries. Writers hand back statements so a PR, its link
 * changes and their activity entries commit in one batch (see activity.ts).
 */
import { and, asc, eq, gt, gte, inArray, isNull, or, sql, type SQL } from "drizzle-orm";
import { activityStatements, type ActivityEntry } from "./activity";
import { runBatch, type Statement } from "./batch";
import type { Database } from "./client";
import { devLinks, issues, projects, pullRequests, type DevLinkRow, type ProjectRow, type PullRequestRow } from "./schema";

export type NewPullRequest = typeof pullRequests.$inferInsert;

/** D1 binds at most 100 parameters per statement: IN lists are read in chunks well under it. */
const CHUNK = 40;

async function chunked<T, R>(values: readonly T[], read: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < values.length; i += CHUNK) out.push(...(await read(values.slice(i, i + CHUNK))));
  return out;
}
export type NewDevLink = typeof devLinks.$inferInsert;

export async function getPullRequestByNumber(db: Database, projectId: string, number: number): Promise<PullRequestRow | undefined> {
  return db.select().from(pullRequests).where(and(eq(pullRequests.projectId, projectId), eq(pullRequests.number, number))).get();
}

/** The project's stored PRs among these numbers (a listing page's, read at once). */
export async function getPullRequestsByNumbers(db: Database, projectId: string, numbers: readonly number[]): Promise<PullRequestRow[]> {
  return chunked([...new Set(numbers)], (chunk) => db.select().from(pullRequests).where(and(eq(pullRequests.projectId, projectId), inArray(pullRequests.number, chunk))).all());
}

export async function getPullRequestsByIds(db: Database, ids: readonly string[]): Promise<PullRequestRow[]> {
  return chunked([...new Set(ids)], (chunk) => db.select().from(pullRequests).where(inArray(pullRequests.id, chunk)).all());
}

/** The PR whose web URL this is, in the project (manual links name PRs by URL). */
export async function getPullRequestByUrl(db: Database, projectId: string, url: string): Promise<PullRequestRow | undefined> {
  return db.select().from(pullRequests).where(and(eq(pullRequests.projectId, projectId), eq(pullRequests.url, url))).get();
}

export function upsertPullRequestStatement(db: Database, row: NewPullRequest & { id: string }): Statement {
  const { id: _id, projectId: _p, number: _n, createdAt: _c, ...changing } = row;
  return db.insert(pullRequests).values(row).onConflictDoUpdate({ target: [pullRequests.projectId, pullRequests.number], set: changing });
}

export function insertLinkStatement(db: Database, row: NewDevLink & { id: string }): Statement {
  return db.insert(devLinks).values(row).onConflictDoNothing();
}

export function deleteLinkStatement(db: Database, id: string): Statement {
  return db.delete(devLinks).where(eq(devLinks.id, id));
}

/** Marks the link as having closed its issue, once: a second mark changes nothing. */
export function markLinkClosedStatement(db: Database, id: string, at: string): Statement {
  return db.update(devLinks).set({ closedIssueAt: at }).where(and(eq(devLinks.id, id), isNull(devLinks.closedIssueAt)));
}

/** Writes the statements and the activity entries describing them in one atomic batch. */
export async function writeDevelopment(db: Database, statements: Statement[], activity: readonly ActivityEntry[]): Promise<void> {
  await runBatch(db, [...statements, ...activityStatements(activity)]);
}

export async function linksOfPullRequest(db: Database, pullRequestId: string): Promise<DevLinkRow[]> {
  return db.select().from(devLinks).where(eq(devLinks.pullRequestId, pullRequestId)).all();
}

export async function linksOfTarget(db: Database, targetKeys: readonly string[]): Promise<DevLinkRow[]> {
  return chunked([...new Set(targetKeys)], (chunk) => db.select().from(devLinks).where(inArray(devLinks.targetKey, chunk)).all());
}

function issueMatch(projectId: string, issue: { id: string; externalNumber: number | null }): SQL {
  const byNumber = issue.externalNumber !== null ? and(eq(devLinks.projectId, projectId), eq(devLinks.issueNumber, issue.externalNumber)) : undefined;
  return (byNumber ? or(eq(devLinks.issueId, issue.id), byNumber) : eq(devLinks.issueId, issue.id)) as SQL;
}

/** Every link of an issue: tracker-made ones by its number, manual ones by its id. */
export async function linksOfIssue(db: Database, projectId: string, issue: { id: string; externalNumber: number | null }): Promise<DevLinkRow[]> {
  return db.select().from(devLinks).where(issueMatch(projectId, issue)).orderBy(devLinks.createdAt, devLinks.id).all();
}

/** Links of many issues of one project at once (the issue list). */
export async function linksOfIssues(db: Database, projectId: string, list: readonly { id: string; externalNumber: number | null }[]): Promise<DevLinkRow[]> {
  const rows = await chunked(list, (chunk) => {
    const numbers = chunk.flatMap((i) => (i.externalNumber !== null ? [i.externalNumber] : []));
    const ids = chunk.map((i) => i.id);
    const byNumber = numbers.length ? and(eq(devLinks.projectId, projectId), inArray(devLinks.issueNumber, numbers)) : undefined;
    const where = byNumber ? or(inArray(devLinks.issueId, ids), byNumber) : inArray(devLinks.issueId, ids);
    return db.select().from(devLinks).where(where).all();
  });
  // A link can match two chunks (by id in one, by number in another): once each, in creation order.
  const unique = [...new Map(rows.map((r) => [r.id, r])).values()];
  return unique.sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));
}

export async function getLink(db: Database, id: string): Promise<DevLinkRow | undefined> {
  return db.select().from(devLinks).where(eq(devLinks.id, id)).get();
}

/** The local issues of a project with these tracker numbers (id, number, state only). */
export async function issuesByNumbers(
  db: Database,
  projectId: string,
  numbers: readonly number[],
): Promise<{ id: string; externalNumber: number | null; state: "open" | "closed"; deletedAt: string | null; syncState: string }[]> {
  return chunked([...new Set(numbers)], (chunk) =>
    db
      .select({ id: issues.id, externalNumber: issues.externalNumber, state: issues.state, deletedAt: issues.deletedAt, syncState: issues.syncState })
      .from(issues)
      .where(and(eq(issues.projectId, projectId), inArray(issues.externalNumber, chunk)))
      .all(),
  );
}

/** Projects of this tracker syncing a repository of this name (any case; its current name after a rename counts). */
export async function projectsForRepository(db: Database, provider: ProjectRow["provider"], repository: string): Promise<ProjectRow[]> {
  const name = repository.toLowerCase();
  return db
    .select()
    .from(projects)
    .where(and(eq(projects.provider, provider), or(sql`lower(${projects.repository}) = ${name}`, sql`lower(${projects.trackerRepositoryName}) = ${name}`)))
    .all();
}

export interface PullRequestFilter {
  state?: "open" | "draft" | "merged" | "closed" | "all";
  updatedSince?: string;
}

/** In the order they were first stored; `afterId` is the cursor. */
export async function listPullRequests(db: Database, projectId: string, filter: PullRequestFilter, page: { limit: number; afterId: string | null }): Promise<PullRequestRow[]> {
  return db
    .select()
    .from(pullRequests)
    .where(
      and(
        eq(pullRequests.projectId, projectId),
        filter.state && filter.state !== "all" ? eq(pullRequests.state, filter.state) : undefined,
        filter.updatedSince ? gte(pullRequests.updatedAt, filter.updatedSince) : undefined,
        page.afterId !== null ? gt(pullRequests.id, page.afterId) : undefined,
      ),
    )
    .orderBy(asc(pullRequests.id))
    .limit(page.limit)
    .all();
}

export async function linksOfPullRequests(db: Database, ids: readonly string[]): Promise<DevLinkRow[]> {
  return chunked([...new Set(ids)], (chunk) => db.select().from(devLinks).where(inArray(devLinks.pullRequestId, chunk)).all());
}

/** States of every PR that closes (by any source) the issue `number` of the project. */
export async function closingPullRequestStates(db: Database, projectId: string, number: number): Promise<{ pullRequestId: string; state: PullRequestRow["state"] }[]> {
  return db
    .selectDistinct({ pullRequestId: pullRequests.id, state: pullRequests.state })
    .from(devLinks)
    .innerJoin(pullRequests, eq(pullRequests.id, devLinks.pullRequestId))
    .where(and(eq(devLinks.projectId, projectId), eq(devLinks.issueNumber, number), eq(devLinks.relation, "closes")))
    .all();
}

/**
 * The PR phase completed: its own cursor moves on (never back) and a failure recorded earlier is
 * cleared. The issue and comment cursors are not touched: each phase keeps its own.
 */
export async function storePullRequestCursor(db: Database, projectId: string, cursor: string | null): Promise<void> {
  await db
    .update(projects)
    .set({
      pullRequestCursor: sql`CASE WHEN ${projects.pullRequestCursor} IS NULL OR ${projects.pullRequestCursor} < ${cursor} THEN ${cursor} ELSE ${projects.pullRequestCursor} END`,
      pullRequestPhaseError: null,
      pullRequestPhaseErrorAt: null,
    })
    .where(eq(projects.id, projectId));
}
