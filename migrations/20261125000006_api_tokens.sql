-- Credentials for staff and internal services on the HTTP APIs. Only a SHA-256 of each token is
-- kept; the token itself is shown once, when issued.
CREATE TABLE IF NOT EXISTS api_tokens (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT        NOT NULL UNIQUE,
    -- 'read': internal consumers (read-only API); 'admin': program staff (also exports).
    scope       TEXT        NOT NULL CHECK (scope IN ('read', 'admin')),
    token_hash  BYTEA       NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);
