import { describe, expect, it } from "vitest";
import { emptyHealth, type ProjectHealth } from "../../src/db/health";
import type { ProjectRow, SyncRunRow } from "../../src/db/schema";
import { CHIP_RULES, CHIPS, chipOf, chipReasonOf, LATE_AFTER_MS } from "../../src/sync/status-chip";
import { summarize, type ProjectSummary } from "../../src/sync/status";

const CREATED = "2026-01-01T00:00:00.000Z";
const T0 = Date.parse(CREATED);
const at = (ms: number) => new Date(T0 + ms).toISOString();

function status(project: Partial<ProjectRow> = {}, health: Partial<ProjectHealth> = {}, now = T0): ProjectSummary {
  return summarize({ syncEnabled: true, createdAt: CREATED, lastIncrementalSyncAt: null, lastFullSyncAt: null, accessLostAt: null, ...project } as ProjectRow, { ...emptyHealth(), ...health }, now);
}

const run = (over: Partial<SyncRunRow>) => ({ status: "succeeded", finishedAt: CREATED, ...over }) as SyncRunRow;
const finished = (status: "failed" | "succeeded", finishedAt: string) => ({ id: "r", mode: "incremental" as const, status, finishedAt, error: status === "failed" ? "HTTP 401" : null });
const synced = { lastIncrementalSyncAt: CREATED, lastFullSyncAt: CREATED };

describe("status chip", () => {
  it("a brand-new project with no run yet is `new`, not `late`", () => {
    expect(chipOf(status(), T0 + 1_000)).toBe("new");
    expect(chipOf(status(), T0 + LATE_AFTER_MS)).toBe("new");
  });

  it("its first run, queued or going, is `importing`", () => {
    expect(chipOf(status({}, { activeRun: run({ status: "queued", finishedAt: null }) }), T0 + 1_000)).toBe("importing");
    expect(chipOf(status({}, { activeRun: run({ status: "running", finishedAt: null }) }), T0 + 60 * LATE_AFTER_MS)).toBe("importing");
  });

  it("never synced and still no run two cron intervals after creation is `late`", () => {
    expect(chipOf(status(), T0 + LATE_AFTER_MS + 1)).toBe("late");
  });

  it("a first run that failed is `failing`; a paused new project is `paused`", () => {
    expect(chipOf(status({}, { lastFinishedRun: finished("failed", CREATED) }), T0 + 1_000)).toBe("failing");
    expect(chipOf(status({ syncEnabled: false }), T0 + 1_000)).toBe("paused");
  });

  it("after a successful sync: healthy, syncing, then late once no run succeeded for two intervals", () => {
    expect(chipOf(status(synced), T0 + 1_000)).toBe("healthy");
    expect(chipOf(status(synced, { activeRun: run({ status: "running", finishedAt: null }) }), T0 + 1_000)).toBe("syncing");
    expect(chipOf(status(synced), T0 + LATE_AFTER_MS + 1)).toBe("late");
    expect(chipOf(status(synced, { lastAccessFailureAt: at(1_000) }), T0 + 2_000)).toBe("access lost");
  });

  it("open conflicts make a synced project `conflicts`, with their number next to the chip", () => {
    const s = status(synced, { openConflicts: 3 });
    expect(chipOf(s, T0 + 1_000)).toBe("conflicts");
    expect(chipReasonOf("conflicts", s, T0 + 1_000)).toMatch(/^3 open conflicts/);
  });

  it("a push failing again and again is `retrying` with its attempts and last error, issues and comments alike", () => {
    const issue = status(synced, { pushes: { pending: 1, failed: 0, retrying: 1, maxAttempts: 8, lastError: "HTTP 502 from the tracker" } });
    expect(chipOf(issue, T0 + 1_000)).toBe("retrying");
    expect(chipReasonOf("retrying", issue, T0 + 1_000)).toBe("1 push retrying after 8 failed attempts; last error: HTTP 502 from the tracker");
    const comment = status(synced, { commentPushes: { pending: 2, failed: 0, retrying: 2, maxAttempts: 3, lastError: null } });
    expect(chipOf(comment, T0 + 1_000)).toBe("retrying");
  });

  it("a stuck comment or pull request phase is `failing`, its reason naming the phase, since when, the error and what to do", () => {
    const since = at(1_000);
    const comments = status({ ...synced, commentPhaseError: "GitHub answered 403", commentPhaseErrorAt: since });
    expect(chipOf(comments, T0 + 2_000)).toBe("failing");
    expect(chipReasonOf("failing", comments, T0 + 2_000)).toBe(
      `comments: not synced since ${since} (issues still sync): GitHub answered 403; give the project a token that can read the repository's comments (or enable them on the tracker); the next run tries again`,
    );
    const pulls = status({ ...synced, pullRequestPhaseError: "HTTP 502 from the tracker", pullRequestPhaseErrorAt: since });
    expect(chipOf(pulls, T0 + 2_000)).toBe("failing");
    expect(chipReasonOf("failing", pulls, T0 + 2_000)).toMatch(/^pull requests: not synced since .*: HTTP 502 from the tracker; the next run tries again/);
    // A switched-off project stays `paused`: the phase waits with the rest.
    expect(chipOf(status({ ...synced, syncEnabled: false, commentPhaseError: "x", commentPhaseErrorAt: since }), T0 + 2_000)).toBe("paused");
    expect(CHIP_RULES.failing).toMatch(/phase/);
  });

  it("a refused comment push is `failing`, as a failed issue push is", () => {
    expect(chipOf(status(synced, { commentPushes: { pending: 0, failed: 1, retrying: 0, maxAttempts: 0, lastError: null } }), T0 + 1_000)).toBe("failing");
    expect(chipOf(status(synced, { pushes: { pending: 0, failed: 1, retrying: 0, maxAttempts: 0, lastError: null } }), T0 + 1_000)).toBe("failing");
    const s = status(synced, { commentPushes: { pending: 0, failed: 1, retrying: 0, maxAttempts: 0, lastError: null } });
    expect(chipReasonOf("failing", s, T0 + 1_000)).toMatch(/1 comment push failed/);
  });

  it("after the token is replaced, the earlier refusal and the run it failed no longer make the chip red", () => {
    const refused = { lastAccessFailureAt: at(60_000), lastFinishedRun: finished("failed", at(60_000)) };
    expect(chipOf(status(synced, refused), T0 + 90_000)).toBe("access lost");
    const fixed = status(synced, { ...refused, tokenReplacedAt: at(120_000) });
    expect(chipOf(fixed, T0 + 130_000)).toBe("healthy");
    expect(chipOf(status(synced, { ...refused, tokenReplacedAt: at(120_000), activeRun: run({ status: "running", finishedAt: null }) }), T0 + 130_000)).toBe("syncing");
    // Refused again with the new token: access lost again.
    expect(chipOf(status(synced, { ...refused, tokenReplacedAt: at(120_000), lastAccessFailureAt: at(180_000) }), T0 + 190_000)).toBe("access lost");
  });

  it("lag counts from the oldest change not applied yet, else from the last successful run, never from the cursor", () => {
    const quiet = status({ ...synced, cursor: "2023-01-01T00:00:00Z" } as Partial<ProjectRow>, {}, T0 + 90_000);
    expect(quiet.lagSeconds).toBe(90);
    const behind = status(synced, { oldestUnappliedAt: at(-30_000), unappliedDeliveries: 2 }, T0 + 90_000);
    expect(behind.lagSeconds).toBe(120);
    expect(status({}, {}, T0 + 90_000).lagSeconds).toBeNull();
  });

  it("every chip has its rule written down", () => {
    for (const c of CHIPS) expect(CHIP_RULES[c].length).toBeGreaterThan(10);
    expect(CHIPS).toContain("new");
  });
});
