-- Comment sync (issue 12): local comments with their tracker mapping, base and sync state; the
-- comment outbox; comments that arrived before their issue; the comment listing cursor.
CREATE TABLE `comments` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`issue_id` text NOT NULL,
	`body` text NOT NULL,
	`author` text NOT NULL,
	`visibility` text DEFAULT 'public' NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`external_id` text,
	`external_url` text,
	`external_updated_at` text,
	`base` text,
	`sync_state` text DEFAULT 'synced' NOT NULL,
	`sync_error` text,
	`deleted_at` text,
	`last_seen_run_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `comments_project_external_uq` ON `comments` (`project_id`,`external_id`);--> statement-breakpoint
CREATE INDEX `comments_issue_created_idx` ON `comments` (`issue_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `comments_project_state_idx` ON `comments` (`project_id`,`sync_state`);--> statement-breakpoint
CREATE TABLE `comment_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`comment_id` text NOT NULL,
	`op` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`create_attempted_at` text,
	`sent_body` text,
	`next_attempt_at` text,
	`last_error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `comment_outbox_comment_uq` ON `comment_outbox` (`comment_id`);--> statement-breakpoint
CREATE INDEX `comment_outbox_project_status_idx` ON `comment_outbox` (`project_id`,`status`);--> statement-breakpoint
CREATE INDEX `comment_outbox_status_updated_idx` ON `comment_outbox` (`status`,`updated_at`);--> statement-breakpoint
CREATE TABLE `pending_comments` (
	`project_id` text NOT NULL,
	`external_id` text NOT NULL,
	`issue_number` integer NOT NULL,
	`comment` text NOT NULL,
	`received_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	PRIMARY KEY(`project_id`, `external_id`)
);
--> statement-breakpoint
CREATE INDEX `pending_comments_issue_idx` ON `pending_comments` (`project_id`,`issue_number`);--> statement-breakpoint
ALTER TABLE `projects` ADD `comment_cursor` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `comment_cursor_etag` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `comment_attribution` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `conflicts` ADD `comment_id` text;
