/**
 * Pull requests as a record kind: a PR (GitLab: merge request) seen in a delivery or a listing is
 * stored, its links to issues recomputed from every source and diffed per source (so an edit that
 * removes a keyword removes only that source's link), and the project's `prAutomation` applied when
 * a merge completes an issue's closing PRs. Replays and redeliveries change nothing: every write is
 * the difference between what is stored and what the tracker now says.
 */
import type { ActivityEntry, ActivityOrigin } from "../db/activity";
import type { Database } from "../db/client";
import { fieldsOfRow, getIssue as getIssueRow } from "../db/issues";
import { getProject } from "../db/projects";
import {
  closingPullRequestStates,
  deleteLinkStatement,
  getLink,
  getPullRequestByNumber,
  getPullRequestByUrl,
  getPullRequestsByIds,
  getPullRequestsByNumbers,
  insertLinkStatement,
  linksOfIssues,
  issuesByNumbers,
  linksOfPullRequest,
  linksOfTarget,
  markLinkClosedStatement,
  projectsForRepository,
  upsertPullRequestStatement,
  writeDevelopment,
  type NewDevLink,
} from "../db/pull-requests";
import type { DevLinkRow, ProjectRow, PullRequestRow } from "../db/schema";
import type { Statement } from "../db/batch";
import { NotFound, StateConflict } from "../errors";
import { newId, nowIso } from "../ids";
import { errorText, log } from "../log";
import { closesIssuesOnDefaultBranchMerge, RateLimitedError, webHostOf } from "../providers";
import type { CanonicalPullRequest, CanonicalPush, ClosingIssueRef } from "../providers/types";
import type { SyncContext } from "./context";
import {
  branchIssueNumber,
  commitReferences,
  developmentStatus,
  lastClosingPrMerged,
  pushedBranch,
  textReferences,
  type DevelopmentStatus,
  type IssueReference,
  type Relation,
} from "./dev-links";
import { editIssue } from "./local-edits";

export type CloseOnMerge = "default_branch" | "any_branch" | "never";
export interface PrAutomation {
  closeOnMerge: CloseOnMerge;
  statusLabels?: { in_progress?: string; in_review?: string };
}

/** The project's setting; absent or unreadable means never. */
export function prAutomationOf(project: Pick<ProjectRow, "prAutomation">): PrAutomation {
  if (!project.prAutomation) return { closeOnMerge: "never" };
  try {
    const parsed = JSON.parse(project.prAutomation) as PrAutomation;
    return parsed && typeof parsed.closeOnMerge === "string" ? parsed : { closeOnMerge: "never" };
  } catch {
    return { closeOnMerge: "never" };
  }
}

type Source = DevLinkRow["source"];

/** One link the sources call for: an issue (by project and number), relation and source. */
interface WantedLink {
  projectId: string;
  issueNumber: number;
  relation: Relation;
  source: Source;
}

const keyOf = (l: { projectId: string; issueNumber: number | null; source: string }) => `${l.projectId}|${l.issueNumber}|${l.source}`;

/** Where references land: the project itself, another project syncing the named repository, or nowhere. */
class ReferenceResolver {
  private readonly cache = new Map<string, string | null>();
  private readonly ownHost: string | null;
  constructor(
    private readonly db: Database,
    private readonly project: ProjectRow,
  ) {
    this.ownHost = webHostOf(project.provider, project.apiBaseUrl);
  }

  private isOwn(repository: string): boolean {
    const name = repository.toLowerCase();
    return name === this.project.repository.toLowerCase() || name === this.project.trackerRepositoryName?.toLowerCase();
  }

  /** The project id the reference's issue belongs to, or null when no project syncs its repository. */
  async resolve(ref: Pick<IssueReference, "repository" | "host">): Promise<string | null> {
    if (ref.host !== null && ref.host !== this.ownHost) return null;
    if (ref.repository === null || this.isOwn(ref.repository)) return this.project.id;
    const key = ref.repository.toLowerCase();
    if (!this.cache.has(key)) {
      const candidates = await projectsForRepository(this.db, this.project.provider, ref.repository);
      const match = candidates.find((p) => webHostOf(p.provider, p.apiBaseUrl) === this.ownHost);
      this.cache.set(key, match?.id ?? null);
    }
    return this.cache.get(key) ?? null;
  }
}

function describeRef(ref: Pick<IssueReference, "repository" | "host" | "number">): string {
  return `${ref.host ? `${ref.host}/` : ""}${ref.repository ?? ""}#${ref.number}`;
}

/** Asks the tracker which issues the PR closes; a failure falls back to keywords (never fails the apply). */
async function trackerClosingIssues(ctx: SyncContext, number: number): Promise<ClosingIssueRef[] | null> {
  if (!ctx.tracker.closingIssues) return null;
  try {
    return await ctx.tracker.closingIssues(number);
  } catch (err) {
    if (err instanceof RateLimitedError) throw err;
    log.info("closing references could not be read; keywords are used", { projectId: ctx.project.id, number, error: errorText(err) });
    return null;
  }
}

/** A description is kept to at most 64,000 characters (≤ 256 kB of UTF-8, far under D1's row limit). */
const storedBody = (body: string) => body.slice(0, 64_000);
/** At most this many issue references per PR (a generated description may name thousands). */
const MAX_REFERENCES = 100;

function unchanged(stored: PullRequestRow, pr: CanonicalPullRequest): boolean {
  return (
    stored.state === pr.state &&
    stored.title === pr.title &&
    stored.body === storedBody(pr.body) &&
    stored.baseRef === pr.baseRef &&
    stored.headRef === pr.headRef &&
    stored.updatedAt === (pr.updatedAt ?? stored.updatedAt)
  );
}

/**
 * Whether applying `pr` over `stored` asks the tracker for its closing references: a PR that
 * changed and can still close something (open, draft, or merging now), so a first import of a long
 * history costs no call per old PR. The same rule applyPullRequest follows when it asks itself.
 */
function wantsClosingAnswer(stored: PullRequestRow | undefined, pr: CanonicalPullRequest): boolean {
  if (stored && pr.updatedAt && stored.updatedAt > pr.updatedAt) return false;
  const merged = stored ? { ...pr, baseRef: pr.baseRef ?? stored.baseRef, headRef: pr.headRef ?? stored.headRef } : pr;
  if (stored && unchanged(stored, merged)) return false;
  return merged.state === "open" || merged.state === "draft" || mayAutomate(merged);
}

/** A listing page's PRs with what was read for them before applying (see readClosingReferences). */
export interface ListedPullRequests {
  prs: readonly CanonicalPullRequest[];
  /** The stored rows by number; null when not read (the apply reads each itself). */
  stored: Map<number, PullRequestRow> | null;
  /** The tracker's closing references of the PRs asked; null when not asked in one request. */
  answers: Map<number, ClosingIssueRef[]> | null;
}

/**
 * A listing page's PRs: the closing references of those that need asking are read in one request
 * where the tracker can (GitHub GraphQL aliases), so an import of many open PRs costs one call per
 * page instead of one per PR; other trackers are asked per PR by the apply, as before. Separate
 * from the apply so the listing can send it while the page's issues are written. `asked`: the
 * answers of askClosingReferences, started when the page arrived; the stored rows are read now, as
 * the apply must see them (an earlier page of the step may have written the same PR).
 */
export async function readClosingReferences(
  ctx: SyncContext,
  prs: readonly CanonicalPullRequest[],
  asked?: Promise<Map<number, ClosingIssueRef[]>>,
): Promise<ListedPullRequests> {
  if (prs.length === 0 || !ctx.tracker.closingIssuesOfMany) return { prs, stored: null, answers: null };
  const stored = await storedByNumber(ctx, prs);
  return { prs, stored, answers: await (asked ?? askClosing(ctx, prs, stored)) };
}

/**
 * Asks for a listing page's closing references as soon as the page arrives, before the pages ahead
 * of it are written, so the answer is there when its turn to be written comes. Which PRs need
 * asking is read from the rows as they are now: a PR an earlier page of the step writes meanwhile
 * (the keyset's repeated boundary item) is at worst asked once more.
 */
export async function askClosingReferences(ctx: SyncContext, prs: readonly CanonicalPullRequest[]): Promise<Map<number, ClosingIssueRef[]>> {
  if (prs.length === 0 || !ctx.tracker.closingIssuesOfMany) return new Map();
  return askClosing(ctx, prs, await storedByNumber(ctx, prs));
}

async function storedByNumber(ctx: SyncContext, prs: readonly CanonicalPullRequest[]): Promise<Map<number, PullRequestRow>> {
  return new Map((await getPullRequestsByNumbers(ctx.db, ctx.project.id, prs.map((p) => p.number))).map((r) => [r.number, r]));
}

async function askClosing(ctx: SyncContext, prs: readonly CanonicalPullRequest[], stored: Map<number, PullRequestRow>): Promise<Map<number, ClosingIssueRef[]>> {
  const ask = prs.filter((pr) => wantsClosingAnswer(stored.get(pr.number), pr)).map((pr) => pr.number);
  if (ask.length === 0) return new Map();
  try {
    return await ctx.tracker.closingIssuesOfMany!(ask);
  } catch (err) {
    if (err instanceof RateLimitedError) throw err;
    log.info("closing references could not be read; keywords are used", { projectId: ctx.project.id, numbers: ask.length, error: errorText(err) });
    return new Map();
  }
}

/** Applies a listing page's PRs with what readClosingReferences read for them. */
export async function applyPullRequests(ctx: SyncContext, listed: ListedPullRequests): Promise<void> {
  const { prs, stored, answers } = listed;
  // Asked: its answer, or null (the tracker could not tell: what it said before stands). A PR not
  // asked (unchanged, or closed) gets null too, which is what applyPullRequest would decide itself.
  // The rows read before are current for the first occurrence of each number on the page.
  const applied = new Set<number>();
  const deferred: DeferredWrites = { statements: [], activity: [] };
  for (const pr of prs) {
    // A number seen twice on a page reads its first write back.
    if (applied.has(pr.number)) await flush(ctx.db, deferred);
    const known = stored && !applied.has(pr.number) ? (stored.get(pr.number) ?? null) : undefined;
    applied.add(pr.number);
    await applyPullRequest(ctx, pr, answers ? (answers.get(pr.number) ?? null) : undefined, known, deferred);
  }
  await flush(ctx.db, deferred);
}

interface DeferredWrites {
  statements: Statement[];
  activity: ActivityEntry[];
}

async function flush(db: Database, deferred: DeferredWrites): Promise<void> {
  if (deferred.statements.length === 0 && deferred.activity.length === 0) return;
  await writeDevelopment(db, deferred.statements.splice(0), deferred.activity.splice(0));
}

/** Whether applyStatusLabels may change a label: a linked issue in another project, or labels configured here. */
function mayNeedStatusLabels(project: ProjectRow, issues: readonly { projectId: string }[]): boolean {
  if (issues.length === 0) return false;
  if (issues.some((i) => i.projectId !== project.id)) return true;
  return project.syncDirection !== "inbound" && !!prAutomationOf(project).statusLabels;
}

export interface PullRequestOutcome {
  status: "applied" | "ignored";
  note: string | null;
}

/**
 * Stores the PR, recomputes its links and applies the project's automation. `closing`: the
 * tracker's own closing references when the caller already has them (otherwise asked once, for a
 * PR that changed).
 */
export async function applyPullRequest(
  ctx: SyncContext,
  pr: CanonicalPullRequest,
  closing?: ClosingIssueRef[] | null,
  /** The stored row when the caller has read it already (null: none stored). */
  known?: PullRequestRow | null,
  /** Where a write nothing reads back goes instead of D1, for the caller to write in one batch. */
  deferred?: DeferredWrites,
): Promise<PullRequestOutcome> {
  const { db, project } = ctx;
  const origin = ctx.origin ?? { source: "poll" as const };
  const stored = known !== undefined ? (known ?? undefined) : await getPullRequestByNumber(db, project.id, pr.number);
  if (stored && pr.updatedAt && stored.updatedAt > pr.updatedAt) {
    return { status: "ignored", note: `pull request #${pr.number}: the payload is older than the stored copy` };
  }
  // A listing item has no refs: what a delivery told us is kept.
  if (stored) pr = { ...pr, baseRef: pr.baseRef ?? stored.baseRef, headRef: pr.headRef ?? stored.headRef };
  if (stored && unchanged(stored, pr)) {
    // A merge first seen by a listing (no refs) is acted on when its delivery arrives.
    if (mayAutomate(pr)) {
      // Automation reads the other PRs' links and states: the page's earlier writes first.
      if (deferred) await flush(db, deferred);
      await closeOnMerge(ctx, stored.id, pr);
    }
    return { status: "applied", note: null };
  }

  const now = nowIso();
  const id = stored?.id ?? newId();
  const resolver = new ReferenceResolver(db, project);
  const wanted = new Map<string, WantedLink>();
  const ignored: string[] = [];
  const want = async (ref: Pick<IssueReference, "repository" | "host" | "number">, relation: Relation, source: Source) => {
    const projectId = await resolver.resolve(ref);
    if (projectId === null) {
      ignored.push(describeRef(ref));
      return;
    }
    // A PR naming itself links nothing (GitHub and Gitea number PRs with issues; GitLab's `#N` is always an issue).
    if (project.provider !== "gitlab" && projectId === project.id && ref.number === pr.number) return;
    const link = { projectId, issueNumber: ref.number, relation, source };
    const seen = wanted.get(keyOf(link));
    if (!seen || (seen.relation === "references" && relation === "closes")) wanted.set(keyOf(link), link);
  };

  // 1. The tracker's own closing references (see wantsClosingAnswer).
  const existing = stored ? (await linksOfPullRequest(db, stored.id)).filter((l) => l.source !== "manual") : [];
  const ask = closing === undefined && (pr.state === "open" || pr.state === "draft" || mayAutomate(pr));
  const fromTracker = closing !== undefined ? closing : ask ? await trackerClosingIssues(ctx, pr.number) : null;
  if (fromTracker === null) {
    // Not asked, or the tracker could not tell: what it said before stands.
    for (const l of existing) if (l.source === "tracker" && l.issueNumber !== null) wanted.set(keyOf(l), { projectId: l.projectId, issueNumber: l.issueNumber, relation: l.relation, source: "tracker" });
  }
  for (const ref of fromTracker ?? []) await want({ repository: ref.repository, host: null, number: ref.number }, "closes", "tracker");
  // 2. Keywords and references in title and description, by the tracker's grammar.
  for (const ref of textReferences(project.provider, `${pr.title}\n${pr.body}`).slice(0, MAX_REFERENCES)) await want(ref, ref.relation, "keyword");
  // 3. The branch name: a reference, never a close.
  const branchNumber = pr.headRef ? branchIssueNumber(pr.headRef) : null;
  if (branchNumber !== null) await want({ repository: null, host: null, number: branchNumber }, "references", "branch");

  const existingByKey = new Map(existing.map((l) => [keyOf(l), l]));
  const statements: Statement[] = [];
  const activity: ActivityEntry[] = [];
  const issueIds = await localIssueIds(db, [...wanted.values(), ...existing.map((l) => ({ projectId: l.projectId, issueNumber: l.issueNumber ?? 0 }))]);
  const entry = (projectId: string, issueNumber: number | null, kind: ActivityEntry["kind"], detail: string): ActivityEntry => ({
    projectId,
    issueId: issueNumber !== null ? (issueIds.get(`${projectId}|${issueNumber}`) ?? null) : null,
    kind,
    origin,
    detail,
    createdAt: now,
  });

  statements.push(
    upsertPullRequestStatement(db, {
      id,
      projectId: project.id,
      externalId: pr.externalId,
      number: pr.number,
      title: pr.title,
      body: storedBody(pr.body),
      url: pr.url,
      author: pr.author ?? stored?.author ?? null,
      state: pr.state,
      baseRef: pr.baseRef,
      headRef: pr.headRef,
      mergedAt: pr.mergedAt,
      closedAt: pr.closedAt,
      updatedAt: pr.updatedAt ?? stored?.updatedAt ?? now,
      ignoredRefs: JSON.stringify(ignored.slice(0, 50)),
      createdAt: stored?.createdAt ?? now,
    }),
  );
  for (const [key, link] of existingByKey) {
    const still = wanted.get(key);
    if (still && still.relation === link.relation) continue;
    statements.push(deleteLinkStatement(db, link.id));
    if (!still) activity.push(entry(link.projectId, link.issueNumber, "pr.unlinked", `pull request #${pr.number} (${link.source}: ${link.relation})`));
  }
  for (const [key, link] of wanted) {
    const had = existingByKey.get(key);
    if (had && had.relation === link.relation) continue;
    statements.push(insertLinkStatement(db, linkRow(link, id, pr, now)));
    activity.push(entry(link.projectId, link.issueNumber, "pr.linked", `pull request #${pr.number} ${link.relation} (${link.source})`));
  }
  const previouslyIgnored = stored ? (JSON.parse(stored.ignoredRefs) as string[]) : [];
  const newlyIgnored = ignored.filter((r) => !previouslyIgnored.includes(r));
  if (newlyIgnored.length > 0) {
    activity.push(entry(project.id, null, "pr.reference_ignored", `pull request #${pr.number} names ${newlyIgnored.join(", ")}: no project syncs that repository`));
  }
  if (stored?.state !== pr.state) {
    const linkedIssues = new Map([...wanted.values()].map((l) => [`${l.projectId}|${l.issueNumber}`, l]));
    const detail = `pull request #${pr.number} ${stored ? `${stored.state} → ` : ""}${pr.state}`;
    if (linkedIssues.size === 0) activity.push(entry(project.id, null, "pr.state_changed", detail));
    for (const l of linkedIssues.values()) activity.push(entry(l.projectId, l.issueNumber, "pr.state_changed", detail));
  }
  const outcome: PullRequestOutcome = { status: "applied", note: ignored.length > 0 ? `references to repositories no project syncs were ignored: ${ignored.join(", ")}` : null };
  const touched = [...wanted.values(), ...existing.flatMap((l) => (l.issueNumber !== null ? [{ projectId: l.projectId, issueNumber: l.issueNumber }] : []))];
  // Nothing reads this PR's rows after the write (no automation, no status labels to set): a
  // listing page's writes go out in one batch (see applyPullRequests).
  if (deferred && !mayAutomate(pr) && !mayNeedStatusLabels(project, touched)) {
    deferred.statements.push(...statements);
    deferred.activity.push(...activity);
    return outcome;
  }
  // What follows reads the other PRs' links and states back: the page's earlier writes go first.
  if (deferred) await flush(db, deferred);
  await writeDevelopment(db, statements, activity);

  if (mayAutomate(pr)) await closeOnMerge(ctx, id, pr);
  await applyStatusLabels(ctx, touched);
  return outcome;
}

/**
 * Automation needs to know where the PR merged: deliveries say (base and default branch); the
 * GitHub issue listing does not, so a merge seen only there is linked and shown, never acted on.
 */
function mayAutomate(pr: CanonicalPullRequest): boolean {
  return pr.state === "merged" && pr.baseRef !== null && pr.defaultBranch !== null;
}

function linkRow(link: WantedLink, pullRequestId: string, pr: CanonicalPullRequest, now: string): NewDevLink & { id: string } {
  return {
    id: newId(),
    projectId: link.projectId,
    issueNumber: link.issueNumber,
    issueId: null,
    kind: "pull_request",
    targetKey: `pr:${pullRequestId}`,
    pullRequestId,
    ref: null,
    url: pr.url,
    title: pr.title,
    relation: link.relation,
    source: link.source,
    closedIssueAt: null,
    createdAt: now,
  };
}

async function localIssueIds(db: Database, links: readonly { projectId: string; issueNumber: number }[]): Promise<Map<string, string>> {
  const byProject = new Map<string, number[]>();
  for (const l of links) byProject.set(l.projectId, [...(byProject.get(l.projectId) ?? []), l.issueNumber]);
  const ids = new Map<string, string>();
  for (const [projectId, numbers] of byProject) {
    for (const row of await issuesByNumbers(db, projectId, [...new Set(numbers)])) {
      if (row.externalNumber !== null) ids.set(`${projectId}|${row.externalNumber}`, row.id);
    }
  }
  return ids;
}

/**
 * A merged PR closes each issue it `closes` once every other closing PR of that issue is merged or
 * abandoned, by the issue's project's setting; never in inbound projects. Where the tracker closes
 * the issue itself (a default-branch merge on GitHub and GitLab) nothing is pushed: its close
 * arrives as an ordinary change, and the link records that this PR closed it.
 */
async function closeOnMerge(ctx: SyncContext, pullRequestId: string, pr: CanonicalPullRequest): Promise<void> {
  const links = (await linksOfPullRequest(ctx.db, pullRequestId)).filter((l) => l.relation === "closes" && l.issueNumber !== null);
  const byIssue = new Map<string, DevLinkRow[]>();
  for (const l of links) byIssue.set(`${l.projectId}|${l.issueNumber}`, [...(byIssue.get(`${l.projectId}|${l.issueNumber}`) ?? []), l]);
  const intoDefault = pr.baseRef !== null && pr.defaultBranch !== null && pr.baseRef === pr.defaultBranch;
  for (const issueLinks of byIssue.values()) {
    const first = issueLinks[0]!;
    if (issueLinks.some((l) => l.closedIssueAt !== null)) continue; // closed by this PR already: exactly once
    const others = (await closingPullRequestStates(ctx.db, first.projectId, first.issueNumber!)).filter((s) => s.pullRequestId !== pullRequestId);
    if (!lastClosingPrMerged(others.map((s) => s.state))) continue;
    // The tracker closes what it itself lists as closing (a keyword it does not honour, e.g. with
    // GitLab's auto-close off, leaves the close to us).
    const trackerCloses = intoDefault && closesIssuesOnDefaultBranchMerge(ctx.project.provider) && issueLinks.some((l) => l.source === "tracker");
    await closeIssueBy(ctx, first, issueLinks, { trackerCloses, intoDefault, what: `pull request #${pr.number}` });
  }
}

async function closeIssueBy(
  ctx: SyncContext,
  first: DevLinkRow,
  links: readonly DevLinkRow[],
  how: { trackerCloses: boolean; intoDefault: boolean; what: string },
): Promise<void> {
  const project = first.projectId === ctx.project.id ? ctx.project : await getProject(ctx.db, first.projectId);
  if (!project) return;
  const [local] = await issuesByNumbers(ctx.db, project.id, [first.issueNumber!]);
  if (!local || local.deletedAt !== null || local.syncState === "orphaned") return;
  const now = nowIso();
  const origin = ctx.origin ?? { source: "poll" as const };
  const marks = links.map((l) => markLinkClosedStatement(ctx.db, l.id, now));
  if (how.trackerCloses) {
    // The tracker closes it; its close reaches us as any other change. Recorded, nothing pushed.
    await writeDevelopment(ctx.db, marks, [
      { projectId: project.id, issueId: local.id, kind: "issue.closed_by_pr", origin, detail: `${how.what} (closed by the tracker on merge)`, createdAt: now },
    ]);
    return;
  }
  // Inbound projects show links and status; the tracker alone closes their issues.
  if (project.syncDirection === "inbound") return;
  const automation = prAutomationOf(project).closeOnMerge;
  if (automation === "never" || (automation === "default_branch" && !how.intoDefault)) return;
  if (local.state !== "open") return;
  // editIssue is a no-op for an issue already closed, so a retry after a lost mark closes nothing twice.
  await editIssue(ctx.env, ctx.db, project, local.id, { state: "closed" }, origin);
  await writeDevelopment(ctx.db, marks, [{ projectId: project.id, issueId: local.id, kind: "issue.closed_by_pr", origin, detail: how.what, createdAt: now }]);
}

/**
 * A push: each commit's references become commit links (closing only on the default branch), the
 * branch name a branch link; a closing commit on the default branch closes its issue (the tracker
 * does so itself on GitHub and GitLab, so there it is only recorded).
 */
export async function applyPush(ctx: SyncContext, push: CanonicalPush): Promise<PullRequestOutcome> {
  const { db, project } = ctx;
  const branch = pushedBranch(push.ref);
  if (branch === null) return { status: "applied", note: null };
  const onDefault = push.defaultBranch !== null && branch === push.defaultBranch;
  const origin = ctx.origin ?? { source: "poll" as const };
  const now = nowIso();
  const resolver = new ReferenceResolver(db, project);
  const candidates: (NewDevLink & { id: string })[] = [];
  const ignored: string[] = [];
  for (const commit of push.commits) {
    for (const ref of commitReferences(project.provider, commit.message, onDefault).slice(0, MAX_REFERENCES)) {
      const projectId = await resolver.resolve(ref);
      if (projectId === null) {
        ignored.push(describeRef(ref));
        continue;
      }
      candidates.push({
        id: newId(),
        projectId,
        issueNumber: ref.number,
        issueId: null,
        kind: "commit",
        targetKey: `commit:${commit.sha}`,
        pullRequestId: null,
        ref: commit.sha,
        url: commit.url,
        title: commit.message.split("\n")[0]!.slice(0, 200),
        relation: ref.relation,
        source: "commit",
        closedIssueAt: null,
        createdAt: now,
      });
    }
  }
  const branchNumber = onDefault ? null : branchIssueNumber(branch);
  if (branchNumber !== null) {
    candidates.push({
      id: newId(),
      projectId: project.id,
      issueNumber: branchNumber,
      issueId: null,
      kind: "branch",
      targetKey: `branch:${branch}`,
      pullRequestId: null,
      ref: branch,
      url: null,
      title: branch,
      relation: "references",
      source: "branch",
      closedIssueAt: null,
      createdAt: now,
    });
  }
  const stored = await linksOfTarget(db, [...new Set(candidates.map((c) => c.targetKey))]);
  const storedKeys = new Set(stored.map((l) => `${l.targetKey}|${l.projectId}|${l.issueNumber}|${l.source}|${l.relation}`));
  const fresh = candidates.filter((c) => !storedKeys.has(`${c.targetKey}|${c.projectId}|${c.issueNumber}|${c.source}|${c.relation}`));
  const issueIds = await localIssueIds(db, fresh.map((c) => ({ projectId: c.projectId, issueNumber: c.issueNumber! })));
  const activity: ActivityEntry[] = fresh.map((c) => ({
    projectId: c.projectId,
    issueId: issueIds.get(`${c.projectId}|${c.issueNumber}`) ?? null,
    kind: "pr.linked",
    origin,
    detail: `${c.kind} ${c.ref} ${c.relation}`,
    createdAt: now,
  }));
  if (ignored.length > 0) {
    activity.push({ projectId: project.id, kind: "pr.reference_ignored", origin, detail: `push to ${branch} names ${ignored.join(", ")}: no project syncs that repository`, createdAt: now });
  }
  await writeDevelopment(db, fresh.map((c) => insertLinkStatement(db, c)), activity);
  await applyStatusLabels(ctx, fresh.map((c) => ({ projectId: c.projectId, issueNumber: c.issueNumber! })));

  // A closing commit on the default branch: the issue closes (exactly once per issue).
  const closingLinks = (await linksOfTarget(db, [...new Set(candidates.map((c) => c.targetKey))])).filter((l) => l.kind === "commit" && l.relation === "closes");
  const byIssue = new Map<string, DevLinkRow[]>();
  for (const l of closingLinks) byIssue.set(`${l.projectId}|${l.issueNumber}`, [...(byIssue.get(`${l.projectId}|${l.issueNumber}`) ?? []), l]);
  for (const links of byIssue.values()) {
    if (links.some((l) => l.closedIssueAt !== null)) continue;
    await closeIssueBy(ctx, links[0]!, links, {
      trackerCloses: closesIssuesOnDefaultBranchMerge(project.provider),
      intoDefault: true,
      what: `commit ${links[0]!.ref?.slice(0, 12)}`,
    });
  }
  return { status: "applied", note: ignored.length > 0 ? `references to repositories no project syncs were ignored: ${ignored.join(", ")}` : null };
}

// ---------- reading: an issue's development ----------

export interface Development {
  status: DevelopmentStatus;
  pullRequests: { number: number; url: string; title: string; state: PullRequestRow["state"]; relation: Relation }[];
  branches: { name: string; relation: Relation }[];
  commits: { sha: string; url: string | null; title: string | null; relation: Relation }[];
  /** What closed the issue, when a PR or commit did (by us or by the tracker). */
  closedBy: { kind: "pull_request" | "commit"; number: number | null; sha: string | null; url: string | null; at: string } | null;
  /** Every link row (manual ones can be removed by id). */
  links: { id: string; kind: DevLinkRow["kind"]; relation: Relation; source: Source; url: string | null; ref: string | null; pullRequestNumber: number | null }[];
}

type IssueKey = { id: string; externalNumber: number | null };

const stronger = (a: Relation, b: Relation): Relation => (a === "closes" || b === "closes" ? "closes" : "references");

/** The development of each issue (one query for links, one for their PRs). */
export async function developmentOf(db: Database, projectId: string, list: readonly IssueKey[]): Promise<Map<string, Development>> {
  const links = await linksOfIssues(db, projectId, list);
  const prs = new Map((await getPullRequestsByIds(db, [...new Set(links.flatMap((l) => (l.pullRequestId ? [l.pullRequestId] : [])))])).map((p) => [p.id, p]));
  const result = new Map<string, Development>();
  for (const issue of list) {
    const mine = links.filter((l) => l.issueId === issue.id || (l.projectId === projectId && issue.externalNumber !== null && l.issueNumber === issue.externalNumber));
    result.set(issue.id, buildDevelopment(mine, prs));
  }
  return result;
}

function buildDevelopment(links: readonly DevLinkRow[], prs: ReadonlyMap<string, PullRequestRow>): Development {
  const byPr = new Map<string, Development["pullRequests"][number]>();
  const branches = new Map<string, Development["branches"][number]>();
  const commits = new Map<string, Development["commits"][number]>();
  let closedBy: Development["closedBy"] = null;
  for (const l of links) {
    const pr = l.pullRequestId ? prs.get(l.pullRequestId) : undefined;
    if (pr) {
      const seen = byPr.get(pr.id);
      byPr.set(pr.id, { number: pr.number, url: pr.url, title: pr.title, state: pr.state, relation: seen ? stronger(seen.relation, l.relation) : l.relation });
    } else if (l.kind === "branch" && l.ref) {
      branches.set(l.ref, { name: l.ref, relation: stronger(branches.get(l.ref)?.relation ?? "references", l.relation) });
    } else if (l.kind === "commit" && l.ref) {
      commits.set(l.ref, { sha: l.ref, url: l.url, title: l.title, relation: stronger(commits.get(l.ref)?.relation ?? "references", l.relation) });
    }
    if (l.closedIssueAt && (!closedBy || l.closedIssueAt > closedBy.at)) {
      closedBy = { kind: pr ? "pull_request" : "commit", number: pr?.number ?? null, sha: pr ? null : l.ref, url: pr?.url ?? l.url, at: l.closedIssueAt };
    }
  }
  const pullRequests = [...byPr.values()].sort((a, b) => a.number - b.number);
  return {
    status: developmentStatus(pullRequests.map((p) => p.state), branches.size > 0 || commits.size > 0),
    pullRequests,
    branches: [...branches.values()],
    commits: [...commits.values()],
    closedBy,
    links: links.map((l) => ({
      id: l.id,
      kind: l.kind,
      relation: l.relation,
      source: l.source,
      url: l.url,
      ref: l.ref,
      pullRequestNumber: l.pullRequestId ? (prs.get(l.pullRequestId)?.number ?? null) : null,
    })),
  };
}

// ---------- manual links ----------

/**
 * Links an issue to a URL by hand: a PR of the project (by its web URL) becomes a PR link that
 * counts for status and automation; any other URL is kept as a plain link.
 */
export async function addManualLink(db: Database, project: ProjectRow, issueId: string, input: { url: string; relation: Relation }, origin: ActivityOrigin): Promise<DevLinkRow> {
  const issue = await getIssueRow(db, project.id, issueId);
  if (!issue) throw new NotFound("issue", issueId);
  const pr = await getPullRequestByUrl(db, project.id, input.url);
  const targetKey = pr ? `pr:${pr.id}` : `url:${input.url}`;
  const existing = (await linksOfTarget(db, [targetKey])).find((l) => l.issueId === issueId && l.source === "manual");
  if (existing && existing.relation === input.relation) return existing;
  const now = nowIso();
  const row: NewDevLink & { id: string } = {
    id: newId(),
    projectId: project.id,
    issueNumber: issue.externalNumber,
    issueId,
    kind: pr ? "pull_request" : "url",
    targetKey,
    pullRequestId: pr?.id ?? null,
    ref: null,
    url: input.url,
    title: pr?.title ?? null,
    relation: input.relation,
    source: "manual",
    closedIssueAt: null,
    createdAt: now,
  };
  await writeDevelopment(
    db,
    [...(existing ? [deleteLinkStatement(db, existing.id)] : []), insertLinkStatement(db, row)],
    [{ projectId: project.id, issueId, kind: "pr.linked", origin, detail: `${pr ? `pull request #${pr.number}` : input.url} ${input.relation} (manual)`, createdAt: now }],
  );
  return row as DevLinkRow;
}

/** Removes a manual link; links the tracker's data makes cannot be removed here (409). */
export async function removeManualLink(db: Database, project: ProjectRow, issueId: string, linkId: string, origin: ActivityOrigin): Promise<void> {
  const issue = await getIssueRow(db, project.id, issueId);
  if (!issue) throw new NotFound("issue", issueId);
  const link = await getLink(db, linkId);
  const belongs = link && (link.issueId === issueId || (link.projectId === project.id && link.issueNumber !== null && link.issueNumber === issue.externalNumber));
  if (!link || !belongs) throw new NotFound("link", linkId);
  if (link.source !== "manual") throw new StateConflict(`link ${linkId} comes from the tracker (${link.source}); change the pull request, branch or commit instead`);
  const now = nowIso();
  await writeDevelopment(db, [deleteLinkStatement(db, link.id)], [{ projectId: project.id, issueId, kind: "pr.unlinked", origin, detail: `${link.url ?? link.targetKey} (manual)`, createdAt: now }]);
}

/** The issues each PR links, one entry per issue (strongest relation, every source), with local ids resolved. */
export async function issuesOfPullRequests(
  db: Database,
  links: readonly DevLinkRow[],
): Promise<Map<string, { issueId: string | null; projectId: string; issueNumber: number | null; relation: Relation; sources: Source[] }[]>> {
  const ids = await localIssueIds(db, links.flatMap((l) => (l.issueNumber !== null ? [{ projectId: l.projectId, issueNumber: l.issueNumber }] : [])));
  const result = new Map<string, Map<string, { issueId: string | null; projectId: string; issueNumber: number | null; relation: Relation; sources: Source[] }>>();
  for (const l of links) {
    if (!l.pullRequestId) continue;
    const issueId = l.issueId ?? ids.get(`${l.projectId}|${l.issueNumber}`) ?? null;
    const key = issueId ?? `${l.projectId}|${l.issueNumber}`;
    const perPr = result.get(l.pullRequestId) ?? new Map();
    const seen = perPr.get(key);
    perPr.set(key, {
      issueId,
      projectId: l.projectId,
      issueNumber: l.issueNumber,
      relation: seen ? stronger(seen.relation, l.relation) : l.relation,
      sources: [...new Set([...(seen?.sources ?? []), l.source])],
    });
    result.set(l.pullRequestId, perPr);
  }
  return new Map([...result].map(([id, m]) => [id, [...m.values()]]));
}

// ---------- status labels ----------

/**
 * `prAutomation.statusLabels`: the label named for the issue's development status (in_progress,
 * in_review) is kept on it and the other one removed; a local edit like any other, so it reaches
 * the tracker by the ordinary push. Never in inbound projects; labels not configured are left alone.
 */
async function applyStatusLabels(ctx: SyncContext, issues: readonly { projectId: string; issueNumber: number }[]): Promise<void> {
  const seen = new Set<string>();
  for (const { projectId, issueNumber } of issues) {
    const key = `${projectId}|${issueNumber}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const project = projectId === ctx.project.id ? ctx.project : await getProject(ctx.db, projectId);
    const labels = project ? prAutomationOf(project).statusLabels : undefined;
    if (!project || !labels || project.syncDirection === "inbound") continue;
    const [local] = await issuesByNumbers(ctx.db, projectId, [issueNumber]);
    if (!local || local.deletedAt !== null || local.syncState === "orphaned") continue;
    const issue = await getIssueRow(ctx.db, projectId, local.id);
    if (!issue) continue;
    const status = (await developmentOf(ctx.db, projectId, [issue])).get(issue.id)!.status;
    const current = fieldsOfRow(issue).labels;
    const managed = [labels.in_progress, labels.in_review].filter((l): l is string => !!l);
    const want = status === "in_progress" ? labels.in_progress : status === "in_review" ? labels.in_review : undefined;
    const next = [...current.filter((l) => !managed.includes(l)), ...(want ? [want] : [])];
    if (next.length === current.length && next.every((l) => current.includes(l))) continue;
    await editIssue(ctx.env, ctx.db, project, issue.id, { labels: next }, ctx.origin ?? { source: "poll" });
  }
}
