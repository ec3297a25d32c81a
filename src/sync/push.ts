/**
 * Outbound push: one issue's pending local change reaches the tracker exactly once.
 *
 * Runs inside the project's Durable Object chain (serialized with polls and webhook applies); only
 * local API edits can interleave, and every write that depends on them is guarded by the issue
 * version read before the tracker call.
 *
 * - Create once: the attempt is recorded before the create is sent. A retry that finds an attempt
 *   on record (the answer may have been lost after the tracker created the issue) first looks for
 *   that issue and adopts it instead of creating a second one.
 * - Update: only the fields where local differs from the base (what the tracker last held) are
 *   sent, computed at push time, so several edits before the push runs are one tracker call. The
 *   answer becomes the new base and external `updated_at`, so the webhook or poll that brings our
 *   own change back equals the base and changes nothing (echo suppression in decide.ts).
 * - Pacing: one create per second per project (`projects.next_create_at`), under GitHub's secondary
 *   limit of 80 content-creating requests a minute. A create that finds the slot taken reserves the
 *   next free one (its row's `next_attempt_at`) and its message is retried then, so a burst of N
 *   creates costs one retry each. GitHub's hourly cap (500) and every other rate limit come back as
 *   `RateLimitedError`, which moves the row's `next_attempt_at` (and, for creates, the project's
 *   pacing) to the reset time. The queue message is retried then, never slept on.
 */
import type { ActivityEntry } from "../db/activity";
import { projectDatabaseById } from "../db/shards";
import { fieldsOfRow, fieldsToColumns, getIssue, getIssueByExternalId } from "../db/issues";
import {
  closeOutbox,
  deferPush,
  delayCreates,
  failExhaustedPush,
  failPush,
  getOutboxRow,
  nextCreateAt,
  recordCreateAttempt,
  recordPushAttempt,
  reserveCreateSlot,
  storePushResult,
} from "../db/outbox";
import type { IssueRow, OutboxRow } from "../db/schema";
import type { Env } from "../env";
import { nowIso } from "../ids";
import { log } from "../log";
import { TrackerError, type CanonicalIssue, type IssueFields } from "../providers/types";
import { originOf, rowChanges } from "./activity";
import { adoptionWindow, firstAdoptable, inAdoptionWindow, sameStoredText } from "./adoption";
import { ACCESS_LOST_RETRY_MS, AGAIN, commonFailure, DONE, settleRounds, type PushOutcome, type Step } from "./settle";
import { applySnapshots } from "./apply-snapshots";
import type { SyncContext } from "./context";
import { applyGone, proveIssueGone, type GoneReason } from "./deletion";
import { mergeThreeWay } from "./merge";
import { recordRepositoryObservation } from "./repository";
import { keepRefused, onlyRefusedDiffer, refusedFields, warningsJson, type SyncWarning } from "./refused-fields";
import { mergeWarnings, writeWithPolicies } from "./creation-policy";
import { inboundAllowed, outboundAllowed } from "./field-directions";
import { settingsOf } from "./project-settings";
import { inScope } from "./scope";
import { inboundCloseReason, outboundCloseReason } from "./close-reason";
import { markFrozen, unlinkLeavingIssue } from "./scope-leave";
import { mapSnapshot, valueMaps } from "./value-maps";
import { baseOfRow, changedFields, fieldsEqual, normalizeFields, pickFields, snapshotHash, SYNCED_FIELDS, type SyncedField } from "./snapshot";

export type { PushOutcome } from "./settle";

/** Minimum spacing of tracker creates within one project. */
export const CREATE_SPACING_MS = 1_000;
/** Pushes the issue's pending outbox row, if any. Idempotent: duplicate jobs find nothing to do. */
export async function pushIssue(ctx: SyncContext, issueId: string): Promise<PushOutcome> {
  ctx = { ...ctx, origin: ctx.origin ?? { source: "push" } };
  try {
    return await settleRounds(() => pushOnce(ctx, issueId));
  } finally {
    await recordRepositoryObservation(ctx);
  }
}

async function pushOnce(ctx: SyncContext, issueId: string): Promise<Step> {
  const [issue, row] = await Promise.all([getIssue(ctx.db, ctx.project.id, issueId), getOutboxRow(ctx.db, issueId)]);
  if (!issue || !row || row.status !== "pending") return DONE;
  // Sync switched off: nothing goes to the tracker. The row stays pending and is sent when sync is
  // enabled again (the cron sweep re-sends pending rows of enabled projects).
  if (!ctx.project.syncEnabled) return DONE;
  // Paused (credentials rejected, installation suspended, repository removed): the same, until resumed.
  if (ctx.credential.pausedReason) return DONE;
  if (ctx.project.syncDirection === "inbound") {
    // Switched to inbound after the edit: the tracker is the master now, local edits are not sent.
    await closeOutbox(ctx.db, issueId, "failed", "the project syncs inbound only", nowIso());
    return DONE;
  }
  if (issue.syncState === "orphaned" || issue.deletedAt !== null) {
    await closeOutbox(ctx.db, issueId, "failed", issue.syncError ?? "the tracker issue is gone", nowIso());
    return DONE;
  }
  const now = Date.now();
  if (row.nextAttemptAt && Date.parse(row.nextAttemptAt) > now) return { kind: "wait", retryAt: row.nextAttemptAt };
  try {
    return issue.externalId === null ? await createStep(ctx, issue, row, now) : await updateStep(ctx, issue, issue.externalNumber);
  } catch (err) {
    return handleFailure(ctx, issue, err);
  }
}

async function createStep(ctx: SyncContext, issue: IssueRow, row: OutboxRow, now: number): Promise<Step> {
  // A row with a `next_attempt_at` that has come holds a reserved slot (or waited out a rate limit).
  if (row.nextAttemptAt === null) {
    const pacedUntil = await nextCreateAt(ctx.db, ctx.project.id);
    if (pacedUntil && Date.parse(pacedUntil) > now) {
      const next = nowIso(Date.parse(pacedUntil) + CREATE_SPACING_MS);
      await reserveCreateSlot(ctx.db, { projectId: ctx.project.id, issueId: issue.id, slot: pacedUntil, next });
      return { kind: "wait", retryAt: pacedUntil };
    }
  }

  const local = fieldsOfRow(issue);
  const settings = settingsOf(ctx.project);
  const maps = valueMaps(settings.fieldMaps);
  if (!inScope(settings.scope, { ...local, createdAt: issue.createdAt })) {
    // Only issues in the sync scope reach the tracker; a later edit that brings it into scope pushes it.
    await closeOutbox(ctx.db, issue.id, "done", "not in the project's sync scope: not created on the tracker", nowIso());
    return DONE;
  }
  const lost = row.createAttemptedAt ? await findLostCreate(ctx, issue, row.createAttemptedAt) : null;
  const found = lost ? mapSnapshot(maps, lost) : null;
  if (found) {
    // Adopted: merged three-way against the fields the create sent (stored as the base before it
    // was sent), so an edit made on the tracker since is kept; outbound projects put local back.
    const tracker = normalizeFields(found);
    const merged =
      ctx.project.syncDirection === "outbound"
        ? normalizeFields(local)
        : mergeThreeWay({ base: baseOfRow(issue), local, tracker, master: ctx.project.master }).merged;
    return store(ctx, issue, found, tracker, merged, fieldsEqual(merged, tracker), `linked to #${found.number}, created by an earlier attempt`);
  }

  await recordCreateAttempt(ctx.db, {
    projectId: ctx.project.id,
    issueId: issue.id,
    sent: local,
    at: nowIso(now),
    nextCreateAt: nowIso(now + CREATE_SPACING_MS),
  });
  const sent = await writeWithPolicies(ctx.tracker, settings, maps, local, (out) =>
    ctx.tracker.createIssue({ ...out, closeReason: outboundCloseReason(local.state, issue.closeReason) }),
  );
  const created = mapSnapshot(maps, sent.answer);
  // A tracker answering with an issue another local issue is linked to (a broken proxy, a hostile
  // tracker) would fail the link's unique key on every retry: refused once, with the reason.
  const taken = await getIssueByExternalId(ctx.db, ctx.project.id, created.externalId);
  if (taken && taken.id !== issue.id) {
    throw new TrackerError(`the tracker answered the create with issue #${created.number} (id ${created.externalId}), which is already linked to local issue ${taken.id}; not linked twice`, null, false);
  }
  // Every field was sent: what the tracker stored is the base; a field it dropped silently is kept locally.
  const base = normalizeFields(created);
  const warnings = mergeWarnings(sent.warnings, refusedFields(local, base, SYNCED_FIELDS));
  return store(ctx, issue, created, base, keepRefused(base, local, warnings), true, `created #${created.number} in the tracker`, warnings);
}

/**
 * The issue an earlier attempt created and never heard back about: made by the token's own user
 * (the tracker query filters on it), with the title and body the attempt sent, created within a
 * short window of the attempt, and not already another local issue's (two same-titled creates).
 */
async function findLostCreate(ctx: SyncContext, issue: IssueRow, attemptedAt: string): Promise<CanonicalIssue | null> {
  const window = adoptionWindow(attemptedAt);
  const sent = baseOfRow(issue);
  const body = (sent ?? normalizeFields(fieldsOfRow(issue))).body;
  // The tracker's search already filters on the token's own user and the window's start.
  const accept = async (candidate: CanonicalIssue): Promise<boolean> =>
    (await firstAdoptable(
      [candidate],
      (c) => inAdoptionWindow(window, c.createdAt) && sameStoredText(normalizeFields(c).body, body),
      async () => true,
      async (c) => (await getIssueByExternalId(ctx.db, ctx.project.id, c.externalId)) === undefined,
    )) !== null;
  const titles = [...new Set([sent?.title, issue.title].filter((t): t is string => t !== undefined))];
  for (const title of titles) {
    const found = await ctx.tracker.findCreatedIssue(title, window.from, accept);
    if (found) return found;
  }
  return null;
}

async function updateStep(ctx: SyncContext, issue: IssueRow, number: number | null): Promise<Step> {
  if (number === null) throw new TrackerError("the issue is linked to a tracker issue without a number", null, false);
  const local = fieldsOfRow(issue);
  const base = baseOfRow(issue);
  const settings = settingsOf(ctx.project);
  const maps = valueMaps(settings.fieldMaps);
  // Per-field direction: a field local may not change on the tracker is never sent.
  const fields: SyncedField[] = (base ? changedFields(base, local) : [...SYNCED_FIELDS]).filter((f) => outboundAllowed(ctx.project, settings.fieldDirections, f));
  if (fields.length === 0) {
    // Nothing differs from the tracker (the edits were undone, or a poll already brought them).
    return store(ctx, issue, null, base!, local, true, null);
  }
  // Read the tracker first: an edit made there since the base must be merged (and a true conflict
  // settled by master and recorded), never silently overwritten. No tracker offers If-Match on
  // issues, so the window left is the time between this read and the update.
  const lookup = await ctx.tracker.getIssue(number);
  if (lookup.status === "deleted" || lookup.status === "moved") {
    return applyDeletionPolicy(ctx, issue, lookup.status === "moved" ? { status: "moved", movedTo: lookup.movedTo } : { status: "deleted" });
  }
  if (lookup.status === "no_access") throw new TrackerError("the token can no longer read this tracker issue", 403, false);
  if (lookup.status === "access_lost") return waitForAccess(ctx, issue);
  // The number now holds another issue (another id): ours is gone from it, whatever the number says.
  if (lookup.issue.externalId !== issue.externalId) return applyDeletionPolicy(ctx, issue, { status: "deleted" });
  const current = mapSnapshot(maps, lookup.issue);
  // Left the sync scope (on either side): frozen, nothing is sent and nothing is closed or deleted.
  if (!inScope(settings.scope, lookup.issue, current.labels) || !inScope(settings.scope, { ...local, createdAt: issue.createdAt })) {
    // onLeave "unlink": the link is dropped instead (the tracker issue is left as it is).
    if (settings.scope?.onLeave === "unlink") return (await unlinkLeavingIssue(ctx, issue)) ? DONE : AGAIN;
    await markFrozen(ctx, [{ issue, inScope: false }]);
    await closeOutbox(ctx.db, issue.id, "done", "frozen: the issue is not in the project's sync scope", nowIso());
    return DONE;
  }
  await markFrozen(ctx, [{ issue, inScope: true }]);
  const stale = issue.externalUpdatedAt !== null && current.updatedAt < issue.externalUpdatedAt;
  if (!stale && (await snapshotHash(normalizeFields(current))) !== issue.baseHash) {
    await applySnapshots(ctx, [lookup.issue]);
    return AGAIN;
  }
  // The close reason goes with a state change (the only time GitHub takes it).
  const sent = await writeWithPolicies(ctx.tracker, settings, maps, pickFields(local, fields), (out) =>
    ctx.tracker.updateIssue(number, out.state === undefined ? out : { ...out, closeReason: outboundCloseReason(out.state, issue.closeReason) }),
  );
  const answer = mapSnapshot(maps, sent.answer);
  const tracker = normalizeFields(answer);
  // A sent field the answer does not hold was refused silently: keep it locally and say so.
  const warnings = mergeWarnings(sent.warnings, refusedFields(local, tracker, fields));
  const merged = keepRefused(mergeAnswer((field) => inboundAllowed(ctx.project, settings.fieldDirections, field), local, tracker, fields), local, warnings);
  return store(ctx, issue, answer, tracker, merged, fieldsEqual(merged, tracker) || onlyRefusedDiffer(merged, tracker, warnings), `sent ${fields.join(", ")} to #${number}`, warnings);
}

/**
 * Local fields after an update: sent fields take what the tracker stored; a field not sent was
 * equal to the base locally, so a different answer is a tracker edit — taken (bidirectional) or
 * put back by the next round (outbound: local is master).
 */
function mergeAnswer(takesTracker: (field: SyncedField) => boolean, local: IssueFields, tracker: IssueFields, sent: readonly SyncedField[]): IssueFields {
  const merged = { ...local };
  for (const field of SYNCED_FIELDS) {
    if (sent.includes(field) || takesTracker(field)) Object.assign(merged, pickFields(tracker, [field]));
  }
  return normalizeFields(merged);
}

/** Stores the result; done when settled at the version read, else another round. */
async function store(
  ctx: SyncContext,
  issue: IssueRow,
  answer: CanonicalIssue | null,
  base: IssueFields,
  local: IssueFields,
  settled: boolean,
  /** What the tracker was sent, for the activity stream (null: nothing was sent). */
  what: string | null,
  warnings: readonly SyncWarning[] = [],
): Promise<Step> {
  const now = nowIso();
  const entry = { projectId: ctx.project.id, issueId: issue.id, origin: originOf(ctx, "push"), createdAt: now };
  const activity: ActivityEntry[] = [];
  if (answer && what) {
    const linked = issue.externalNumber !== answer.number ? { externalNumber: { before: issue.externalNumber, after: answer.number } } : null;
    activity.push({ ...entry, kind: "issue.pushed", detail: what, changes: linked });
  }
  // Local fields and sync state change only if the issue was still at the version read.
  const after = { ...issue, ...fieldsToColumns(local), syncState: settled ? ("synced" as const) : ("pending_push" as const) };
  const changes = rowChanges(issue, after);
  if (changes) activity.push({ ...entry, kind: "issue.updated", changes, onlyIfIssue: { id: issue.id, version: issue.version + 1 } });
  const mapping = answer
    ? { externalId: answer.externalId, externalNumber: answer.number, externalUrl: answer.url, externalUpdatedAt: answer.updatedAt }
    : { externalId: issue.externalId!, externalNumber: issue.externalNumber!, externalUrl: issue.externalUrl, externalUpdatedAt: issue.externalUpdatedAt };
  const atVersion = await storePushResult(ctx.db, {
    issue,
    mapping,
    base,
    baseHash: await snapshotHash(base),
    local,
    settled,
    warnings: warningsJson(warnings),
    now,
    activity,
    // Our own write: the reason the tracker stored with the state we now hold.
    closeReason: answer ? inboundCloseReason(answer, local.state, true) : undefined,
  });
  return atVersion && settled ? DONE : AGAIN;
}

async function handleFailure(ctx: SyncContext, issue: IssueRow, failure: unknown): Promise<Step> {
  const now = nowIso();
  const err = await commonFailure(failure, {
    isCreate: issue.externalId === null,
    defer: (at) => deferPush(ctx.db, issue.id, at),
    delayCreates: (at) => delayCreates(ctx.db, ctx.project.id, at),
    recordAttempt: (message, at) => recordPushAttempt(ctx.db, issue.id, message, at),
  });
  if (!(err instanceof TrackerError)) return err;
  if (issue.externalNumber !== null && (err.status === 404 || err.status === 410)) {
    const gone = await proveIssueGone(ctx, issue.externalNumber, issue.externalId);
    if (gone === "access_lost") return waitForAccess(ctx, issue);
    if (gone) return applyDeletionPolicy(ctx, issue, gone);
  }
  log.error("push refused by the tracker", { projectId: ctx.project.id, issueId: issue.id, status: err.status, error: err.message });
  await failPush(ctx.db, { issueId: issue.id, version: issue.version, reason: `push failed: ${err.message}`, now }, [
    {
      projectId: ctx.project.id,
      issueId: issue.id,
      origin: originOf(ctx, "push"),
      createdAt: now,
      onlyIfIssue: { id: issue.id, version: issue.version },
      kind: err.status === 401 || err.status === 403 ? "access.failed" : "push.refused",
      changes: { syncState: { before: issue.syncState, after: "error" } },
      detail: `the tracker refused the push${err.status ? ` (HTTP ${err.status})` : ""}: ${err.message}`,
    },
  ]);
  return DONE;
}

/**
 * The repository itself answers 404: the token lost access. Nothing is deleted or orphaned; the
 * edit stays pending and is tried again later (status shows the lost access meanwhile).
 */
async function waitForAccess(ctx: SyncContext, issue: IssueRow): Promise<Step> {
  const retryAt = nowIso(Date.now() + ACCESS_LOST_RETRY_MS);
  await deferPush(ctx.db, issue.id, retryAt);
  log.info("push waits: the token cannot read the repository", { projectId: ctx.project.id, issueId: issue.id });
  return { kind: "wait", retryAt };
}

async function applyDeletionPolicy(ctx: SyncContext, issue: IssueRow, gone: GoneReason): Promise<Step> {
  const outcome = await applyGone(ctx, issue, gone);
  // Recreate: the row is pending again as a create, so the next round creates it right away.
  if (outcome === "recreated") return AGAIN;
  if (outcome !== "deleted") {
    const why = gone.status === "moved" ? "the tracker issue was moved" : "the tracker issue was deleted";
    await closeOutbox(ctx.db, issue.id, "failed", why, nowIso());
  }
  return DONE;
}

/**
 * Called by the push dead-letter consumer when a push job's retries are exhausted: the outbox row
 * fails and the issue shows the reason (syncState "error", syncError) through the API.
 */
export async function recordPushFailure(env: Env, projectId: string, issueId: string, error: string): Promise<void> {
  const db = await projectDatabaseById(env, projectId);
  const row = await getOutboxRow(db, issueId);
  if (!row || row.status !== "pending") return;
  const reason = row.lastError ? `push failed (${error}): ${row.lastError}` : `push failed: ${error}`;
  const now = nowIso();
  const marked = await failExhaustedPush(db, { projectId, issueId, reason, now }, [
    { projectId, issueId, origin: { source: "push" }, createdAt: now, kind: "push.failed", changes: { syncState: { before: null, after: "error" } }, detail: reason },
  ]);
  if (marked) log.error("push failed for good", { projectId, issueId, error: reason });
}
