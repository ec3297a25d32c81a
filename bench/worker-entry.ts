/**
 * Benchmark-only entry point (bench/run.mjs starts `wrangler dev` with it): the real Worker from
 * src/index.ts, with its D1 binding and queue producers wrapped in counters so a benchmark can read
 * how many D1 round trips and statements a workload cost, and how many queue sends it made.
 *
 *   GET  /__bench/stats   the counters (global to the isolate: Worker, queue consumer and DO)
 *   POST /__bench/reset   zero them
 *   POST /__bench/no-handoff  from now on the webhook edge's hand-off to the Durable Object answers as
 *                         if the project were paused (nothing applied, nothing queued): the "edge
 *                         only" measurement of the webhook section
 *
 * Nothing here changes behaviour: every call is forwarded to the real binding.
 */
import worker, { EventDispatcher as RealEventDispatcher, ProjectSync as RealProjectSync } from "../src/index.ts";
import type { Env } from "../src/env.ts";

interface Counters {
  /** D1 calls that went to the database: one per statement run alone, one per batch. */
  roundTrips: number;
  /** Statements executed (a batch counts each of its statements). */
  statements: number;
  batches: number;
  /** rows_written from D1's result meta (run / all / batch; drizzle's `.raw()` reads carry none). */
  rowsWritten: number;
  /** Wall time spent awaiting D1, ms (overlapping calls add up). */
  d1Ms: number;
  queueCalls: number;
  queueMessages: number;
  bySource: Record<string, number>;
}

function zero(): Counters {
  return { roundTrips: 0, statements: 0, batches: 0, rowsWritten: 0, d1Ms: 0, queueCalls: 0, queueMessages: 0, bySource: {} };
}

let counters = zero();

function meta(result: unknown): void {
  const m = (result as { meta?: { rows_written?: number } } | null)?.meta;
  if (m && typeof m.rows_written === "number") counters.rowsWritten += m.rows_written;
}

async function timed<T>(source: string, statements: number, call: () => Promise<T>): Promise<T> {
  counters.roundTrips++;
  counters.statements += statements;
  counters.bySource[source] = (counters.bySource[source] ?? 0) + statements;
  const start = performance.now();
  try {
    return await call();
  } finally {
    counters.d1Ms += performance.now() - start;
  }
}

class CountingStatement {
  readonly inner: D1PreparedStatement;
  readonly source: string;
  constructor(inner: D1PreparedStatement, source: string) {
    this.inner = inner;
    this.source = source;
  }
  bind(...values: unknown[]): CountingStatement {
    return new CountingStatement(this.inner.bind(...values), this.source);
  }
  first(column?: string): Promise<unknown> {
    return timed(this.source, 1, () => (column === undefined ? this.inner.first() : this.inner.first(column)));
  }
  async run(): Promise<D1Result> {
    const r = await timed(this.source, 1, () => this.inner.run());
    meta(r);
    return r;
  }
  async all(): Promise<D1Result> {
    const r = await timed(this.source, 1, () => this.inner.all());
    meta(r);
    return r;
  }
  raw(options?: { columnNames?: boolean }): Promise<unknown[]> {
    return timed(this.source, 1, () => this.inner.raw(options as { columnNames: true }) as Promise<unknown[]>);
  }
}

function countingD1(db: D1Database, source: string): D1Database {
  const wrapped = {
    prepare: (query: string) => new CountingStatement(db.prepare(query), source),
    batch: async (statements: CountingStatement[]) => {
      counters.batches++;
      const results = await timed(source, statements.length, () => db.batch(statements.map((s) => (s instanceof CountingStatement ? s.inner : s))));
      for (const r of results) meta(r);
      return results;
    },
    exec: (query: string) => timed(source, 1, () => db.exec(query)),
    dump: () => db.dump(),
    withSession: (...args: Parameters<D1Database["withSession"]>) => db.withSession(...args),
  };
  return wrapped as unknown as D1Database;
}

function countingQueue<T>(queue: Queue<T>): Queue<T> {
  return {
    send: (body: T, options?: QueueSendOptions) => {
      counters.queueCalls++;
      counters.queueMessages++;
      return queue.send(body, options);
    },
    sendBatch: (messages: Iterable<MessageSendRequest<T>>, options?: QueueSendBatchOptions) => {
      const list = [...messages];
      counters.queueCalls++;
      counters.queueMessages += list.length;
      return queue.sendBatch(list, options);
    },
  } as Queue<T>;
}

let handoff = true;

/** The Durable Object namespace with `applyDelivery` answering "paused" (see /__bench/no-handoff). */
function withoutHandoff(ns: Env["PROJECT_SYNC"]): Env["PROJECT_SYNC"] {
  return new Proxy(ns, {
    get(target, prop) {
      if (prop === "get") {
        return (id: DurableObjectId) => {
          const stub = target.get(id);
          return new Proxy(stub, {
            get(s, p) {
              if (p === "applyDelivery") return async () => ({ ok: false, error: { name: "ProjectPaused", message: "hand-off disabled by the bench" } });
              const v = Reflect.get(s, p);
              return typeof v === "function" ? v.bind(s) : v;
            },
          });
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

function instrument(env: Env, source: string): Env {
  const instrumented = { ...env, DB: countingD1(env.DB, source), SYNC_QUEUE: countingQueue(env.SYNC_QUEUE), PUSH_QUEUE: countingQueue(env.PUSH_QUEUE) };
  return handoff || source !== "fetch" ? instrumented : { ...instrumented, PROJECT_SYNC: withoutHandoff(env.PROJECT_SYNC) };
}

export class ProjectSync extends RealProjectSync {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, instrument(env, "durable-object"));
  }
}

export class EventDispatcher extends RealEventDispatcher {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, instrument(env, "event-dispatcher"));
  }
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/__bench/stats") return Response.json(counters);
    if (path === "/__bench/no-handoff" && request.method === "POST") {
      handoff = false;
      return Response.json({ handoff });
    }
    if (path === "/__bench/reset" && request.method === "POST") {
      counters = zero();
      return Response.json(counters);
    }
    return worker.fetch(request, instrument(env, "fetch"), ctx);
  },
  async scheduled(controller: ScheduledController, env: Env): Promise<void> {
    const before = { ...counters };
    const start = performance.now();
    await worker.scheduled(controller, instrument(env, "scheduled"));
    console.log(
      JSON.stringify({
        msg: "bench scheduled",
        cron: controller.cron,
        ms: Math.round(performance.now() - start),
        d1RoundTrips: counters.roundTrips - before.roundTrips,
        d1Statements: counters.statements - before.statements,
        queueCalls: counters.queueCalls - before.queueCalls,
        queueMessages: counters.queueMessages - before.queueMessages,
      }),
    );
  },
  queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    return worker.queue(batch as never, instrument(env, "queue"));
  },
} satisfies ExportedHandler<Env>;
