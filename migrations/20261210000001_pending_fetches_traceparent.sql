-- The trace a deferred day continues when the pending loop fetches it: the W3C `traceparent` of
-- the fetch that deferred it, itself continuing the notification that asked for the day. NULL for
-- a backfill or a catch-up, which start a new trace.
ALTER TABLE pending_fetches ADD COLUMN IF NOT EXISTS traceparent TEXT;
