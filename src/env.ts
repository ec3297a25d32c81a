import type { PushJob, SyncJob } from "./queue/messages";

/**
 * Every binding and secret the Worker uses, in one place (see wrangler.toml) — all but
 * PROJECT_SYNC, whose type names the Durable Object class: it is declared beside that class
 * (src/durable/project-sync.ts), so this file imports nothing from the layers above the queue.
 */
export interface Env {
  DB: D1Database;
  /** Sync runs and webhook applies. */
  SYNC_QUEUE: Queue<SyncJob>;
  /** Outbound pushes of local changes. */
  PUSH_QUEUE: Queue<PushJob>;
  /** Bearer token for /api/* (secret): an admin token named "default". */
  API_TOKEN: string;
  /**
   * More API tokens (secret, optional): a JSON array of `{"name", "scope": "read" | "admin", "token"}`,
   * valid beside API_TOKEN, so a new token can be rolled out before the old one is removed.
   */
  API_TOKENS?: string;
  /**
   * Hosts a project's `apiBaseUrl` may reach over plain http:// (var, optional; comma-separated).
   * The tracker token then crosses the network in clear text: for private trackers on a trusted network only.
   */
  ALLOW_INSECURE_TRACKER_HOSTS?: string;
  /** base64 of 32 random bytes: the AES-GCM key for tracker tokens and webhook secrets (secret). */
  TOKEN_ENCRYPTION_KEY: string;
}
