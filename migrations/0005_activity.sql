-- Activity stream (issue 13): one row per change the product made, in commit order.
-- `seq` is assigned by SQLite inside the writing transaction; D1 has one writer at a time, so seq
-- order is commit order and a reader never sees seq N+1 before N: the API's cursor is safe.
-- AUTOINCREMENT: a seq is never reused after retention deletes the newest rows of an idle table.
CREATE TABLE `activity` (
  `seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  `project_id` text NOT NULL,
  `issue_id` text,
  `kind` text NOT NULL,
  `source` text NOT NULL,
  `actor` text,
  `run_id` text,
  `delivery_id` text,
  `changes` text,
  `detail` text,
  `created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `activity_project_seq_idx` ON `activity` (`project_id`,`seq`);
--> statement-breakpoint
CREATE INDEX `activity_issue_seq_idx` ON `activity` (`issue_id`,`seq`);
--> statement-breakpoint
CREATE INDEX `activity_created_idx` ON `activity` (`created_at`);
--> statement-breakpoint
-- Conflicts settled by hand (keep local / take tracker): who, when, which side.
ALTER TABLE `conflicts` ADD `resolved_at` text;
--> statement-breakpoint
ALTER TABLE `conflicts` ADD `resolved_keep` text;
--> statement-breakpoint
ALTER TABLE `conflicts` ADD `resolved_by` text;
--> statement-breakpoint
-- Listing totals where the tracker reports one (GitLab X-Total, Gitea X-Total-Count): progress bars.
ALTER TABLE `sync_runs` ADD `total` integer;
