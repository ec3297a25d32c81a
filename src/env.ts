import type { ProjectSync } from "./durable/project-sync";
import type { PushJob, SyncJob } from "./jobs/messages";

/** Every binding and secret the Worker uses, in one place (see wrangler.toml). */
export interface Env {
  DB: D1Database;
  /** Sync runs and webhook applies. */
  SYNC_QUEUE: Queue<SyncJob>;
  /** Outbound pushes of local changes. */
  PUSH_QUEUE: Queue<PushJob>;
  PROJECT_SYNC: DurableObjectNamespace<ProjectSync>;
  /** Bearer token for /api/* (secret). */
  API_TOKEN: string;
  /** base64 of 32 random bytes: the AES-GCM key for tracker tokens and webhook secrets (secret). */
  TOKEN_ENCRYPTION_KEY: string;
}
