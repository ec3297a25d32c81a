ALTER TABLE `projects` ADD `pull_request_cursor` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `pull_request_phase_error` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `pull_request_phase_error_at` text;