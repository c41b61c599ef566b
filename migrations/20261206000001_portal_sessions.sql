-- Signed-in sessions of the participant pages. The browser's cookie holds a random 256-bit id;
-- only its SHA-256 is kept here, so a copy of this table signs nobody in. A session ends when it
-- is revoked (sign-out, "sign out everywhere"), after the configured idle time since last_seen_at,
-- and the configured absolute time after created_at (portal.session_*_timeout_s).
CREATE TABLE IF NOT EXISTS portal_sessions (
    token_hash      BYTEA       PRIMARY KEY,
    participant_id  BIGINT      NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at      TIMESTAMPTZ
);

-- "Sign out everywhere" revokes a participant's live sessions.
CREATE INDEX IF NOT EXISTS portal_sessions_participant
    ON portal_sessions (participant_id) WHERE revoked_at IS NULL;
-- Sessions past the absolute time are deleted (at each sign-in).
CREATE INDEX IF NOT EXISTS portal_sessions_last_seen ON portal_sessions (last_seen_at);
