CREATE TABLE `idempotency_keys` (
	`token_name` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer,
	`response` text,
	`created_at` text NOT NULL,
	PRIMARY KEY(`token_name`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_created_idx` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
CREATE INDEX `activity_access_idx` ON `activity` (`project_id`,`kind`,`created_at`) WHERE "activity"."kind" IN ('access.failed', 'project.token_replaced');--> statement-breakpoint
CREATE INDEX `conflicts_open_idx` ON `conflicts` (`project_id`) WHERE "conflicts"."resolved_at" IS NULL;--> statement-breakpoint
CREATE INDEX `sync_runs_active_idx` ON `sync_runs` (`project_id`) WHERE "sync_runs"."status" IN ('queued', 'running');