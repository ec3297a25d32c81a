/**
 * A block of issues sharing one `updated_at` second across a page boundary is read by offset
 * (`Link` next). GitHub recomputes offset pages on every request: an issue of the block edited while
 * we page moves to the end, its neighbours slide up one place, and the one that slid onto the page
 * already read is never served by that pass. The run must re-read the block until a pass brings
 * nothing new, and never end with its cursor past a block it could not read completely.
 */
import { describe, expect, it } from "vitest";
import type { FakeTracker } from "../fakes/fake-tracker";
import { localByNumber, projectWithTracker, syncAndWait } from "../support/trackers";

/** Runs `edit` once, just before the first request for an offset page 2 of the issue list. */
function editBeforeSecondPage(fake: FakeTracker, edit: () => void): { happened: () => boolean } {
  let done = false;
  const handle = fake.handle.bind(fake);
  fake.handle = async (request: Request) => {
    const url = new URL(request.url);
    if (!done && request.method === "GET" && url.pathname.endsWith("/issues") && url.searchParams.get("page") === "2") {
      done = true;
      edit();
    }
    return handle(request);
  };
  return { happened: () => done };
}

describe.each(["github", "gitlab"] as const)("%s: same-second block read by offset pages", (provider) => {
  it("an issue of the block edited while paging does not make its neighbour skipped", async () => {
    const { fake, project } = await projectWithTracker(provider, {}, { tickMs: 0 });
    const seeded = Array.from({ length: 150 }, (_, i) => fake.seedIssue({ title: `Block issue ${i + 1}` }));
    fake.store.tickMs = 1000;
    const edited = seeded[9]!;
    const hook = editBeforeSecondPage(fake, () => {
      fake.store.advance(5000);
      fake.store.edit(edited.number, { title: "Edited while the run paged" });
    });

    const run = await syncAndWait(project.id);
    expect(run.status).toBe("succeeded");
    expect(hook.happened()).toBe(true);
    const local = await localByNumber(project.id);
    const missing = seeded.filter((i) => !local.has(i.number)).map((i) => i.number);
    expect(missing).toEqual([]);
    expect(local.get(edited.number)!.title).toBe("Edited while the run paged");
  });
});
