/**
 * The callers' side of the ProjectSync Durable Object: the stub lookup (one object per project,
 * named by its id) and the unwrapping of RPC answers, whose errors come back as data.
 */
import type { Env } from "../env";
import type { PushOutcome } from "../sync/push";
import type { RunMode, RunTrigger } from "../sync/runs";
import type { RpcResult } from "./project-sync";

/** Rethrows an RPC answer's error with its name kept (the consumer tells `NotFound` apart by it). */
export function unwrap<T>(result: RpcResult<T>): T {
  if (result.ok) return result.value;
  const error = new Error(result.error.message);
  error.name = result.error.name;
  throw error;
}

/** The project's Durable Object; every call runs in its serialized chain and throws its error. */
export function projectSync(env: Env, projectId: string) {
  const stub = env.PROJECT_SYNC.get(env.PROJECT_SYNC.idFromName(projectId));
  return {
    async requestRun(mode: RunMode, trigger: RunTrigger): Promise<{ runId: string; joined: boolean }> {
      return unwrap(await stub.requestRun(projectId, mode, trigger));
    },
    async applyDelivery(deliveryRowId: string): Promise<null> {
      return unwrap(await stub.applyDelivery(projectId, deliveryRowId));
    },
    async pushIssue(issueId: string): Promise<PushOutcome> {
      return unwrap(await stub.pushIssue(projectId, issueId));
    },
    async pushComment(commentId: string): Promise<PushOutcome> {
      return unwrap(await stub.pushComment(projectId, commentId));
    },
  };
}
