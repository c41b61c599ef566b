-- Participants, their provider connections (tokens encrypted at rest, sync status) and the daily
-- activity the fetcher stores.

CREATE TABLE IF NOT EXISTS participants (
    id            BIGSERIAL PRIMARY KEY,
    display_name  TEXT,
    -- The participant's IANA time zone, from the provider profile; dates are local to it.
    time_zone     TEXT        NOT NULL DEFAULT 'UTC',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS provider_connections (
    id                 BIGSERIAL PRIMARY KEY,
    participant_id     BIGINT      NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    provider           TEXT        NOT NULL,
    provider_user_id   TEXT        NOT NULL,
    -- 'authorization_code' (refreshable) or 'implicit' (a pasted long-lived token; no refresh).
    token_kind         TEXT        CHECK (token_kind IN ('authorization_code', 'implicit')),
    access_token       BYTEA,
    refresh_token      BYTEA,
    access_expires_at  TIMESTAMPTZ,
    scopes             TEXT        NOT NULL DEFAULT '',
    -- Bumped on every token change: a refresher that lost a race sees it moved.
    token_version      BIGINT      NOT NULL DEFAULT 0,
    sync_status        TEXT        NOT NULL DEFAULT 'active'
                       CHECK (sync_status IN ('active', 'reconnect_required', 'disconnected')),
    status_reason      TEXT,
    status_changed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_sync_at       TIMESTAMPTZ,
    -- When the time zone was last read from the provider profile (refreshed daily).
    time_zone_checked_at TIMESTAMPTZ,
    last_error         TEXT,
    rate_limit         INTEGER,
    rate_remaining     INTEGER,
    rate_resets_at     TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_user_id)
);

CREATE INDEX IF NOT EXISTS provider_connections_participant ON provider_connections (participant_id);

CREATE TABLE IF NOT EXISTS activity_days (
    participant_id          BIGINT           NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    day                     DATE             NOT NULL,
    steps                   INTEGER          NOT NULL,
    distance_km             DOUBLE PRECISION NOT NULL,
    sedentary_minutes       INTEGER          NOT NULL,
    lightly_active_minutes  INTEGER          NOT NULL,
    fairly_active_minutes   INTEGER          NOT NULL,
    very_active_minutes     INTEGER          NOT NULL,
    -- Minutes with a heart-rate signal; NULL when the provider gave none.
    worn_minutes            INTEGER,
    source                  TEXT             NOT NULL,
    fetched_at              TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (participant_id, day)
);

-- Days to fetch later: deferred by a rate limit, missed while reconnection was required, or a
-- backfill. The fetcher takes due rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE IF NOT EXISTS pending_fetches (
    connection_id  BIGINT      NOT NULL REFERENCES provider_connections (id) ON DELETE CASCADE,
    day            DATE        NOT NULL,
    reason         TEXT        NOT NULL,
    not_before     TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, day)
);

CREATE INDEX IF NOT EXISTS pending_fetches_due ON pending_fetches (not_before);
