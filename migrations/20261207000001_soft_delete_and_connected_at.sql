-- A participant deleted at the provider is soft-deleted first: hidden at once, purged everywhere
-- after a delay (fetcher.purge_after_s), restorable until then (`fitexctl users restore`).
-- `purge_after` is cleared when the purge starts, so a purge is published once.
ALTER TABLE participants ADD COLUMN IF NOT EXISTS deleted_at TIMESTAMPTZ;
ALTER TABLE participants ADD COLUMN IF NOT EXISTS purge_after TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS participants_purge_after ON participants (purge_after)
    WHERE purge_after IS NOT NULL;

-- When the participant last connected this account (a code exchange or a pasted token, not a
-- refresh): a revocation notice received before it is older than the connection it would end.
ALTER TABLE provider_connections
    ADD COLUMN IF NOT EXISTS connected_at TIMESTAMPTZ NOT NULL DEFAULT now();
