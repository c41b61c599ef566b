-- Each participant's current provider user id: their live connection's, else their latest one's (a
-- Fitbit connection replaced by a Google Health one shows the Google Health id). Owned by the
-- connections (crates/connections); the goals' storage names members through it without reading
-- provider_connections itself.
CREATE OR REPLACE VIEW current_provider_user_ids AS
SELECT DISTINCT ON (participant_id) participant_id, provider_user_id
FROM provider_connections
ORDER BY participant_id, (superseded_by IS NULL) DESC, id DESC;
