-- A season that closes fairly (issue 16 §4): when a programme's grace period is over, its teams'
-- weeks and its final leaderboard are copied here and never recomputed again; `team_progress`
-- keeps following late data, these tables do not. Operators' corrections change them only
-- through `fitexctl season correct`, each with a row in `audit_log`.

-- One row per closed programme: its presence is what "final" means.
CREATE TABLE IF NOT EXISTS season_closures (
    program_id        BIGINT      PRIMARY KEY REFERENCES programs (id) ON DELETE CASCADE,
    closed_at         TIMESTAMPTZ NOT NULL,
    -- The grace deadline the programme had when it closed (`Program::grace_deadline`).
    grace_deadline    TIMESTAMPTZ NOT NULL,
    -- The week the final leaderboard ranks (the last week with progress).
    leaderboard_week  INTEGER     NOT NULL CHECK (leaderboard_week > 0),
    -- 'goals' (the service's periodic closer) or 'fitexctl' (an operator closing it at once).
    closed_by         TEXT        NOT NULL,
    -- The SeasonClosed event published for it.
    event_id          UUID        NOT NULL
);

-- Every team week of a closed programme as `team_progress` had it at the close (the same columns).
CREATE TABLE IF NOT EXISTS season_final_team_weeks (
    program_id            BIGINT           NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    team_id               BIGINT           NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    week                  INTEGER          NOT NULL,
    goal                  DOUBLE PRECISION NOT NULL,
    progress              DOUBLE PRECISION NOT NULL,
    percent_of_goal       DOUBLE PRECISION NOT NULL,
    members               INTEGER          NOT NULL,
    members_meeting_goal  INTEGER          NOT NULL,
    share_meeting_goal    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (team_id, week)
);

CREATE INDEX IF NOT EXISTS season_final_team_weeks_program ON season_final_team_weeks (program_id);

-- The final leaderboard: each team ranked in the closure's leaderboard week, from the frozen
-- weeks above (rewritten from them when an operator corrects one).
CREATE TABLE IF NOT EXISTS season_final_standings (
    program_id       BIGINT           NOT NULL REFERENCES season_closures (program_id)
                                      ON DELETE CASCADE,
    team_id          BIGINT           NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    rank             INTEGER          NOT NULL CHECK (rank > 0),
    percent_of_goal  DOUBLE PRECISION NOT NULL,
    versus_median    DOUBLE PRECISION NOT NULL,
    streak_weeks     INTEGER          NOT NULL,
    PRIMARY KEY (program_id, team_id)
);

-- What operators changed by hand, and why. Rows are only ever added: the trigger below refuses
-- to change or delete one, so the log cannot be tidied after the fact.
CREATE TABLE IF NOT EXISTS audit_log (
    id          BIGSERIAL   PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Who: the name the operator gave (`--by`).
    actor       TEXT        NOT NULL CHECK (btrim(actor) <> ''),
    -- What kind of change, e.g. 'season_correct'.
    action      TEXT        NOT NULL,
    -- The programme it is about (no foreign key: the log outlives what it names).
    program_id  BIGINT,
    -- What was changed, in words, e.g. 'team Walkers (id 7), week 8'.
    subject     TEXT        NOT NULL,
    old_value   JSONB       NOT NULL,
    new_value   JSONB       NOT NULL,
    -- Why.
    reason      TEXT        NOT NULL CHECK (btrim(reason) <> '')
);

CREATE INDEX IF NOT EXISTS audit_log_program ON audit_log (program_id, at);

CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log rows cannot be changed or deleted';
END;
$$;

DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
