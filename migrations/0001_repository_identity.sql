-- Issue 11 (engineer A): the repository's identity as the tracker reports it, and lost access.
ALTER TABLE projects ADD COLUMN tracker_repository_id text;
ALTER TABLE projects ADD COLUMN tracker_repository_name text;
ALTER TABLE projects ADD COLUMN access_lost_at text;
ALTER TABLE projects ADD COLUMN access_error text;
