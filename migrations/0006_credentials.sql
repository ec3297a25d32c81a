-- Issue 14: GitHub App installations, shared credentials (health, rate-limit budget, cached
-- installation tokens) and the App webhook's repository routing.
ALTER TABLE `projects` ADD COLUMN `installation_id` integer;
--> statement-breakpoint
CREATE INDEX `projects_installation_idx` ON `projects` (`installation_id`);
--> statement-breakpoint
CREATE TABLE `credentials` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`provider` text NOT NULL,
	`api_base_url` text NOT NULL,
	`installation_id` integer,
	`access_token_enc` text,
	`access_token_expires_at` text,
	`rate_remaining` integer,
	`rate_reset_at` text,
	`limited_until` text,
	`health` text DEFAULT 'ok' NOT NULL,
	`health_at` text,
	`health_reason` text,
	`token_expires_at` text,
	`token_expiry_checked_at` text,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `github_app_repositories` (
	`repository_id` text PRIMARY KEY NOT NULL,
	`installation_id` integer NOT NULL,
	`full_name` text NOT NULL,
	`removed_at` text,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `github_app_repositories_installation_idx` ON `github_app_repositories` (`installation_id`);
--> statement-breakpoint
CREATE TABLE `github_app_project_repositories` (
	`project_id` text PRIMARY KEY NOT NULL,
	`repository_id` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `github_app_project_repositories_repo_idx` ON `github_app_project_repositories` (`repository_id`);
--> statement-breakpoint
CREATE TABLE `github_app_deliveries` (
	`delivery_id` text PRIMARY KEY NOT NULL,
	`event` text NOT NULL,
	`action` text,
	`received_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
