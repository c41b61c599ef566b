-- When the fetch that last wrote each stored day started. Several loops (and replicas) can fetch
-- one participant-day at once; a write wins only if its fetch started after the stored one's, so
-- a slow, older answer never overwrites a newer one. NULL for rows stored before this existed.
ALTER TABLE activity_days ADD COLUMN IF NOT EXISTS fetch_started_at TIMESTAMPTZ;
