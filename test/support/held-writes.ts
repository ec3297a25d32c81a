import { env } from "cloudflare:workers";
import { vi } from "vitest";

type Batch = (...args: unknown[]) => Promise<unknown>;
const d1Proto = () => Object.getPrototypeOf(env.DB) as { batch: Batch };

/**
 * Runs `body` while the first `holds` D1 batches that `isPageWrite` recognises are held open until
 * `requestsSeen()` reaches k + 1 (the tracker has seen the request for page k+1 while page k's write
 * is still open). Proves a fetch overlaps a write without timing anything: `overlapped` counts the
 * held writes during which the next request arrived.
 */
export async function withHeldPageWrites<T>(
  options: { holds: number; isPageWrite: (statementSql: string[]) => boolean; requestsSeen: () => number; timeoutMs?: number },
  body: () => Promise<T>,
): Promise<{ result: T; held: number; overlapped: number }> {
  const proto = d1Proto();
  const realBatch = proto.batch;
  let held = 0;
  let overlapped = 0;
  const spy = vi.spyOn(proto, "batch").mockImplementation(async function (this: unknown, ...args: unknown[]) {
    const statements = (args[0] as { statement?: string }[] | undefined) ?? [];
    if (held < options.holds && options.isPageWrite(statements.map((s: any) => String(s?.statement ?? "")))) {
      const k = ++held;
      try {
        await vi.waitFor(() => {
          if (options.requestsSeen() < k + 1) throw new Error("next page not requested yet");
        }, { timeout: options.timeoutMs ?? 10_000, interval: 5 });
        overlapped++;
      } catch {
        // not overlapped: counted by `overlapped` staying behind `held`
      }
    }
    return realBatch.apply(this, args);
  });
  try {
    return { result: await body(), held, overlapped };
  } finally {
    spy.mockRestore();
  }
}
