import { z } from "zod";

/**
 * Queue messages carry ids, never payloads (a message is at most 128 KB): a webhook payload lives in
 * D1 and the message names its row. Parsed at the consumer's door; a malformed one is acked and logged.
 */
export const SyncJob = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("sync"),
    projectId: z.string().min(1),
    mode: z.enum(["incremental", "full"]),
    trigger: z.enum(["cron", "api", "webhook", "resume"]),
  }),
  z.object({ type: z.literal("webhook"), projectId: z.string().min(1), deliveryRowId: z.string().min(1) }),
]);
export type SyncJob = z.infer<typeof SyncJob>;

export const PushJob = z.object({
  type: z.literal("push"),
  projectId: z.string().min(1),
  issueId: z.string().min(1),
});
export type PushJob = z.infer<typeof PushJob>;

/** A comment's pending local change, sent on the push queue (same retries and dead letter as issue pushes). */
export const CommentPushJob = z.object({
  type: z.literal("comment_push"),
  projectId: z.string().min(1),
  commentId: z.string().min(1),
});
export type CommentPushJob = z.infer<typeof CommentPushJob>;

/** Wakes one event subscription's dispatcher (sent on the sync queue by the cron sweep). */
export const EventsJob = z.object({
  type: z.literal("events"),
  subscriptionId: z.string().min(1),
});
export type EventsJob = z.infer<typeof EventsJob>;

export type Job = SyncJob | PushJob | CommentPushJob | EventsJob;

/** Queue names, as in wrangler.toml. */
export const QUEUES = {
  sync: "syndarix-sync-jobs",
  syncDead: "syndarix-sync-jobs-dlq",
  push: "syndarix-sync-push",
  pushDead: "syndarix-sync-push-dlq",
} as const;
