CREATE TABLE `project_shards` (
	`project_id` text PRIMARY KEY NOT NULL,
	`shard` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `projects` ADD `shard` integer DEFAULT 0 NOT NULL;