import { describe, expect, it } from "vitest";
import type { ProjectRow, SyncRunRow } from "../../src/db/schema";
import { CHIP_RULES, CHIPS, chipOf, LATE_AFTER_MS } from "../../src/sync/status-chip";
import type { SyncStatus } from "../../src/sync/status";

const CREATED = "2026-01-01T00:00:00.000Z";
const T0 = Date.parse(CREATED);

function status(project: Partial<ProjectRow> = {}, rest: Partial<SyncStatus> = {}): SyncStatus {
  return {
    project: { syncEnabled: true, createdAt: CREATED, lastIncrementalSyncAt: null, lastFullSyncAt: null, ...project } as ProjectRow,
    lagSeconds: null,
    activeRun: null,
    lastRuns: { incremental: null, full: null },
    failedPushes: 0,
    failedDeliveries: 0,
    ...rest,
  } as SyncStatus;
}

const run = (over: Partial<SyncRunRow>) => ({ status: "succeeded", finishedAt: CREATED, ...over }) as SyncRunRow;

describe("status chip", () => {
  it("a brand-new project with no run yet is `new`, not `late`", () => {
    expect(chipOf(status(), null, T0 + 1_000)).toBe("new");
    expect(chipOf(status(), null, T0 + LATE_AFTER_MS)).toBe("new");
  });

  it("its first run, queued or going, is `importing`", () => {
    expect(chipOf(status({}, { activeRun: run({ status: "queued", finishedAt: null }) }), null, T0 + 1_000)).toBe("importing");
    expect(chipOf(status({}, { activeRun: run({ status: "running", finishedAt: null }) }), null, T0 + 60 * LATE_AFTER_MS)).toBe("importing");
  });

  it("never synced and still no run two cron intervals after creation is `late`", () => {
    expect(chipOf(status(), null, T0 + LATE_AFTER_MS + 1)).toBe("late");
  });

  it("a first run that failed is `failing`; a paused new project is `paused`", () => {
    expect(chipOf(status({}, { lastRuns: { incremental: run({ status: "failed" }), full: null } }), null, T0 + 1_000)).toBe("failing");
    expect(chipOf(status({ syncEnabled: false }), null, T0 + 1_000)).toBe("paused");
  });

  it("after a successful sync: healthy, syncing, then late once no run succeeded for two intervals", () => {
    const synced = { lastIncrementalSyncAt: CREATED, lastFullSyncAt: CREATED };
    expect(chipOf(status(synced), null, T0 + 1_000)).toBe("healthy");
    expect(chipOf(status(synced, { activeRun: run({ status: "running", finishedAt: null }) }), null, T0 + 1_000)).toBe("syncing");
    expect(chipOf(status(synced), null, T0 + LATE_AFTER_MS + 1)).toBe("late");
    expect(chipOf(status(synced), "2026-01-01T00:00:01.000Z", T0 + 2_000)).toBe("access lost");
  });

  it("every chip has its rule written down", () => {
    for (const c of CHIPS) expect(CHIP_RULES[c].length).toBeGreaterThan(10);
    expect(CHIPS).toContain("new");
  });
});
