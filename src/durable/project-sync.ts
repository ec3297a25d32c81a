import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { loadSyncContext } from "../sync/context";
import { pushComment } from "../sync/comment-push";
import { applyDeliveries } from "../sync/deliveries";
import { pushIssue, type PushOutcome } from "../sync/push";
import { dropCarry, emptyCarry, requestRun, runStep, type PageCarry, type RunMode, type RunTrigger } from "../sync/runs";

/**
 * What an RPC call answers. Errors travel as data: a thrown error loses its class across RPC (the
 * caller could not tell a deleted project from a tracker outage) and workerd logs it as uncaught.
 */
export type RpcResult<T> = { ok: true; value: T } | { ok: false; error: { name: string; message: string } };

/**
 * One per project (named by the project id): every write path of that project runs here, one at a
 * time. A Durable Object only blocks other events during storage calls — an `await fetch()` to the
 * tracker lets the next request in — so each entry point goes through `#exclusive`, a promise chain
 * that starts a call only after the previous one settled.
 */
export class ProjectSync extends DurableObject<Env> {
  #tail: Promise<unknown> = Promise.resolve();
  /**
   * The listing pages the run's steps fetched ahead for the next ones (memory only; see PageCarry).
   * Another write path (a webhook apply, a push) first stops that chain and waits for its requests
   * to settle, and drops them, so no page fetched before that write is applied after it: the next
   * step fetches them again (a request or two more, only when interleaved).
   */
  #carry: PageCarry = emptyCarry();

  async #dropCarry(): Promise<void> {
    await dropCarry(this.#carry);
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn, fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async #call<T>(projectId: string, fn: () => Promise<T>): Promise<RpcResult<T>> {
    try {
      const value = await this.#exclusive(async () => {
        if ((await this.ctx.storage.get<string>("projectId")) !== projectId) await this.ctx.storage.put("projectId", projectId);
        return fn();
      });
      return { ok: true, value };
    } catch (err) {
      const error = err instanceof Error ? { name: err.name, message: err.message } : { name: "Error", message: String(err) };
      return { ok: false, error };
    }
  }

  /** Starts a run, or joins the one already going (a full request upgrades an incremental run). */
  async requestRun(projectId: string, mode: RunMode, trigger: RunTrigger): Promise<RpcResult<{ runId: string; joined: boolean }>> {
    return this.#call(projectId, async () => {
      const result = await requestRun(this.env, projectId, mode, trigger);
      await this.#scheduleNextStep(Date.now());
      return result;
    });
  }

  /**
   * Deliveries waiting for their turn in the chain. A burst (the edge hands each delivery over as it
   * arrives) is applied in one turn: one project and credential load for all of them, their rows and
   * deletion proofs read together (sync/deliveries.ts applyDeliveries), each delivery still applied
   * and finished on its own, in arrival order, and answered when the turn ends.
   */
  #waiting: { deliveryRowId: string; answer: (result: RpcResult<null>) => void }[] = [];

  /** Applies one stored webhook delivery (with any others waiting for the same turn). */
  async applyDelivery(projectId: string, deliveryRowId: string): Promise<RpcResult<null>> {
    return new Promise((answer) => {
      this.#waiting.push({ deliveryRowId, answer });
      if (this.#waiting.length > 1) return; // a turn is already queued: it takes this one too
      void this.#call(projectId, async () => {
        const turn = this.#waiting;
        this.#waiting = [];
        await this.#dropCarry();
        const ctx = await loadSyncContext(this.env, projectId).catch((err: unknown) => err as Error);
        if (ctx instanceof Error) {
          for (const { answer: reply } of turn) reply({ ok: false, error: { name: ctx.name, message: ctx.message } });
          return null;
        }
        const errors = await applyDeliveries(
          ctx,
          turn.map((w) => w.deliveryRowId),
        ).catch((err: unknown) => turn.map(() => err));
        turn.forEach(({ answer: reply }, i) => {
          const err = errors[i] ?? null;
          reply(err === null ? { ok: true, value: null } : { ok: false, error: err instanceof Error ? { name: err.name, message: err.message } : { name: "Error", message: String(err) } });
        });
        return null;
      }).then((result) => {
        // Only a failure outside the loop (the storage write of #call) lands here: answer whoever is left.
        if (!result.ok) for (const w of this.#waiting.splice(0)) w.answer(result);
      });
    });
  }

  /** Pushes one issue's pending local change to the tracker. */
  async pushIssue(projectId: string, issueId: string): Promise<RpcResult<PushOutcome>> {
    return this.#call(projectId, async () => {
      await this.#dropCarry();
      return pushIssue(await loadSyncContext(this.env, projectId), issueId);
    });
  }

  /** Pushes one comment's pending local change to the tracker. */
  async pushComment(projectId: string, commentId: string): Promise<RpcResult<PushOutcome>> {
    return this.#call(projectId, async () => pushComment(await loadSyncContext(this.env, projectId), commentId));
  }

  /** Each alarm runs one bounded step of the project's active run, in a fresh invocation budget. */
  override async alarm(): Promise<void> {
    await this.#exclusive(async () => {
      const projectId = await this.ctx.storage.get<string>("projectId");
      if (!projectId) return;
      const { nextStepAt } = await runStep(this.env, projectId, Date.now, this.#carry);
      if (nextStepAt) await this.#scheduleNextStep(Date.parse(nextStepAt));
    });
  }

  async #scheduleNextStep(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}
