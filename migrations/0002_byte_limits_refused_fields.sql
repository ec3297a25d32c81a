-- Issue 11 (engineer B): D1 limits are bytes; refused fields.
-- A body or base too large for an issue row is stored split across rows of issue_text_parts;
-- body_parts / base_parts say how many parts hold the column's value (0: the column holds it).
ALTER TABLE `issues` ADD COLUMN `body_parts` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE `issues` ADD COLUMN `base_parts` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
-- JSON array of the fields the tracker refused on the last push ({field, reason, sent, kept}).
ALTER TABLE `issues` ADD COLUMN `sync_warnings` text;
--> statement-breakpoint
CREATE TABLE `issue_text_parts` (
	`issue_id` text NOT NULL,
	`project_id` text NOT NULL,
	`field` text NOT NULL,
	`seq` integer NOT NULL,
	`text` text NOT NULL,
	PRIMARY KEY(`issue_id`, `field`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `issue_text_parts_project_idx` ON `issue_text_parts` (`project_id`);
