-- Issue 17: a delivery is also deduplicated by the SHA-256 of its raw body (a signed body re-sent
-- under another event name or delivery id is a duplicate), and a hard-deleted issue leaves a
-- tombstone so a replayed old delivery cannot bring it back.
ALTER TABLE `webhook_deliveries` ADD `body_sha256` text;--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_deliveries_project_body_uq` ON `webhook_deliveries` (`project_id`,`body_sha256`);--> statement-breakpoint
CREATE TABLE `issue_tombstones` (
	`project_id` text NOT NULL,
	`external_id` text NOT NULL,
	`external_number` integer,
	`external_updated_at` text,
	`deleted_at` text NOT NULL,
	PRIMARY KEY(`project_id`, `external_id`)
);
