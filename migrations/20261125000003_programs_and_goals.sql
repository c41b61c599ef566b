-- Programs (for example an 8-week FitEx season), their teams and members, and what the goals
-- service computes: each participant's goal history and each team's weekly progress.

CREATE TABLE IF NOT EXISTS programs (
    id                 BIGSERIAL PRIMARY KEY,
    name               TEXT        NOT NULL UNIQUE,
    start_date         DATE        NOT NULL,
    weeks              INTEGER     NOT NULL CHECK (weeks > 0),
    unit               TEXT        NOT NULL CHECK (unit IN ('fitex_miles', 'steps')),
    -- fitex_goals::GoalSettings as JSON (validity rules, baseline rules, strategy).
    goal_settings      JSONB       NOT NULL,
    -- fitex_goals::MileRules as JSON.
    mile_rules         JSONB       NOT NULL,
    met_days_per_week  INTEGER     NOT NULL DEFAULT 4,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS teams (
    id             BIGSERIAL PRIMARY KEY,
    program_id     BIGINT      NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    name           TEXT        NOT NULL,
    -- A team may use its own strategy; NULL means the program's.
    goal_settings  JSONB,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (program_id, name)
);

-- Membership periods: a member who joins or leaves mid-week counts pro rata.
CREATE TABLE IF NOT EXISTS team_members (
    team_id         BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    participant_id  BIGINT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    joined_on       DATE   NOT NULL,
    left_on         DATE,
    PRIMARY KEY (team_id, participant_id, joined_on),
    CHECK (left_on IS NULL OR left_on >= joined_on)
);

CREATE INDEX IF NOT EXISTS team_members_participant ON team_members (participant_id);

ALTER TABLE participants ADD COLUMN IF NOT EXISTS age INTEGER CHECK (age IS NULL OR age BETWEEN 5 AND 120);
-- The participant's own chosen increase over their baseline (the self-chosen strategy).
ALTER TABLE participants ADD COLUMN IF NOT EXISTS self_chosen_increase INTEGER;

CREATE TABLE IF NOT EXISTS goal_history (
    participant_id  BIGINT      NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    program_id      BIGINT      NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    effective_date  DATE        NOT NULL,
    steps           INTEGER     NOT NULL,
    strategy        TEXT        NOT NULL,
    inputs          DATE[]      NOT NULL,
    citation        TEXT        NOT NULL,
    provisional     BOOLEAN     NOT NULL,
    explanation     TEXT        NOT NULL,
    computed_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (participant_id, program_id, effective_date)
);

CREATE TABLE IF NOT EXISTS team_progress (
    team_id               BIGINT           NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    week                  INTEGER          NOT NULL,
    goal                  DOUBLE PRECISION NOT NULL,
    progress              DOUBLE PRECISION NOT NULL,
    percent_of_goal       DOUBLE PRECISION NOT NULL,
    members               INTEGER          NOT NULL,
    members_meeting_goal  INTEGER          NOT NULL,
    share_meeting_goal    DOUBLE PRECISION NOT NULL,
    computed_at           TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (team_id, week)
);
