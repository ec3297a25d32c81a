import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { IssueFields } from "../../src/providers/types";
import { type Master, type MergeResult, mergeThreeWay } from "../../src/sync/merge";
import { fieldsEqual, normalizeFields, snapshotHash } from "../../src/sync/snapshot";

// Bounded so the whole file stays well under a second or two inside workerd.
const RUNS = { numRuns: 200 };

type Side = "local" | "tracker";
type ScalarField = "title" | "body" | "state" | "milestone";
type SetField = "labels" | "assignees";
const SCALAR_FIELDS: readonly ScalarField[] = ["title", "body", "state", "milestone"];
const SET_FIELDS: readonly SetField[] = ["labels", "assignees"];

const flip = (m: Master): Master => (m === "local" ? "tracker" : "local");

// Small pools make collisions (equal edits, conflicts, re-adds) common; the free strings find edge cases.
const textArb = fc.oneof(fc.constantFrom("a", "b", "c"), fc.string({ maxLength: 4 }));
const nameArb = fc.oneof(fc.constantFrom("bug", "ui", "p1", "Bug", "é"), fc.string({ maxLength: 3 }));
const namesArb = fc.array(nameArb, { maxLength: 6 });
const milestoneArb = fc.oneof(fc.constant(null), fc.constant(""), fc.constantFrom("v1", "v2"), fc.string({ maxLength: 3 }));
const stateArb = fc.constantFrom<IssueFields["state"]>("open", "closed");

const fieldsArb: fc.Arbitrary<IssueFields> = fc.record({
  title: textArb,
  body: textArb,
  state: stateArb,
  labels: namesArb,
  assignees: namesArb,
  milestone: milestoneArb,
});

/** The same list in another order, with some duplicates: equal after normalization. */
const reorderedArb = (list: readonly string[]): fc.Arbitrary<string[]> =>
  fc
    .tuple(fc.shuffledSubarray([...list], { minLength: list.length, maxLength: list.length }), fc.subarray([...list]))
    .map(([perm, dupes]) => [...perm, ...dupes]);

/** The same fields as `f`, written differently (order, duplicates, "" milestone). */
const sameAsArb = (f: IssueFields): fc.Arbitrary<IssueFields> =>
  fc.record({
    title: fc.constant(f.title),
    body: fc.constant(f.body),
    state: fc.constant(f.state),
    labels: reorderedArb(f.labels),
    assignees: reorderedArb(f.assignees),
    // Trackers say "no milestone" as either null or "".
    milestone: f.milestone === null || f.milestone === "" ? fc.constantFrom<string | null>(null, "") : fc.constant(f.milestone),
  });

/** A side's view after editing some fields of `base`: each field kept (reordered) or edited. */
const editedArb = (base: IssueFields): fc.Arbitrary<IssueFields> => {
  const setEdit = (list: readonly string[]) =>
    fc.oneof(
      reorderedArb(list),
      fc.tuple(fc.subarray([...list]), namesArb).map(([kept, added]) => [...kept, ...added]),
    );
  return fc.record({
    title: fc.oneof(fc.constant(base.title), textArb),
    body: fc.oneof(fc.constant(base.body), textArb),
    state: fc.oneof(fc.constant(base.state), stateArb),
    labels: setEdit(base.labels),
    assignees: setEdit(base.assignees),
    milestone: fc.oneof(fc.constant(base.milestone), milestoneArb),
  });
};

interface Scenario {
  base: IssueFields;
  local: IssueFields;
  tracker: IssueFields;
  master: Master;
}

const scenarioArb: fc.Arbitrary<Scenario> = fieldsArb.chain((base) =>
  fc.record({
    base: fc.constant(base),
    local: editedArb(base),
    tracker: editedArb(base),
    master: fc.constantFrom<Master>("local", "tracker"),
  }),
);

/** A scenario, sometimes without a base (adoption). */
const anyScenarioArb = fc
  .tuple(scenarioArb, fc.boolean())
  .map(([s, noBase]) => ({ ...s, base: noBase ? null : s.base }));

function expectNoChange(r: MergeResult, value: IssueFields): void {
  expect(r.merged).toEqual(normalizeFields(value));
  expect(r.conflicts).toEqual([]);
  expect(r.localChanged).toBe(false);
  expect(r.trackerChanged).toBe(false);
  expect(r.trackerPatch).toEqual({});
}

describe("mergeThreeWay properties", () => {
  it("a side equal to the base yields the other side, with no conflicts", () => {
    const arb = scenarioArb.chain((s) => fc.record({ s: fc.constant(s), sameAsBase: sameAsArb(s.base) }));
    fc.assert(
      fc.property(arb, ({ s, sameAsBase }) => {
        const fromTracker = mergeThreeWay({ base: s.base, local: sameAsBase, tracker: s.tracker, master: s.master });
        expect(fromTracker.merged).toEqual(normalizeFields(s.tracker));
        expect(fromTracker.conflicts).toEqual([]);
        expect(fromTracker.localChanged).toBe(!fieldsEqual(s.base, s.tracker));
        expect(fromTracker.trackerChanged).toBe(false);
        expect(fromTracker.trackerPatch).toEqual({});

        const fromLocal = mergeThreeWay({ base: s.base, local: s.local, tracker: sameAsBase, master: s.master });
        expect(fromLocal.merged).toEqual(normalizeFields(s.local));
        expect(fromLocal.conflicts).toEqual([]);
        expect(fromLocal.localChanged).toBe(false);
        expect(fromLocal.trackerChanged).toBe(!fieldsEqual(s.base, s.local));
      }),
      RUNS,
    );
  });

  it("swapping local and tracker and flipping master gives the same merge, mirrored", () => {
    fc.assert(
      fc.property(anyScenarioArb, (s) => {
        const a = mergeThreeWay(s);
        const b = mergeThreeWay({ base: s.base, local: s.tracker, tracker: s.local, master: flip(s.master) });
        expect(b.merged).toEqual(a.merged);
        expect(b.localChanged).toBe(a.trackerChanged);
        expect(b.trackerChanged).toBe(a.localChanged);
        expect(b.conflicts).toEqual(
          a.conflicts.map((c) => ({ ...c, local: c.tracker, tracker: c.local, resolution: flip(c.resolution) })),
        );
      }),
      RUNS,
    );
  });

  it("merging the merged result against itself changes nothing", () => {
    fc.assert(
      fc.property(anyScenarioArb, fc.constantFrom<Master>("local", "tracker"), (s, master) => {
        const { merged } = mergeThreeWay(s);
        expectNoChange(mergeThreeWay({ base: merged, local: merged, tracker: merged, master }), merged);
        // Once both sides hold the result, a sync against the old base finds nothing either.
        const again = mergeThreeWay({ base: s.base, local: merged, tracker: merged, master });
        expectNoChange(again, merged);
      }),
      RUNS,
    );
  });

  it("the result is normalized and the local flag and tracker patch bring each side to it", () => {
    fc.assert(
      fc.property(anyScenarioArb, (s) => {
        const r = mergeThreeWay(s);
        expect(normalizeFields(r.merged)).toEqual(r.merged);
        expect(r.localChanged).toBe(!fieldsEqual(s.local, r.merged));
        expect(fieldsEqual({ ...s.tracker, ...r.trackerPatch }, r.merged)).toBe(true);
        expect(r.trackerChanged).toBe(Object.keys(r.trackerPatch).length > 0);
        for (const key of Object.keys(r.trackerPatch) as (keyof IssueFields)[]) {
          expect(r.trackerPatch[key]).toEqual(r.merged[key]);
          expect(normalizeFields(s.tracker)[key]).not.toEqual(r.merged[key]);
        }
      }),
      RUNS,
    );
  });

  it("no acknowledged edit is lost: one-sided changes are taken, conflicts are exactly the two-sided disagreements", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const r = mergeThreeWay(s);
        const [b, l, t] = [normalizeFields(s.base), normalizeFields(s.local), normalizeFields(s.tracker)];

        const expectedConflicts: ScalarField[] = [];
        for (const field of SCALAR_FIELDS) {
          const localEdited = l[field] !== b[field];
          const trackerEdited = t[field] !== b[field];
          if (localEdited && !trackerEdited) expect(r.merged[field]).toBe(l[field]);
          else if (trackerEdited && !localEdited) expect(r.merged[field]).toBe(t[field]);
          else if (!localEdited) expect(r.merged[field]).toBe(b[field]);
          else if (l[field] === t[field]) expect(r.merged[field]).toBe(l[field]);
          else {
            expectedConflicts.push(field);
            expect(r.merged[field]).toBe(s.master === "local" ? l[field] : t[field]);
          }
        }
        expect(r.conflicts.map((c) => c.field)).toEqual(expectedConflicts);

        // Adds and removes are measured against the base: a side cannot "re-add" an element the
        // base holds, so an element removed by either side is gone, and one added by either is there.
        for (const field of SET_FIELDS) {
          const [inBase, inLocal, inTracker] = [new Set(b[field]), new Set(l[field]), new Set(t[field])];
          const inMerged = new Set(r.merged[field]);
          for (const x of new Set([...b[field], ...l[field], ...t[field]])) {
            const added = !inBase.has(x) && (inLocal.has(x) || inTracker.has(x));
            const removed = inBase.has(x) && (!inLocal.has(x) || !inTracker.has(x));
            expect(inMerged.has(x)).toBe(added || (inBase.has(x) && !removed));
          }
        }
      }),
      RUNS,
    );
  });

  it("without a base, sets are the union and every differing scalar is a conflict settled by master", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const r = mergeThreeWay({ ...s, base: null });
        const [l, t] = [normalizeFields(s.local), normalizeFields(s.tracker)];
        for (const field of SET_FIELDS) expect(r.merged[field]).toEqual([...new Set([...l[field], ...t[field]])].sort());
        const differing = SCALAR_FIELDS.filter((field) => l[field] !== t[field]);
        expect(r.conflicts.map((c) => c.field)).toEqual(differing);
        for (const c of r.conflicts) {
          expect(c.base).toBeNull();
          expect(c.resolution).toBe(s.master);
          expect(r.merged[c.field]).toBe(c.value);
        }
        const winner = s.master === "local" ? l : t;
        for (const field of SCALAR_FIELDS) expect(r.merged[field]).toBe(winner[field]);
      }),
      RUNS,
    );
  });
});

// --- Convergence model --------------------------------------------------------------------------
//
// Two replicas start agreed. Operations are interleaved edits on either side and sync steps that
// run mergeThreeWay and write the result the way the engine does (the local row when
// `localChanged`, `trackerPatch` on the tracker), then take it as the new base. A final sync
// always runs. Afterwards both sides must be equal, and every edit must be visible unless it was
//   - overwritten by a later edit of the same field (or set element) on the same side before the
//     sync that carried it,
//   - a no-op by then (it left the field at its last-synced value: a state-based sync cannot tell
//     that from no edit at all, so there is nothing to show),
//   - the losing side of a conflict that the merge recorded, or
//   - superseded by an edit of the same field (or element) carried by a later sync, from either
//     side: once a sync has delivered an edit to both sides, a newer edit on either side is the
//     newer truth.

const SCALAR_POOLS: { [K in ScalarField]: readonly IssueFields[K][] } = {
  title: ["a", "b", "c"],
  body: ["", "b", "c"],
  state: ["open", "closed"],
  milestone: [null, "v1", "v2"],
};
const SET_POOL = ["x", "y", "z"];

type Op =
  | { kind: "scalar"; side: Side; field: ScalarField; value: string | null }
  | { kind: "set"; side: Side; field: SetField; name: string; present: boolean }
  | { kind: "sync" };

const sideArb = fc.constantFrom<Side>("local", "tracker");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .constantFrom(...SCALAR_FIELDS)
      .chain((field) =>
        fc.record({
          kind: fc.constant("scalar" as const),
          side: sideArb,
          field: fc.constant(field),
          value: fc.constantFrom<string | null>(...SCALAR_POOLS[field]),
        }),
      ),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("set" as const),
      side: sideArb,
      field: fc.constantFrom(...SET_FIELDS),
      name: fc.constantFrom(...SET_POOL),
      present: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "sync" as const }) },
);

const modelStartArb: fc.Arbitrary<IssueFields> = fc.record({
  title: fc.constantFrom(...SCALAR_POOLS.title),
  body: fc.constantFrom(...SCALAR_POOLS.body),
  state: fc.constantFrom(...SCALAR_POOLS.state),
  labels: fc.subarray(SET_POOL),
  assignees: fc.subarray(SET_POOL),
  milestone: fc.constantFrom(...SCALAR_POOLS.milestone),
});

/** One edit, keyed by what it touches: a scalar field, or one element of a set field. */
interface Edit {
  side: Side;
  key: string;
  field: keyof IssueFields;
  /** The scalar value written, or whether the element was made present. */
  value: string | boolean | null;
  name?: string;
}

function valueOf(f: IssueFields, e: Pick<Edit, "field" | "name">): string | boolean | null {
  if (e.field === "labels" || e.field === "assignees") return f[e.field].includes(e.name!);
  return f[e.field];
}

function applyEdit(f: IssueFields, op: Exclude<Op, { kind: "sync" }>): void {
  if (op.kind === "scalar") {
    // The pools keep each field's values valid; the cast only bridges the per-field value types.
    (f as unknown as Record<ScalarField, string | null>)[op.field] = op.value;
  } else {
    const rest = f[op.field].filter((n) => n !== op.name);
    f[op.field] = op.present ? [...rest, op.name] : rest;
  }
}

describe("mergeThreeWay convergence model", () => {
  it("interleaved edits and syncs converge, and every edit not overwritten or lost to a recorded conflict survives", async () => {
    await fc.assert(
      fc.asyncProperty(
        modelStartArb,
        fc.array(opArb, { maxLength: 30 }),
        fc.constantFrom<Master>("local", "tracker"),
        async (start, ops, master) => {
          let base = normalizeFields(start);
          const sides: Record<Side, IssueFields> = { local: normalizeFields(start), tracker: normalizeFields(start) };
          // The last edit per (side, key) since the previous sync: later ones on the same side overwrite.
          let pending = new Map<string, Edit>();
          // Edits delivered by some sync and not superseded since, by key.
          const survivors = new Map<string, Edit[]>();

          const sync = (): void => {
            const r = mergeThreeWay({ base, local: sides.local, tracker: sides.tracker, master });
            const effective = [...pending.values()].filter((e) => valueOf(base, e) !== e.value);

            // Recorded conflicts are exactly the scalars both sides changed to different values.
            const expectedConflicts = SCALAR_FIELDS.filter((field) => {
              const [l, t] = (["local", "tracker"] as const).map((side) =>
                effective.find((e) => e.side === side && e.key === field),
              );
              return l !== undefined && t !== undefined && l.value !== t.value;
            });
            expect(r.conflicts.map((c) => c.field)).toEqual(expectedConflicts);

            const lost = (e: Edit) => r.conflicts.some((c) => c.field === e.field && c.resolution !== e.side);
            const delivered = effective.filter((e) => !lost(e));
            for (const key of new Set(effective.map((e) => e.key))) survivors.delete(key);
            for (const e of delivered) survivors.set(e.key, [...(survivors.get(e.key) ?? []), e]);

            // Write back as the engine would, so convergence also checks the flag and the patch.
            if (r.localChanged) sides.local = structuredClone(r.merged);
            sides.tracker = normalizeFields({ ...sides.tracker, ...r.trackerPatch });
            // Compared normalized: an unwritten side may still hold its labels in edit order.
            expect(fieldsEqual(sides.local, r.merged)).toBe(true);
            expect(fieldsEqual(sides.tracker, r.merged)).toBe(true);
            base = structuredClone(r.merged);
            pending = new Map();
          };

          for (const op of ops) {
            if (op.kind === "sync") {
              sync();
              continue;
            }
            applyEdit(sides[op.side], op);
            const key = op.kind === "set" ? `${op.field}:${op.name}` : op.field;
            const edit: Edit =
              op.kind === "set"
                ? { side: op.side, key, field: op.field, value: op.present, name: op.name }
                : { side: op.side, key, field: op.field, value: op.value };
            pending.set(`${op.side}|${key}`, edit);
          }
          sync();

          expect(fieldsEqual(sides.local, sides.tracker)).toBe(true);
          expect(await snapshotHash(sides.local)).toBe(await snapshotHash(sides.tracker));
          for (const edits of survivors.values()) {
            for (const e of edits) expect(valueOf(sides.local, e)).toBe(e.value);
          }
        },
      ),
      RUNS,
    );
  });
});
