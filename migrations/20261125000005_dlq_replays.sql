-- Dead letters put back on their topic by `fitexctl dlq replay`: replaying again skips them.
CREATE TABLE IF NOT EXISTS dlq_replays (
    dead_letter_topic  TEXT        NOT NULL,
    partition_id       INTEGER     NOT NULL,
    record_offset      BIGINT      NOT NULL,
    event_id           TEXT        NOT NULL,
    replayed_to        TEXT        NOT NULL,
    replayed_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (dead_letter_topic, partition_id, record_offset)
);
