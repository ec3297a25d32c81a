ALTER TABLE `projects` ADD `comment_phase_error` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `comment_phase_error_at` text;