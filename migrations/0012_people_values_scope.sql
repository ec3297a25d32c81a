CREATE TABLE `identities` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`provider` text NOT NULL,
	`tracker_origin` text NOT NULL,
	`login` text NOT NULL,
	`tracker_user_id` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `identities_tracker_login_uq` ON `identities` (`provider`,`tracker_origin`,`login`);--> statement-breakpoint
CREATE INDEX `identities_user_idx` ON `identities` (`user_id`);--> statement-breakpoint
CREATE INDEX `identities_tracker_user_idx` ON `identities` (`provider`,`tracker_origin`,`tracker_user_id`);--> statement-breakpoint
ALTER TABLE `projects` ADD `field_maps` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `label_policy` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `milestone_policy` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `scope` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `field_directions` text;