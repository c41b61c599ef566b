-- A day the provider holds no data for (the device was not worn, or has not synced) is stored as
-- such, not as a day of zero steps: Google Health sends a genuine zero as an explicit 0 point and
-- leaves a gap for a day without data. The numeric columns of such a row are zero and mean nothing;
-- the goals service counts the day as non-wear.
ALTER TABLE activity_days ADD COLUMN IF NOT EXISTS no_data BOOLEAN NOT NULL DEFAULT false;
