CREATE TABLE `subscription_shard_cursors` (
	`subscription_id` text NOT NULL,
	`shard` integer NOT NULL,
	`cursor` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`subscription_id`, `shard`)
);
