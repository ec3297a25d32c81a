CREATE TABLE `dev_links` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`issue_number` integer,
	`issue_id` text,
	`kind` text NOT NULL,
	`target_key` text NOT NULL,
	`pull_request_id` text,
	`ref` text,
	`url` text,
	`title` text,
	`relation` text NOT NULL,
	`source` text NOT NULL,
	`closed_issue_at` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `dev_links_target_idx` ON `dev_links` (`project_id`,`issue_number`,`issue_id`,`target_key`,`source`);--> statement-breakpoint
CREATE INDEX `dev_links_issue_number_idx` ON `dev_links` (`project_id`,`issue_number`);--> statement-breakpoint
CREATE INDEX `dev_links_issue_id_idx` ON `dev_links` (`issue_id`);--> statement-breakpoint
CREATE INDEX `dev_links_pull_request_idx` ON `dev_links` (`pull_request_id`);--> statement-breakpoint
CREATE TABLE `pull_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`external_id` text NOT NULL,
	`number` integer NOT NULL,
	`title` text NOT NULL,
	`body` text DEFAULT '' NOT NULL,
	`url` text NOT NULL,
	`author` text,
	`state` text NOT NULL,
	`base_ref` text,
	`head_ref` text,
	`merged_at` text,
	`closed_at` text,
	`updated_at` text NOT NULL,
	`ignored_refs` text DEFAULT '[]' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `pull_requests_project_number_idx` ON `pull_requests` (`project_id`,`number`);--> statement-breakpoint
CREATE INDEX `pull_requests_project_updated_idx` ON `pull_requests` (`project_id`,`updated_at`);--> statement-breakpoint
ALTER TABLE `projects` ADD `pr_automation` text;