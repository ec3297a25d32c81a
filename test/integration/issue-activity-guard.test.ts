import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ActivityEntry } from "../../src/db/activity";
import { database } from "../../src/db/client";
import { getConflict, writeConflictResolution } from "../../src/db/conflicts";
import { getIssue, markOrphaned, unlinkForRecreate, updateLocalIssue } from "../../src/db/issues";
import { api, json } from "../support/api";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";

/**
 * A version-guarded issue write that loses its race records nothing, even when the writer that won
 * moved the row to exactly the version the loser's entry is guarded on (v + 1).
 */
async function staleIssue() {
  const { fake, project } = await projectWithTracker("github");
  const tracked = fake.seedIssue({ title: "raced" });
  await syncAndWait(project.id);
  const local = (await localByNumber(project.id)).get(tracked.number)!;
  const db = database(env.DB);
  const stale = (await getIssue(db, project.id, local.id))!;
  // Paused: the winning edit's push does not run, so the row stays at exactly stale.version + 1.
  await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { syncEnabled: false } });
  await api(`/api/v1/projects/${project.id}/issues/${local.id}`, { method: "PATCH", body: { title: "the winner" } });
  expect((await getIssue(db, project.id, local.id))!.version).toBe(stale.version + 1);
  const before = await kindsAfter(project.id, 0);
  return { project, db, stale, seen: before.length };
}

async function kindsAfter(projectId: string, skip: number): Promise<string[]> {
  const page = await json(await api(`/api/v1/projects/${projectId}/activity?limit=500`));
  return page.items.slice(skip).map((e: any) => `${e.kind}:${e.source}`);
}

function guarded(projectId: string, issueId: string, version: number, kind: ActivityEntry["kind"]): ActivityEntry {
  return { projectId, issueId, kind, origin: { source: "poll" }, createdAt: new Date().toISOString(), detail: "stale write", onlyIfIssue: { id: issueId, version: version + 1 } };
}

describe("issue activity: a write that loses its version race records nothing", () => {
  it("updateLocalIssue", async () => {
    const { project, db, stale, seen } = await staleIssue();
    const row = await updateLocalIssue(db, stale, { title: "the loser" }, null, new Date().toISOString(), [guarded(project.id, stale.id, stale.version, "issue.updated")]);
    expect(row).toBeUndefined();
    expect((await getIssue(db, project.id, stale.id))!.title).toBe("the winner");
    expect(await kindsAfter(project.id, seen)).toEqual([]);
  });

  it("markOrphaned", async () => {
    const { project, db, stale, seen } = await staleIssue();
    await markOrphaned(db, stale, { reason: "gone", now: new Date().toISOString(), externalUpdatedAt: null }, [guarded(project.id, stale.id, stale.version, "issue.orphaned")]);
    expect((await getIssue(db, project.id, stale.id))!.syncState).not.toBe("orphaned");
    expect(await kindsAfter(project.id, seen)).toEqual([]);
  });

  it("unlinkForRecreate", async () => {
    const { project, db, stale, seen } = await staleIssue();
    await unlinkForRecreate(db, stale, { outboxId: crypto.randomUUID(), reason: "gone", now: new Date().toISOString() }, [guarded(project.id, stale.id, stale.version, "issue.recreate_queued")]);
    expect((await getIssue(db, project.id, stale.id))!.externalId).not.toBeNull();
    expect(await kindsAfter(project.id, seen)).toEqual([]);
  });
});

describe("conflict resolution by hand: a write that loses its version race resolves and records nothing", () => {
  it("writeConflictResolution", async () => {
    const { project, db, stale, seen } = await staleIssue();
    const conflictId = crypto.randomUUID();
    await env.DB.prepare(
      `INSERT INTO conflicts (id, project_id, issue_id, field, base_value, local_value, tracker_value, resolution) VALUES (?, ?, ?, 'title', '"a"', '"b"', '"c"', 'tracker')`,
    )
      .bind(conflictId, project.id, stale.id)
      .run();
    const written = await writeConflictResolution(db, {
      issue: stale,
      columns: { title: "b" },
      syncState: "synced",
      push: null,
      conflictId,
      keep: "local",
      actor: "default",
      now: new Date().toISOString(),
      activity: [guarded(project.id, stale.id, stale.version, "conflict.resolved")],
    });
    expect(written).toBe(false);
    expect((await getIssue(db, project.id, stale.id))!.title).toBe("the winner");
    expect((await getConflict(db, project.id, conflictId))!.resolvedAt).toBeNull();
    expect(await kindsAfter(project.id, seen)).toEqual([]);
  });
});
