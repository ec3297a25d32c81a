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
  /** Bearer token for /api/* (secret). */
  API_TOKEN: string;
  /** base64 of 32 random bytes: the AES-GCM key for tracker tokens and webhook secrets (secret). */
  TOKEN_ENCRYPTION_KEY: string;
  /** GitHub App id (digits) or client id (`Iv…`); only needed for projects connected with `installationId` (secret). */
  GITHUB_APP_ID?: string;
  /** The App's private key, PEM as GitHub downloads it (PKCS#1) or PKCS#8 (secret). */
  GITHUB_APP_PRIVATE_KEY?: string;
  /** The App's webhook secret: verifies `POST /webhooks/github-app` (secret). */
  GITHUB_APP_WEBHOOK_SECRET?: string;
}
