-- Google Health API: steps entered by hand are kept apart from measured steps, and a Fitbit
-- connection that a Google Health connection replaced is kept (for history) and points at it.

ALTER TABLE activity_days ADD COLUMN IF NOT EXISTS manual_steps INTEGER;

ALTER TABLE provider_connections
    ADD COLUMN IF NOT EXISTS superseded_by BIGINT REFERENCES provider_connections (id) ON DELETE SET NULL;
