-- Records accepted by a service that the broker could not acknowledge in time. A relay publishes
-- them once the broker is back and deletes what it published (see docs/architecture.md).
CREATE TABLE IF NOT EXISTS kafka_outbox (
    id          BIGSERIAL PRIMARY KEY,
    event_id    UUID        NOT NULL UNIQUE,
    source      TEXT        NOT NULL,
    topic       TEXT        NOT NULL,
    record_key  TEXT        NOT NULL,
    payload     BYTEA       NOT NULL,
    headers     JSONB       NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts    INTEGER     NOT NULL DEFAULT 0,
    last_error  TEXT
);

CREATE INDEX IF NOT EXISTS kafka_outbox_source_id ON kafka_outbox (source, id);
