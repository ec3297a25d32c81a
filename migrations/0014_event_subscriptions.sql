CREATE TABLE `event_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`delivery_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`attempted_at` text NOT NULL,
	`status` integer,
	`duration_ms` integer NOT NULL,
	`response` text,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `event_attempts_delivery_idx` ON `event_attempts` (`delivery_id`,`attempted_at`);--> statement-breakpoint
CREATE TABLE `event_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`subscription_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`origin` text NOT NULL,
	`project_id` text,
	`issue_id` text,
	`order_key` text NOT NULL,
	`position` integer NOT NULL,
	`position_index` integer DEFAULT 0 NOT NULL,
	`body` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` text,
	`last_status` integer,
	`last_error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `event_deliveries_sub_event_origin_uq` ON `event_deliveries` (`subscription_id`,`event_id`,`origin`);--> statement-breakpoint
CREATE INDEX `event_deliveries_sub_status_key_pos_idx` ON `event_deliveries` (`subscription_id`,`status`,`order_key`,`position`,`position_index`);--> statement-breakpoint
CREATE INDEX `event_deliveries_sub_issue_pos_idx` ON `event_deliveries` (`subscription_id`,`issue_id`,`position`);--> statement-breakpoint
CREATE TABLE `subscriptions` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`description` text,
	`event_types` text NOT NULL,
	`project_ids` text,
	`payload` text DEFAULT 'full' NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`disabled_reason` text,
	`disabled_at` text,
	`secret_enc` text NOT NULL,
	`previous_secret_enc` text,
	`previous_secret_expires_at` text,
	`cursor` integer DEFAULT 0 NOT NULL,
	`failing_since` text,
	`last_success_at` text,
	`last_failure_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
