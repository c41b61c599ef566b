-- When a pending day was first requested: a debounced ("quiet") fetch waits for notifications to
-- stop, but never longer than a bound after the first one.
ALTER TABLE pending_fetches ADD COLUMN IF NOT EXISTS first_requested_at TIMESTAMPTZ NOT NULL DEFAULT now();
