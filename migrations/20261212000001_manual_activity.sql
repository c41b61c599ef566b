-- Activity a wearable does not count, logged by hand (issue 16 §3), and the grace period after a
-- season's last day during which late syncs and manual entries still count (§4).

-- Hours after the season's last day has ended everywhere on earth (its end in UTC-12) during which
-- late syncs and manual entries for season days still count.
ALTER TABLE programs ADD COLUMN IF NOT EXISTS grace_hours INTEGER NOT NULL DEFAULT 72
    CHECK (grace_hours BETWEEN 0 AND 2160);

-- One logged activity. Kept apart from the days a provider reports (`activity_days`), so that a
-- fetch never overwrites it and it never feeds a step baseline or an adaptive step goal.
CREATE TABLE IF NOT EXISTS manual_activities (
    id              BIGSERIAL PRIMARY KEY,
    participant_id  BIGINT      NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    -- The participant's local date.
    day             DATE        NOT NULL,
    -- One of fitex_goals::ActivityKind (kept as text: the list may grow).
    kind            TEXT        NOT NULL,
    minutes         INTEGER     NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    intensity       TEXT        NOT NULL CHECK (intensity IN ('moderate', 'vigorous')),
    -- Whether their tracker was worn during it: then the device may already count these minutes.
    device_worn     BOOLEAN     NOT NULL,
    source          TEXT        NOT NULL DEFAULT 'manual' CHECK (source = 'manual'),
    -- Who entered it: 'participant' (themselves, on the portal) or 'operator:<name>'.
    entered_by      TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS manual_activities_participant_day ON manual_activities (participant_id, day);
