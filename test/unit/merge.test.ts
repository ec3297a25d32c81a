import { describe, expect, it } from "vitest";
import type { IssueFields } from "../../src/providers/types";
import { type FieldConflict, type Master, mergeThreeWay } from "../../src/sync/merge";
import {
  changedFields,
  fieldsEqual,
  normalizeFields,
  pickFields,
  snapshotHash,
  SYNCED_FIELDS,
} from "../../src/sync/snapshot";

const BASE: IssueFields = {
  title: "Crash on save",
  body: "Steps to reproduce",
  state: "open",
  labels: ["bug", "ui"],
  assignees: ["ana"],
  milestone: "v1",
};

const edit = (patch: Partial<IssueFields>): IssueFields => ({ ...BASE, ...patch });

interface MergeCase {
  name: string;
  base: IssueFields | null;
  local: IssueFields;
  tracker: IssueFields;
  master: Master;
  merged: IssueFields;
  conflicts?: Pick<FieldConflict, "field" | "resolution" | "value">[];
  localChanged: boolean;
  trackerPatch: Partial<IssueFields>;
}

const cases: MergeCase[] = [
  {
    name: "nothing changed on either side merges to the base with nothing to write",
    base: BASE,
    local: BASE,
    tracker: BASE,
    master: "tracker",
    merged: BASE,
    localChanged: false,
    trackerPatch: {},
  },
  {
    name: "a title edited only in the tracker is taken",
    base: BASE,
    local: BASE,
    tracker: edit({ title: "Crash on save (macOS)" }),
    master: "local",
    merged: edit({ title: "Crash on save (macOS)" }),
    localChanged: true,
    trackerPatch: {},
  },
  {
    name: "a body edited only locally is pushed",
    base: BASE,
    local: edit({ body: "Steps, with logs" }),
    tracker: BASE,
    master: "tracker",
    merged: edit({ body: "Steps, with logs" }),
    localChanged: false,
    trackerPatch: { body: "Steps, with logs" },
  },
  {
    name: "different fields edited on each side both apply without conflict",
    base: BASE,
    local: edit({ title: "Local title" }),
    tracker: edit({ milestone: "v2" }),
    master: "tracker",
    merged: edit({ title: "Local title", milestone: "v2" }),
    localChanged: true,
    trackerPatch: { title: "Local title" },
  },
  {
    name: "equal changes on both sides are not a conflict",
    base: BASE,
    local: edit({ title: "Same", state: "closed" }),
    tracker: edit({ title: "Same", state: "closed" }),
    master: "local",
    merged: edit({ title: "Same", state: "closed" }),
    localChanged: false,
    trackerPatch: {},
  },
  {
    name: "an issue reopened only in the tracker is reopened locally, a local title edit is still pushed",
    base: edit({ state: "closed" }),
    local: edit({ state: "closed", title: "Local title" }),
    tracker: edit({ state: "open" }),
    master: "local",
    merged: edit({ state: "open", title: "Local title" }),
    localChanged: true,
    trackerPatch: { title: "Local title" },
  },
  // With a base, state cannot conflict (both sides leaving one of two values agree); without one it can.
  {
    name: "state closed locally and open in the tracker before they ever agreed is a conflict settled by master local",
    base: null,
    local: edit({ state: "closed" }),
    tracker: edit({ state: "open" }),
    master: "local",
    merged: edit({ state: "closed" }),
    conflicts: [{ field: "state", resolution: "local", value: "closed" }],
    localChanged: false,
    trackerPatch: { state: "closed" },
  },
  {
    name: "state closed locally and a milestone cleared in the tracker both apply",
    base: BASE,
    local: edit({ state: "closed" }),
    tracker: edit({ milestone: null }),
    master: "tracker",
    merged: edit({ state: "closed", milestone: null }),
    localChanged: true,
    trackerPatch: { state: "closed" },
  },
  {
    name: "a title changed differently on both sides is a conflict settled by master local",
    base: BASE,
    local: edit({ title: "Local title" }),
    tracker: edit({ title: "Tracker title" }),
    master: "local",
    merged: edit({ title: "Local title" }),
    conflicts: [{ field: "title", resolution: "local", value: "Local title" }],
    localChanged: false,
    trackerPatch: { title: "Local title" },
  },
  {
    name: "a title changed differently on both sides is a conflict settled by master tracker",
    base: BASE,
    local: edit({ title: "Local title" }),
    tracker: edit({ title: "Tracker title" }),
    master: "tracker",
    merged: edit({ title: "Tracker title" }),
    conflicts: [{ field: "title", resolution: "tracker", value: "Tracker title" }],
    localChanged: true,
    trackerPatch: {},
  },
  {
    name: "milestones set to different values on both sides conflict, master local wins",
    base: edit({ milestone: null }),
    local: edit({ milestone: "v2" }),
    tracker: edit({ milestone: "v3" }),
    master: "local",
    merged: edit({ milestone: "v2" }),
    conflicts: [{ field: "milestone", resolution: "local", value: "v2" }],
    localChanged: false,
    trackerPatch: { milestone: "v2" },
  },
  {
    name: "a milestone cleared on one side and changed on the other conflicts, master tracker wins",
    base: BASE,
    local: edit({ milestone: null }),
    tracker: edit({ milestone: "v2" }),
    master: "tracker",
    merged: edit({ milestone: "v2" }),
    conflicts: [{ field: "milestone", resolution: "tracker", value: "v2" }],
    localChanged: true,
    trackerPatch: {},
  },
  {
    name: "labels added on both sides are both kept",
    base: BASE,
    local: edit({ labels: ["bug", "ui", "p1"] }),
    tracker: edit({ labels: ["bug", "ui", "backend"] }),
    master: "tracker",
    merged: edit({ labels: ["backend", "bug", "p1", "ui"] }),
    localChanged: true,
    trackerPatch: { labels: ["backend", "bug", "p1", "ui"] },
  },
  {
    name: "a label removed locally and another added in the tracker both apply",
    base: BASE,
    local: edit({ labels: ["bug"] }),
    tracker: edit({ labels: ["bug", "ui", "p1"] }),
    master: "tracker",
    merged: edit({ labels: ["bug", "p1"] }),
    localChanged: true,
    trackerPatch: { labels: ["bug", "p1"] },
  },
  {
    name: "a label removed on one side stays removed although the other side still has it",
    base: BASE,
    local: edit({ labels: ["bug", "ui"] }),
    tracker: edit({ labels: ["ui"] }),
    master: "local",
    merged: edit({ labels: ["ui"] }),
    localChanged: true,
    trackerPatch: {},
  },
  {
    name: "a label removed on one side and added back as new on the other is the same element: the removal applies",
    base: edit({ labels: ["bug"] }),
    local: edit({ labels: [] }),
    tracker: edit({ labels: ["bug", "p1"] }),
    master: "tracker",
    merged: edit({ labels: ["p1"] }),
    localChanged: true,
    trackerPatch: { labels: ["p1"] },
  },
  {
    name: "assignees merge as sets: one removed locally, two added in the tracker",
    base: edit({ assignees: ["ana", "bo"] }),
    local: edit({ assignees: ["bo"] }),
    tracker: edit({ assignees: ["zed", "ana", "bo", "cy"] }),
    master: "local",
    merged: edit({ assignees: ["bo", "cy", "zed"] }),
    localChanged: true,
    trackerPatch: { assignees: ["bo", "cy", "zed"] },
  },
  {
    name: "label order and duplicates on either side are not a change",
    base: BASE,
    local: edit({ labels: ["ui", "bug", "ui"], assignees: ["ana", "ana"] }),
    tracker: edit({ labels: ["ui", "bug"] }),
    master: "tracker",
    merged: BASE,
    localChanged: false,
    trackerPatch: {},
  },
  {
    name: "a null body and an empty milestone from loose data equal their normal forms",
    base: edit({ body: "", milestone: null }),
    local: { ...edit({ milestone: "" }), body: null as unknown as string },
    tracker: edit({ body: "", milestone: null }),
    master: "tracker",
    merged: edit({ body: "", milestone: null }),
    localChanged: false,
    trackerPatch: {},
  },
  {
    name: "without a base, equal sides merge with no conflict",
    base: null,
    local: BASE,
    tracker: edit({ labels: ["ui", "bug"] }),
    master: "local",
    merged: BASE,
    localChanged: false,
    trackerPatch: {},
  },
  {
    name: "without a base, every differing scalar is a conflict settled by master tracker",
    base: null,
    local: edit({ title: "Local title", state: "closed" }),
    tracker: edit({ title: "Tracker title", milestone: null }),
    master: "tracker",
    merged: edit({ title: "Tracker title", milestone: null }),
    conflicts: [
      { field: "title", resolution: "tracker", value: "Tracker title" },
      { field: "state", resolution: "tracker", value: "open" },
      { field: "milestone", resolution: "tracker", value: null },
    ],
    localChanged: true,
    trackerPatch: {},
  },
  {
    name: "without a base, every differing scalar is a conflict settled by master local",
    base: null,
    local: edit({ title: "Local title", state: "closed" }),
    tracker: edit({ title: "Tracker title", milestone: null }),
    master: "local",
    merged: edit({ title: "Local title", state: "closed" }),
    conflicts: [
      { field: "title", resolution: "local", value: "Local title" },
      { field: "state", resolution: "local", value: "closed" },
      { field: "milestone", resolution: "local", value: "v1" },
    ],
    localChanged: false,
    trackerPatch: { title: "Local title", state: "closed", milestone: "v1" },
  },
  {
    name: "without a base, labels and assignees are the union of both sides",
    base: null,
    local: edit({ labels: ["bug"], assignees: ["ana"] }),
    tracker: edit({ labels: ["ui"], assignees: ["bo"] }),
    master: "tracker",
    merged: edit({ labels: ["bug", "ui"], assignees: ["ana", "bo"] }),
    localChanged: true,
    trackerPatch: { assignees: ["ana", "bo"], labels: ["bug", "ui"] },
  },
];

describe("mergeThreeWay", () => {
  it.each(cases)("$name", (c) => {
    const result = mergeThreeWay({ base: c.base, local: c.local, tracker: c.tracker, master: c.master });
    expect(result.merged).toEqual(normalizeFields(c.merged));
    expect(
      result.conflicts.map(({ field, resolution, value }) => ({ field, resolution, value })),
    ).toEqual(c.conflicts ?? []);
    expect(result.localChanged).toBe(c.localChanged);
    expect(result.trackerPatch).toEqual(c.trackerPatch);
    expect(result.trackerChanged).toBe(Object.keys(c.trackerPatch).length > 0);
  });

  it("a conflict records the base, both sides, the resolution and the value taken", () => {
    const { conflicts } = mergeThreeWay({
      base: BASE,
      local: edit({ state: "closed", body: "L" }),
      tracker: edit({ state: "closed", body: "T" }),
      master: "local",
    });
    expect(conflicts).toEqual([
      { field: "body", base: "Steps to reproduce", local: "L", tracker: "T", resolution: "local", value: "L" },
    ]);
  });

  it("a conflict without a base records the base as null", () => {
    const { conflicts } = mergeThreeWay({
      base: null,
      local: edit({ title: "L" }),
      tracker: edit({ title: "T" }),
      master: "tracker",
    });
    expect(conflicts).toEqual([
      { field: "title", base: null, local: "L", tracker: "T", resolution: "tracker", value: "T" },
    ]);
  });

  it("the merged value shares no arrays with the inputs", () => {
    const local = edit({ labels: ["bug", "ui", "p2"] });
    const tracker = edit({ labels: ["p1"] });
    const { merged, trackerPatch } = mergeThreeWay({ base: BASE, local, tracker, master: "local" });
    expect(merged.labels).toEqual(["p1", "p2"]);
    merged.labels.push("mutated");
    trackerPatch.labels?.push("mutated");
    expect(local.labels).toEqual(["bug", "ui", "p2"]);
    expect(tracker.labels).toEqual(["p1"]);
    expect(BASE.labels).toEqual(["bug", "ui"]);
  });
});

describe("snapshot", () => {
  it("normalizeFields sorts and dedupes labels and assignees by code unit, keeps the title as is", () => {
    const n = normalizeFields(
      edit({ title: "  Spaced  ", labels: ["b", "B", "a", "b", "é", "z"], assignees: ["zed", "ana", "zed"] }),
    );
    expect(n.title).toBe("  Spaced  ");
    expect(n.labels).toEqual(["B", "a", "b", "z", "é"]);
    expect(n.assignees).toEqual(["ana", "zed"]);
  });

  it("normalizeFields drops columns that are not synced fields", () => {
    const row = { ...BASE, id: 7, syncState: "synced" } as IssueFields;
    expect(Object.keys(normalizeFields(row))).toEqual([...SYNCED_FIELDS]);
  });

  it("normalizeFields turns loose missing values into their normal forms", () => {
    const loose = { ...BASE, body: undefined, milestone: "", labels: null, assignees: undefined };
    expect(normalizeFields(loose as unknown as IssueFields)).toEqual(
      edit({ body: "", milestone: null, labels: [], assignees: [] }),
    );
  });

  it("fieldsEqual ignores label order and duplicates but sees a title change", () => {
    expect(fieldsEqual(BASE, edit({ labels: ["ui", "bug", "bug"] }))).toBe(true);
    expect(fieldsEqual(BASE, edit({ title: "Crash on save " }))).toBe(false);
  });

  it("changedFields lists the differing fields in the synced order", () => {
    expect(changedFields(BASE, edit({ milestone: null, title: "x", assignees: [] }))).toEqual([
      "title",
      "assignees",
      "milestone",
    ]);
    expect(changedFields(BASE, edit({ labels: ["ui", "bug"] }))).toEqual([]);
  });

  it("pickFields returns only the named fields, with copied lists", () => {
    const patch = pickFields(BASE, ["labels", "state"]);
    expect(patch).toEqual({ labels: ["bug", "ui"], state: "open" });
    patch.labels?.push("x");
    expect(BASE.labels).toEqual(["bug", "ui"]);
  });

  it("the hash is hex SHA-256 of the canonical JSON", async () => {
    const canonical = JSON.stringify({
      title: BASE.title,
      body: BASE.body,
      state: BASE.state,
      labels: BASE.labels,
      assignees: BASE.assignees,
      milestone: BASE.milestone,
    });
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(await snapshotHash(BASE)).toBe(hex);
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
  });

  it("the hash is stable under label order, duplicates and key order", async () => {
    const reordered: IssueFields = {
      milestone: "v1",
      assignees: ["ana", "ana"],
      labels: ["ui", "bug"],
      state: "open",
      body: "Steps to reproduce",
      title: "Crash on save",
    };
    expect(await snapshotHash(reordered)).toBe(await snapshotHash(BASE));
  });

  it("the hash changes with every synced field", async () => {
    const base = await snapshotHash(BASE);
    const variants = [
      edit({ title: "x" }),
      edit({ body: "x" }),
      edit({ state: "closed" }),
      edit({ labels: ["bug"] }),
      edit({ assignees: [] }),
      edit({ milestone: null }),
    ];
    const hashes = await Promise.all(variants.map(snapshotHash));
    expect(new Set([base, ...hashes]).size).toBe(variants.length + 1);
  });

  it("an empty milestone and a null body hash like their normal forms", async () => {
    const loose = { ...edit({ milestone: "" }), body: null as unknown as string };
    expect(await snapshotHash(loose)).toBe(await snapshotHash(edit({ body: "", milestone: null })));
  });
});
