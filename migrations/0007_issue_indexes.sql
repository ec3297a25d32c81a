-- Issue 15: every index on `issues` serves a query (notes/issue-15.md has the table).
-- Keyset pages of a project ordered by id (API issue listing, the full run's probe of unseen
-- issues, project deletion): without it SQLite read and sorted every issue of the project per page.
CREATE INDEX `issues_project_id_idx` ON `issues` (`project_id`,`id`);--> statement-breakpoint
-- Sync-state counts (status endpoint) and the `syncState` filter only ever need the few issues that
-- are not 'synced': a partial index costs imports nothing (imported issues are 'synced').
CREATE INDEX `issues_project_unsynced_idx` ON `issues` (`project_id`,`sync_state`) WHERE `sync_state` <> 'synced';--> statement-breakpoint
-- Replaced by the two above: one index entry written per imported issue for a count.
DROP INDEX IF EXISTS `issues_project_state_idx`;
