ALTER TABLE `comments` ADD `deletion_proof_at` text;--> statement-breakpoint
ALTER TABLE `comments` ADD `body_parts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `comments` ADD `base_parts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `issue_tombstones` ADD `issue_id` text;