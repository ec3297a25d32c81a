/**
 * The two record kinds' decisions as tables: one tracker copy against its local row. Every row
 * states the situation, the project, and what the decision must be.
 */
import { describe, expect, it } from "vitest";
import type { CommentRow, IssueRow, ProjectRow } from "../../src/db/schema";
import type { CanonicalComment, CanonicalIssue, IssueFields } from "../../src/providers/types";
import { decideComment } from "../../src/sync/comments";
import { decideSnapshot, type SnapshotSource } from "../../src/sync/decide";
import { normalizeFields, snapshotHash } from "../../src/sync/snapshot";

const T0 = "2024-01-01T00:00:00.000Z";
const T1 = "2024-01-01T00:01:00.000Z";
const T2 = "2024-01-01T00:02:00.000Z";
const NOW = "2024-01-01T01:00:00.000Z";

type Direction = "inbound" | "outbound" | "bidirectional";
type Master = "tracker" | "local";

const BASE: IssueFields = { title: "Crash", body: "Steps", state: "open", labels: ["bug"], assignees: [], milestone: null };

function snapshot(fields: Partial<IssueFields>, updatedAt: string): CanonicalIssue {
  return { externalId: "100", number: 1, url: "https://t/1", ...BASE, ...fields, createdAt: T0, updatedAt, closedAt: null };
}

async function issueRow(local: Partial<IssueFields>, base: IssueFields | null, extra: Partial<IssueRow> = {}): Promise<IssueRow> {
  const f = { ...BASE, ...local };
  return {
    id: "i1",
    projectId: "p1",
    title: f.title,
    body: f.body,
    state: f.state,
    labels: JSON.stringify(f.labels),
    assignees: JSON.stringify(f.assignees),
    milestone: f.milestone,
    createdAt: T0,
    updatedAt: T0,
    version: 3,
    externalId: "100",
    externalNumber: 1,
    externalUrl: "https://t/1",
    externalUpdatedAt: T1,
    base: base ? JSON.stringify(normalizeFields(base)) : null,
    baseHash: base ? await snapshotHash(base) : null,
    syncState: "synced",
    syncError: null,
    deletedAt: null,
    lastSeenRunId: null,
    bodyParts: 0,
    baseParts: 0,
    syncWarnings: null,
    ...extra,
  } as IssueRow;
}

interface IssueCase {
  name: string;
  direction: Direction;
  master?: Master;
  local: Partial<IssueFields> | null;
  base?: IssueFields | null;
  row?: Partial<IssueRow>;
  tracker: Partial<IssueFields>;
  at: string;
  source?: SnapshotSource;
  adopt?: boolean;
  expect: { kind: "insert" | "update" | "skip" | "ambiguous"; push?: boolean; title?: string; conflicts?: number; syncState?: string };
}

const ISSUE_CASES: IssueCase[] = [
  { name: "an unknown tracker issue is inserted as synced", direction: "bidirectional", local: null, tracker: {}, at: T1, expect: { kind: "insert", syncState: "synced" } },
  { name: "an older copy than the one held is skipped (no rollback)", direction: "bidirectional", local: {}, base: BASE, tracker: { title: "old" }, at: T0, expect: { kind: "skip" } },
  { name: "our own push coming back (equal to the base) changes nothing", direction: "bidirectional", local: {}, base: BASE, tracker: {}, at: T1, expect: { kind: "skip" } },
  { name: "a tracker edit of an unchanged local issue is taken", direction: "bidirectional", local: {}, base: BASE, tracker: { title: "New" }, at: T2, expect: { kind: "update", push: false, title: "New", conflicts: 0 } },
  { name: "inbound: the tracker's copy wins over a local edit", direction: "inbound", local: { title: "Mine" }, base: BASE, tracker: { title: "Theirs" }, at: T2, expect: { kind: "update", push: false, title: "Theirs" } },
  { name: "outbound: tracker drift is put back (pushed) and recorded", direction: "outbound", local: {}, base: BASE, tracker: { title: "Drift" }, at: T2, expect: { kind: "update", push: true, title: "Crash", conflicts: 1, syncState: "pending_push" } },
  { name: "bidirectional: edits of different fields merge, local's is pushed", direction: "bidirectional", local: { body: "Local body" }, base: BASE, tracker: { title: "Tracker title" }, at: T2, expect: { kind: "update", push: true, title: "Tracker title", conflicts: 0 } },
  { name: "bidirectional: a true conflict is settled by master = tracker and recorded", direction: "bidirectional", master: "tracker", local: { title: "Mine" }, base: BASE, tracker: { title: "Theirs" }, at: T2, expect: { kind: "update", push: false, title: "Theirs", conflicts: 1 } },
  { name: "bidirectional: a true conflict is settled by master = local, recorded and pushed", direction: "bidirectional", master: "local", local: { title: "Mine" }, base: BASE, tracker: { title: "Theirs" }, at: T2, expect: { kind: "update", push: true, title: "Mine", conflicts: 1 } },
  { name: "an event in the same second as the held copy, with other content, asks for a poll", direction: "bidirectional", local: {}, base: BASE, tracker: { title: "Same second" }, at: T1, source: "event", expect: { kind: "ambiguous" } },
  { name: "a listing that still holds an orphaned issue revives it", direction: "bidirectional", local: {}, base: BASE, row: { syncState: "orphaned" }, tracker: {}, at: T1, expect: { kind: "update", syncState: "synced" } },
  { name: "an event no newer than the recorded deletion is a late copy, not a revival", direction: "bidirectional", local: {}, base: BASE, row: { syncState: "orphaned" }, tracker: {}, at: T1, source: "event", expect: { kind: "skip" } },
  { name: "an adopted lost create merges against what it sent, even with an older timestamp", direction: "bidirectional", local: {}, base: BASE, tracker: { labels: ["bug", "triaged"] }, at: T0, adopt: true, expect: { kind: "update", push: false, conflicts: 0 } },
];

describe("decideSnapshot: one issue snapshot against its local row", () => {
  it.each(ISSUE_CASES)("$name", async (c) => {
    const s = snapshot(c.tracker, c.at);
    const local = c.local === null ? undefined : await issueRow(c.local, c.base ?? null, c.row);
    const d = decideSnapshot({ syncDirection: c.direction, master: c.master ?? "tracker" }, s, await snapshotHash(normalizeFields(s)), local, c.adopt ?? false, NOW, c.source ?? "listing");
    expect(d.kind).toBe(c.expect.kind);
    if (d.kind === "update") {
      if (c.expect.push !== undefined) expect(d.push).toBe(c.expect.push);
      if (c.expect.conflicts !== undefined) expect(d.conflicts).toHaveLength(c.expect.conflicts);
      if (c.expect.title !== undefined) expect(d.row.title).toBe(c.expect.title);
      if (c.expect.syncState !== undefined) expect(d.row.syncState).toBe(c.expect.syncState);
    }
    if (d.kind === "insert" && c.expect.syncState) expect(d.row.syncState).toBe(c.expect.syncState);
  });
});

function commentRow(body: string, base: string | null, extra: Partial<CommentRow> = {}): CommentRow {
  return {
    id: "c1",
    projectId: "p1",
    issueId: "i1",
    body,
    author: "jane",
    visibility: "public",
    createdAt: T0,
    updatedAt: T0,
    version: 2,
    externalId: "500",
    externalUrl: null,
    externalUpdatedAt: T1,
    base,
    syncState: "synced",
    syncError: null,
    deletedAt: null,
    deletionProofAt: null,
    lastSeenRunId: null,
    ...extra,
  } as CommentRow;
}

function trackerComment(body: string, updatedAt: string): CanonicalComment {
  return { externalId: "500", issueNumber: 1, url: "", body, author: "jane", internal: false, createdAt: T0, updatedAt };
}

function project(direction: Direction, master: Master = "tracker", extra: Partial<ProjectRow> = {}): Pick<ProjectRow, "syncDirection" | "master" | "provider" | "gitlabInternalNotes" | "commentAttribution"> {
  return { syncDirection: direction, master, provider: "github", gitlabInternalNotes: false, commentAttribution: false, ...extra } as ProjectRow;
}

interface CommentCase {
  name: string;
  project: ReturnType<typeof project>;
  local: CommentRow;
  tracker: CanonicalComment;
  source?: "listing" | "event";
  expect: null | "ambiguous" | { body?: string; base?: string; push: "none" | "close" | "update"; conflict?: "tracker" | "local"; revived?: boolean };
}

const COMMENT_CASES: CommentCase[] = [
  { name: "an older copy (a late webhook) changes nothing", project: project("bidirectional"), local: commentRow("x", "x"), tracker: trackerComment("old", T0), expect: null },
  { name: "our own push coming back (equal to the base) changes nothing", project: project("bidirectional"), local: commentRow("x", "x"), tracker: trackerComment("x", T1), expect: null },
  { name: "CRLF from the tracker equals the LF base: an echo", project: project("bidirectional"), local: commentRow("a\nb", "a\nb"), tracker: trackerComment("a\r\nb", T1), expect: null },
  { name: "a tracker edit of an unchanged local comment is taken", project: project("bidirectional"), local: commentRow("x", "x"), tracker: trackerComment("y", T2), expect: { body: "y", base: "y", push: "none" } },
  { name: "the same edit on both sides converges", project: project("bidirectional"), local: commentRow("y", "x", { syncState: "pending_push" }), tracker: trackerComment("y", T2), expect: { base: "y", push: "close" } },
  { name: "outbound: tracker drift is put back", project: project("outbound"), local: commentRow("x", "x"), tracker: trackerComment("drift", T2), expect: { base: "drift", push: "update" } },
  { name: "bidirectional conflict, master tracker: the tracker's text wins and is recorded", project: project("bidirectional", "tracker"), local: commentRow("mine", "x"), tracker: trackerComment("theirs", T2), expect: { body: "theirs", push: "close", conflict: "tracker" } },
  { name: "bidirectional conflict, master local: local is pushed and the conflict recorded", project: project("bidirectional", "local"), local: commentRow("mine", "x"), tracker: trackerComment("theirs", T2), expect: { base: "theirs", push: "update", conflict: "local" } },
  { name: "inbound conflict: the tracker wins", project: project("inbound"), local: commentRow("mine", "x"), tracker: trackerComment("theirs", T2), expect: { body: "theirs", push: "close", conflict: "tracker" } },
  { name: "an internal comment (never sent) loses a conflict to the tracker", project: project("bidirectional", "local"), local: commentRow("mine", "x", { visibility: "internal" }), tracker: trackerComment("theirs", T2), expect: { body: "theirs", push: "close", conflict: "tracker" } },
  { name: "a deleted comment is not revived by a copy no newer than it", project: project("bidirectional"), local: commentRow("x", "x", { deletedAt: T1 }), tracker: trackerComment("x", T1), expect: null },
  { name: "a tombstone (deletion proven by the tracker) is revived by a copy changed after the proof", project: project("bidirectional"), local: commentRow("x", "x", { deletedAt: T1, deletionProofAt: T1 }), tracker: trackerComment("y", T2), expect: { body: "y", base: "y", push: "close", revived: true } },
  { name: "a tombstone is not revived by a copy from before the proof", project: project("bidirectional"), local: commentRow("x", "x", { deletedAt: T2, deletionProofAt: T2 }), tracker: trackerComment("y", T1), expect: null },
  { name: "a comment deleted locally is not revived by a newer tracker copy", project: project("bidirectional"), local: commentRow("x", "x", { deletedAt: T1, deletionProofAt: null }), tracker: trackerComment("y", T2), expect: null },
  { name: "an event in the same second as the stored copy with other content cannot be ordered: a poll decides", project: project("bidirectional"), local: commentRow("x", "x"), tracker: trackerComment("y", T1.slice(0, 19) + "Z"), source: "event", expect: "ambiguous" },
  { name: "a listing in the same second with other content is a fresh read: taken", project: project("bidirectional"), local: commentRow("x", "x"), tracker: trackerComment("y", T1), expect: { body: "y", base: "y", push: "none" } },
  { name: "an event in the same second equal to the base is our echo: nothing changes", project: project("bidirectional"), local: commentRow("x", "x"), tracker: trackerComment("x", T1), source: "event", expect: null },
];

describe("decideComment: one tracker comment against its local row", () => {
  it.each(COMMENT_CASES)("$name", (c) => {
    const w = decideComment({ project: c.project as ProjectRow }, c.local, c.tracker, null, NOW, c.source);
    if (c.expect === "ambiguous" || w === "ambiguous") {
      expect(w).toBe(c.expect);
      return;
    }
    if (c.expect === null) {
      expect(w === null || (w.set.body === undefined && w.set.base === undefined && w.push === undefined)).toBe(true);
      return;
    }
    expect(w).not.toBeNull();
    if (c.expect.body !== undefined) expect(w!.set.body).toBe(c.expect.body);
    if (c.expect.base !== undefined) expect(w!.set.base).toBe(c.expect.base);
    const push = w!.push === undefined ? "none" : w!.push === "close" ? "close" : "update";
    expect(push).toBe(c.expect.push);
    if (c.expect.revived) expect(w!.set).toMatchObject({ deletedAt: null, deletionProofAt: null });
    if (c.expect.conflict) expect(w!.conflict?.resolution).toBe(c.expect.conflict);
    else expect(w!.conflict).toBeUndefined();
  });
});
