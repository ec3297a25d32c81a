-- Issue 12: GitLab projects may opt in to sending internal comments as internal notes (default off:
-- internal comments never leave Syndarix).
ALTER TABLE `projects` ADD `gitlab_internal_notes` integer DEFAULT false NOT NULL;
