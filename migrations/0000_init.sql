CREATE TABLE `conflicts` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`issue_id` text NOT NULL,
	`field` text NOT NULL,
	`base_value` text,
	`local_value` text,
	`tracker_value` text,
	`resolution` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `conflicts_project_created_idx` ON `conflicts` (`project_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `conflicts_issue_idx` ON `conflicts` (`issue_id`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`provider` text NOT NULL,
	`delivery_id` text,
	`kind` text NOT NULL,
	`action` text NOT NULL,
	`external_id` text,
	`external_number` integer,
	`data` text NOT NULL,
	`occurred_at` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_project_created_idx` ON `events` (`project_id`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `issues` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`title` text NOT NULL,
	`body` text DEFAULT '' NOT NULL,
	`state` text DEFAULT 'open' NOT NULL,
	`labels` text DEFAULT '[]' NOT NULL,
	`assignees` text DEFAULT '[]' NOT NULL,
	`milestone` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`external_id` text,
	`external_number` integer,
	`external_url` text,
	`external_updated_at` text,
	`base` text,
	`base_hash` text,
	`sync_state` text DEFAULT 'synced' NOT NULL,
	`sync_error` text,
	`deleted_at` text,
	`last_seen_run_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `issues_project_external_uq` ON `issues` (`project_id`,`external_id`);--> statement-breakpoint
CREATE INDEX `issues_project_updated_idx` ON `issues` (`project_id`,`updated_at`,`id`);--> statement-breakpoint
CREATE INDEX `issues_project_number_idx` ON `issues` (`project_id`,`external_number`);--> statement-breakpoint
CREATE INDEX `issues_project_state_idx` ON `issues` (`project_id`,`sync_state`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`issue_id` text NOT NULL,
	`op` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`create_attempted_at` text,
	`next_attempt_at` text,
	`last_error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_issue_uq` ON `outbox` (`issue_id`);--> statement-breakpoint
CREATE INDEX `outbox_project_status_idx` ON `outbox` (`project_id`,`status`);--> statement-breakpoint
CREATE INDEX `outbox_status_updated_idx` ON `outbox` (`status`,`updated_at`);--> statement-breakpoint
CREATE TABLE `projects` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`provider` text NOT NULL,
	`api_base_url` text NOT NULL,
	`repository` text NOT NULL,
	`sync_direction` text NOT NULL,
	`master` text DEFAULT 'tracker' NOT NULL,
	`deletion_policy` text DEFAULT 'orphan' NOT NULL,
	`sync_enabled` integer DEFAULT true NOT NULL,
	`token_enc` text NOT NULL,
	`webhook_secret_enc` text NOT NULL,
	`cursor` text,
	`cursor_etag` text,
	`next_create_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`last_incremental_sync_at` text,
	`last_full_sync_at` text,
	`last_error` text
);
--> statement-breakpoint
CREATE TABLE `sync_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`mode` text NOT NULL,
	`trigger` text NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`checkpoint` text,
	`resume_at` text,
	`pages` integer DEFAULT 0 NOT NULL,
	`fetched` integer DEFAULT 0 NOT NULL,
	`created` integer DEFAULT 0 NOT NULL,
	`updated` integer DEFAULT 0 NOT NULL,
	`unchanged` integer DEFAULT 0 NOT NULL,
	`conflicts` integer DEFAULT 0 NOT NULL,
	`orphaned` integer DEFAULT 0 NOT NULL,
	`pushed` integer DEFAULT 0 NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`started_at` text,
	`finished_at` text
);
--> statement-breakpoint
CREATE INDEX `sync_runs_project_created_idx` ON `sync_runs` (`project_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `sync_runs_status_idx` ON `sync_runs` (`project_id`,`status`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`provider` text NOT NULL,
	`delivery_id` text NOT NULL,
	`event` text NOT NULL,
	`action` text,
	`payload` text NOT NULL,
	`status` text DEFAULT 'received' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`error` text,
	`received_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`processed_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_deliveries_project_delivery_uq` ON `webhook_deliveries` (`project_id`,`delivery_id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_project_status_idx` ON `webhook_deliveries` (`project_id`,`status`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_status_received_idx` ON `webhook_deliveries` (`status`,`received_at`);