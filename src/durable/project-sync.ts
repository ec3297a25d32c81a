import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { loadSyncContext } from "../sync/context";
import { pushIssue, type PushOutcome } from "../sync/push";
import { requestRun, runStep, type RunMode, type RunTrigger } from "../sync/runs";
import { applyDelivery } from "../sync/webhook-apply";

/**
 * One per project (named by the project id): every write path of that project runs here, one at a
 * time. A Durable Object only blocks other events during storage calls — an `await fetch()` to the
 * tracker lets the next request in — so each entry point goes through `exclusive`, a promise chain
 * that starts a call only after the previous one settled.
 */
export class ProjectSync extends DurableObject<Env> {
  #tail: Promise<unknown> = Promise.resolve();

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn, fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async #remember(projectId: string): Promise<void> {
    if ((await this.ctx.storage.get<string>("projectId")) !== projectId) await this.ctx.storage.put("projectId", projectId);
  }

  /** Starts a run, or joins the one already going (a full request upgrades an incremental run). */
  async requestRun(projectId: string, mode: RunMode, trigger: RunTrigger): Promise<{ runId: string; joined: boolean }> {
    return this.#exclusive(async () => {
      await this.#remember(projectId);
      const result = await requestRun(this.env, projectId, mode, trigger);
      await this.#scheduleNextStep(new Date().toISOString());
      return result;
    });
  }

  /** Applies one stored webhook delivery. */
  async applyDelivery(projectId: string, deliveryRowId: string): Promise<void> {
    return this.#exclusive(async () => {
      await this.#remember(projectId);
      await applyDelivery(await loadSyncContext(this.env, projectId), deliveryRowId);
    });
  }

  /** Pushes one issue's pending local change to the tracker. */
  async pushIssue(projectId: string, issueId: string): Promise<PushOutcome> {
    return this.#exclusive(async () => {
      await this.#remember(projectId);
      return pushIssue(await loadSyncContext(this.env, projectId), issueId);
    });
  }

  /** Each alarm runs one bounded step of the project's active run, in a fresh invocation budget. */
  override async alarm(): Promise<void> {
    await this.#exclusive(async () => {
      const projectId = await this.ctx.storage.get<string>("projectId");
      if (!projectId) return;
      const { nextStepAt } = await runStep(this.env, projectId);
      if (nextStepAt) await this.#scheduleNextStep(nextStepAt);
    });
  }

  async #scheduleNextStep(at: string): Promise<void> {
    const wanted = Date.parse(at);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > wanted) await this.ctx.storage.setAlarm(wanted);
  }
}
