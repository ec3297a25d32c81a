ALTER TABLE `identities` ADD `email` text;--> statement-breakpoint
CREATE INDEX `identities_email_idx` ON `identities` (`email`);--> statement-breakpoint
ALTER TABLE `issues` ADD `close_reason` text;--> statement-breakpoint
ALTER TABLE `issues` ADD `scope_frozen_at` text;