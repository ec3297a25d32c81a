CREATE TABLE `dashboard_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`token_name` text NOT NULL,
	`expires_at` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
ALTER TABLE `github_app_deliveries` ADD `body_sha256` text;--> statement-breakpoint
CREATE UNIQUE INDEX `github_app_deliveries_body_uq` ON `github_app_deliveries` (`body_sha256`);