//! The goals service's reads and writes: programs, teams, memberships, days, goal history and
//! team progress.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::zone::ParticipantZone;
use fitex_goals::{
    latest_week, leaderboard, DayRecord, Goal, GoalSettings, LeaderboardEntry, ManualMinutes,
    Membership, MileRules, ParticipantGoalInput, Program, TeamWeek, Unit,
};
use sqlx::{PgPool, Postgres, Transaction};

/// A program row, with its settings parsed.
#[derive(Debug, Clone)]
pub struct ProgramRow {
    pub id: i64,
    pub name: String,
    pub program: Program,
}

#[derive(sqlx::FromRow)]
struct RawProgram {
    id: i64,
    name: String,
    start_date: NaiveDate,
    weeks: i32,
    unit: String,
    goal_settings: serde_json::Value,
    mile_rules: serde_json::Value,
    met_days_per_week: i32,
    grace_hours: i32,
}

fn parse_program(
    raw: RawProgram,
    team_settings: Option<serde_json::Value>,
) -> Result<ProgramRow, sqlx::Error> {
    let decode = |what: &str, e: serde_json::Error| {
        sqlx::Error::Decode(format!("program {} {what}: {e}", raw.id).into())
    };
    let goals: GoalSettings = match team_settings {
        Some(team) => serde_json::from_value(team).map_err(|e| decode("team goal settings", e))?,
        None => serde_json::from_value(raw.goal_settings.clone())
            .map_err(|e| decode("goal settings", e))?,
    };
    let miles: MileRules =
        serde_json::from_value(raw.mile_rules.clone()).map_err(|e| decode("mile rules", e))?;
    let unit = if raw.unit == "steps" { Unit::Steps } else { Unit::FitexMiles };
    Ok(ProgramRow {
        id: raw.id,
        name: raw.name,
        program: Program {
            start_date: raw.start_date,
            weeks: raw.weeks.max(1) as u32,
            unit,
            miles,
            goals,
            met_days_per_week: raw.met_days_per_week.clamp(0, 7) as u32,
            grace_hours: raw.grace_hours.max(0) as u32,
        },
    })
}

pub async fn program(pool: &PgPool, id: i64) -> Result<Option<ProgramRow>, sqlx::Error> {
    let raw: Option<RawProgram> = sqlx::query_as(
        "SELECT id, name, start_date, weeks, unit, goal_settings, mile_rules, met_days_per_week,
                grace_hours
         FROM programs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    raw.map(|r| parse_program(r, None)).transpose()
}

/// A participant's team in a program, with the program as that team applies it.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub team_id: i64,
    pub program: ProgramRow,
    pub memberships: Vec<Membership>,
}

#[derive(sqlx::FromRow)]
struct RawEnrolment {
    participant_id: i64,
    team_id: i64,
    team_settings: Option<serde_json::Value>,
    joined_on: NaiveDate,
    left_on: Option<NaiveDate>,
    #[sqlx(flatten)]
    program: RawProgram,
}

/// Every team (and program) the participant belongs or belonged to.
pub async fn enrolments(pool: &PgPool, participant_id: i64) -> Result<Vec<Enrolment>, sqlx::Error> {
    Ok(enrolments_of(pool, &[participant_id]).await?.remove(&participant_id).unwrap_or_default())
}

/// The enrolments of each of `participant_ids`, in one query (a batch of changes reads all its
/// participants' at once), by participant, each in team order.
pub async fn enrolments_of<'e>(
    pool: impl sqlx::PgExecutor<'e>,
    participant_ids: &[i64],
) -> Result<HashMap<i64, Vec<Enrolment>>, sqlx::Error> {
    let rows: Vec<RawEnrolment> = sqlx::query_as(
        "SELECT m.participant_id, t.id AS team_id, t.goal_settings AS team_settings, m.joined_on,
                m.left_on, p.id, p.name, p.start_date, p.weeks, p.unit, p.goal_settings,
                p.mile_rules, p.met_days_per_week, p.grace_hours
         FROM team_members m JOIN teams t ON t.id = m.team_id JOIN programs p ON p.id = t.program_id
         WHERE m.participant_id = ANY($1) ORDER BY m.participant_id, t.id, m.joined_on",
    )
    .bind(participant_ids)
    .fetch_all(pool)
    .await?;
    let mut by_participant: HashMap<i64, Vec<Enrolment>> = HashMap::new();
    for row in rows {
        let membership = Membership { joined: row.joined_on, left: row.left_on };
        let enrolments = by_participant.entry(row.participant_id).or_default();
        match enrolments.last_mut() {
            Some(last) if last.team_id == row.team_id => last.memberships.push(membership),
            _ => enrolments.push(Enrolment {
                team_id: row.team_id,
                program: parse_program(row.program, row.team_settings)?,
                memberships: vec![membership],
            }),
        }
    }
    Ok(by_participant)
}

/// A team's members, each with their membership periods.
pub type TeamMembers = Vec<(i64, Vec<Membership>)>;

/// Members of a team with their membership periods.
pub async fn team_members<'e>(
    pool: impl sqlx::PgExecutor<'e>,
    team_id: i64,
) -> Result<TeamMembers, sqlx::Error> {
    Ok(members_of_teams(pool, &[team_id]).await?.remove(&team_id).unwrap_or_default())
}

/// The members of each of `team_ids` with their membership periods, in one query, by team, each
/// in participant order.
pub async fn members_of_teams<'e>(
    pool: impl sqlx::PgExecutor<'e>,
    team_ids: &[i64],
) -> Result<HashMap<i64, TeamMembers>, sqlx::Error> {
    let rows: Vec<(i64, i64, NaiveDate, Option<NaiveDate>)> = sqlx::query_as(
        "SELECT team_id, participant_id, joined_on, left_on FROM team_members
         WHERE team_id = ANY($1) ORDER BY team_id, participant_id, joined_on",
    )
    .bind(team_ids)
    .fetch_all(pool)
    .await?;
    let mut by_team: HashMap<i64, TeamMembers> = HashMap::new();
    for (team, participant, joined, left) in rows {
        let membership = Membership { joined, left };
        let members = by_team.entry(team).or_default();
        match members.last_mut() {
            Some((id, periods)) if *id == participant => periods.push(membership),
            _ => members.push((participant, vec![membership])),
        }
    }
    Ok(by_team)
}

/// A participant's goal inputs and time zone; `None` when there is no such participant or they
/// are deleted (hidden until their purge).
pub async fn participant(
    pool: &PgPool,
    id: i64,
) -> Result<Option<(ParticipantGoalInput, ParticipantZone)>, sqlx::Error> {
    Ok(participants(pool, &[id]).await?.remove(&id))
}

/// The goal inputs and time zones of those of `ids` who exist and are not deleted, in one query.
pub async fn participants(
    pool: &PgPool,
    ids: &[i64],
) -> Result<HashMap<i64, (ParticipantGoalInput, ParticipantZone)>, sqlx::Error> {
    let rows: Vec<(i64, Option<i32>, Option<i32>, ParticipantZone)> = sqlx::query_as(
        "SELECT id, age, self_chosen_increase, time_zone FROM participants
         WHERE id = ANY($1) AND deleted_at IS NULL",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, age, increase, zone)| {
            let input = ParticipantGoalInput {
                age: age.map(|a| a.max(0) as u32),
                self_chosen_increase: increase,
            };
            (id, (input, zone))
        })
        .collect())
}

pub async fn days<'e>(
    pool: impl sqlx::PgExecutor<'e>,
    participant_id: i64,
    from: NaiveDate,
    through: NaiveDate,
) -> Result<Vec<DayRecord>, sqlx::Error> {
    Ok(days_of(pool, &[participant_id], from, through)
        .await?
        .remove(&participant_id)
        .unwrap_or_default())
}

/// The stored days of each of `participant_ids` between `from` and `through`, in one query (a
/// team week reads all its members' at once), by participant, each in date order. Each day carries
/// the activity logged by hand for it; a day with logged activity and nothing from the provider
/// comes as a day without data ([`DayRecord::no_data`]) that carries it.
pub async fn days_of<'e>(
    pool: impl sqlx::PgExecutor<'e>,
    participant_ids: &[i64],
    from: NaiveDate,
    through: NaiveDate,
) -> Result<HashMap<i64, Vec<DayRecord>>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct DayRow {
        participant_id: i64,
        day: NaiveDate,
        steps: i32,
        distance_km: f64,
        mvpa: i32,
        worn_minutes: Option<i32>,
        no_data: bool,
        worn_moderate: i32,
        worn_vigorous: i32,
        unworn_moderate: i32,
        unworn_vigorous: i32,
    }
    let rows: Vec<DayRow> = sqlx::query_as(
        "WITH measured AS (
             SELECT participant_id, day, steps, distance_km,
                    fairly_active_minutes + very_active_minutes AS mvpa, worn_minutes, no_data
             FROM activity_days WHERE participant_id = ANY($1) AND day BETWEEN $2 AND $3
         ), logged AS (
             SELECT participant_id, day,
                    sum(minutes) FILTER (WHERE device_worn AND intensity = 'moderate') AS wm,
                    sum(minutes) FILTER (WHERE device_worn AND intensity = 'vigorous') AS wv,
                    sum(minutes) FILTER (WHERE NOT device_worn AND intensity = 'moderate') AS um,
                    sum(minutes) FILTER (WHERE NOT device_worn AND intensity = 'vigorous') AS uv
             FROM manual_activities WHERE participant_id = ANY($1) AND day BETWEEN $2 AND $3
             GROUP BY participant_id, day
         )
         SELECT coalesce(m.participant_id, l.participant_id) AS participant_id,
                coalesce(m.day, l.day) AS day,
                coalesce(m.steps, 0) AS steps, coalesce(m.distance_km, 0) AS distance_km,
                coalesce(m.mvpa, 0) AS mvpa, m.worn_minutes, coalesce(m.no_data, true) AS no_data,
                coalesce(l.wm, 0)::int4 AS worn_moderate, coalesce(l.wv, 0)::int4 AS worn_vigorous,
                coalesce(l.um, 0)::int4 AS unworn_moderate,
                coalesce(l.uv, 0)::int4 AS unworn_vigorous
         FROM measured m FULL JOIN logged l ON l.participant_id = m.participant_id AND l.day = m.day
         ORDER BY 1, 2",
    )
    .bind(participant_ids)
    .bind(from)
    .bind(through)
    .fetch_all(pool)
    .await?;
    let mut by_participant: HashMap<i64, Vec<DayRecord>> = HashMap::new();
    for row in rows {
        by_participant.entry(row.participant_id).or_default().push(DayRecord {
            date: row.day,
            steps: row.steps,
            distance_km: row.distance_km,
            moderate_vigorous_minutes: row.mvpa,
            worn_minutes: row.worn_minutes,
            no_data: row.no_data,
            manual: ManualMinutes {
                worn_moderate: row.worn_moderate,
                worn_vigorous: row.worn_vigorous,
                unworn_moderate: row.unworn_moderate,
                unworn_vigorous: row.unworn_vigorous,
            },
        });
    }
    Ok(by_participant)
}

pub async fn goals<'e>(
    pool: impl sqlx::PgExecutor<'e>,
    participant_id: i64,
    program_id: i64,
    from: NaiveDate,
    through: NaiveDate,
) -> Result<Vec<Goal>, sqlx::Error> {
    Ok(goals_of(pool, &[participant_id], program_id, from, through)
        .await?
        .remove(&participant_id)
        .unwrap_or_default())
}

/// The goals of each of `participant_ids` in a program between `from` and `through`, in one
/// query, by participant, each in date order.
pub async fn goals_of<'e>(
    pool: impl sqlx::PgExecutor<'e>,
    participant_ids: &[i64],
    program_id: i64,
    from: NaiveDate,
    through: NaiveDate,
) -> Result<HashMap<i64, Vec<Goal>>, sqlx::Error> {
    type GoalRow = (i64, NaiveDate, i32, String, Vec<NaiveDate>, String, bool, String);
    let rows: Vec<GoalRow> = sqlx::query_as(
        "SELECT participant_id, effective_date, steps, strategy, inputs, citation, provisional,
                explanation
         FROM goal_history WHERE participant_id = ANY($1) AND program_id = $2
           AND effective_date BETWEEN $3 AND $4 ORDER BY participant_id, effective_date",
    )
    .bind(participant_ids)
    .bind(program_id)
    .bind(from)
    .bind(through)
    .fetch_all(pool)
    .await?;
    let mut by_participant: HashMap<i64, Vec<Goal>> = HashMap::new();
    for (
        participant,
        effective_date,
        steps,
        strategy,
        inputs,
        citation,
        provisional,
        explanation,
    ) in rows
    {
        by_participant.entry(participant).or_default().push(Goal {
            effective_date,
            steps,
            strategy: strategy.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            inputs,
            citation,
            provisional,
            explanation,
        });
    }
    Ok(by_participant)
}

/// Upserts goals; returns those a reader would see change: a new goal, or a stored one whose steps,
/// strategy, citation, provisional flag or explanation differ. A change of the inputs alone (one
/// more valid day that leaves the goal where it was) is stored, but `GoalChanged` does not carry
/// the inputs, so publishing it would tell consumers of a change they cannot see.
pub async fn upsert_goals(
    tx: &mut Transaction<'_, Postgres>,
    participant_id: i64,
    program_id: i64,
    goals: &[Goal],
    computed_at: DateTime<Utc>,
) -> Result<Vec<Goal>, sqlx::Error> {
    let rows: Vec<GoalRowRef<'_>> =
        goals.iter().map(|goal| GoalRowRef { participant_id, program_id, goal }).collect();
    let changed = upsert_goal_rows(tx, &rows, computed_at).await?;
    Ok(rows.iter().zip(changed).filter(|(_, c)| *c).map(|(row, _)| row.goal.clone()).collect())
}

/// One goal of a participant in a program, to upsert.
#[derive(Debug, Clone, Copy)]
pub struct GoalRowRef<'a> {
    pub participant_id: i64,
    pub program_id: i64,
    pub goal: &'a Goal,
}

/// Upserts many participants' goals in one statement (see [`upsert_goals`] for what counts as a
/// visible change); returns, per row of `rows`, whether a reader sees it change. A key
/// (participant, program, date) may appear once only: one statement cannot update a row twice.
pub async fn upsert_goal_rows(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[GoalRowRef<'_>],
    computed_at: DateTime<Utc>,
) -> Result<Vec<bool>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let participants: Vec<i64> = rows.iter().map(|r| r.participant_id).collect();
    let programs: Vec<i64> = rows.iter().map(|r| r.program_id).collect();
    let dates: Vec<NaiveDate> = rows.iter().map(|r| r.goal.effective_date).collect();
    let steps: Vec<i32> = rows.iter().map(|r| r.goal.steps).collect();
    let strategies: Vec<&str> = rows.iter().map(|r| r.goal.strategy.as_str()).collect();
    // A goal's inputs are a date array each; unnest cannot take a ragged array of arrays, so each
    // travels as its array literal and is cast back.
    let inputs: Vec<String> = rows.iter().map(|r| date_array_literal(&r.goal.inputs)).collect();
    let citations: Vec<&str> = rows.iter().map(|r| r.goal.citation.as_str()).collect();
    let provisional: Vec<bool> = rows.iter().map(|r| r.goal.provisional).collect();
    let explanations: Vec<&str> = rows.iter().map(|r| r.goal.explanation.as_str()).collect();
    // `previous` reads the rows as they were before this statement.
    let visible: Vec<(i64, i64, NaiveDate)> = sqlx::query_as(
        "WITH input AS (
             SELECT * FROM unnest($1::int8[], $2::int8[], $3::date[], $4::int4[], $5::text[],
                                  $6::text[], $7::text[], $8::bool[], $9::text[])
                 AS i(participant_id, program_id, effective_date, steps, strategy, inputs,
                      citation, provisional, explanation)),
         previous AS (
             SELECT g.participant_id, g.program_id, g.effective_date, g.steps, g.strategy,
                    g.citation, g.provisional, g.explanation
             FROM goal_history g
             JOIN input i USING (participant_id, program_id, effective_date)),
         written AS (
             INSERT INTO goal_history (participant_id, program_id, effective_date, steps, strategy,
                 inputs, citation, provisional, explanation, computed_at)
             SELECT participant_id, program_id, effective_date, steps, strategy, inputs::date[],
                    citation, provisional, explanation, $10
             FROM input
             ON CONFLICT (participant_id, program_id, effective_date) DO UPDATE SET
                 steps = EXCLUDED.steps, strategy = EXCLUDED.strategy, inputs = EXCLUDED.inputs,
                 citation = EXCLUDED.citation, provisional = EXCLUDED.provisional,
                 explanation = EXCLUDED.explanation, computed_at = EXCLUDED.computed_at
             WHERE (goal_history.steps, goal_history.strategy, goal_history.inputs,
                    goal_history.citation, goal_history.provisional, goal_history.explanation)
                   IS DISTINCT FROM
                   (EXCLUDED.steps, EXCLUDED.strategy, EXCLUDED.inputs, EXCLUDED.citation,
                    EXCLUDED.provisional, EXCLUDED.explanation)
             RETURNING participant_id, program_id, effective_date, steps, strategy, citation,
                       provisional, explanation)
         SELECT w.participant_id, w.program_id, w.effective_date FROM written w
         WHERE NOT EXISTS (
             SELECT 1 FROM previous p
             WHERE (p.participant_id, p.program_id, p.effective_date)
                   = (w.participant_id, w.program_id, w.effective_date)
               AND (p.steps, p.strategy, p.citation, p.provisional, p.explanation)
                   IS NOT DISTINCT FROM
                   (w.steps, w.strategy, w.citation, w.provisional, w.explanation))",
    )
    .bind(&participants)
    .bind(&programs)
    .bind(&dates)
    .bind(&steps)
    .bind(&strategies)
    .bind(&inputs)
    .bind(&citations)
    .bind(&provisional)
    .bind(&explanations)
    .bind(computed_at)
    .fetch_all(&mut **tx)
    .await?;
    let visible: HashSet<(i64, i64, NaiveDate)> = visible.into_iter().collect();
    Ok(rows
        .iter()
        .map(|r| visible.contains(&(r.participant_id, r.program_id, r.goal.effective_date)))
        .collect())
}

/// PostgreSQL's literal of a date array: `{2026-11-28,2026-11-29}`.
fn date_array_literal(dates: &[NaiveDate]) -> String {
    let items: Vec<String> = dates.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
    format!("{{{}}}", items.join(","))
}

/// Upserts team weeks in one statement; returns, per week of `weeks`, whether it changed. Values
/// are compared after rounding to what a reader sees (1/1000 of a unit), so recomputation noise
/// does not publish events. A (team, week) may appear once only.
pub async fn upsert_team_weeks(
    tx: &mut Transaction<'_, Postgres>,
    weeks: &[TeamWeek],
    computed_at: DateTime<Utc>,
) -> Result<Vec<bool>, sqlx::Error> {
    if weeks.is_empty() {
        return Ok(Vec::new());
    }
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let column = |f: fn(&TeamWeek) -> f64| weeks.iter().map(|w| round(f(w))).collect::<Vec<_>>();
    let teams: Vec<i64> = weeks.iter().map(|w| w.team_id).collect();
    let numbers: Vec<i32> = weeks.iter().map(|w| w.week as i32).collect();
    let members: Vec<i32> = weeks.iter().map(|w| w.members as i32).collect();
    let meeting: Vec<i32> = weeks.iter().map(|w| w.members_meeting_goal as i32).collect();
    let changed: Vec<(i64, i32)> = sqlx::query_as(
        "INSERT INTO team_progress (team_id, week, goal, progress, percent_of_goal, members,
             members_meeting_goal, share_meeting_goal, computed_at)
         SELECT u.team_id, u.week, u.goal, u.progress, u.percent_of_goal, u.members, u.meeting,
                u.share, $9
         FROM unnest($1::int8[], $2::int4[], $3::float8[], $4::float8[], $5::float8[],
                     $6::int4[], $7::int4[], $8::float8[])
             AS u(team_id, week, goal, progress, percent_of_goal, members, meeting, share)
         ON CONFLICT (team_id, week) DO UPDATE SET
             goal = EXCLUDED.goal, progress = EXCLUDED.progress,
             percent_of_goal = EXCLUDED.percent_of_goal, members = EXCLUDED.members,
             members_meeting_goal = EXCLUDED.members_meeting_goal,
             share_meeting_goal = EXCLUDED.share_meeting_goal, computed_at = EXCLUDED.computed_at
         WHERE (team_progress.goal, team_progress.progress, team_progress.members,
                team_progress.members_meeting_goal)
               IS DISTINCT FROM
               (EXCLUDED.goal, EXCLUDED.progress, EXCLUDED.members, EXCLUDED.members_meeting_goal)
         RETURNING team_id, week",
    )
    .bind(&teams)
    .bind(&numbers)
    .bind(column(|w| w.goal))
    .bind(column(|w| w.progress))
    .bind(column(|w| w.percent_of_goal))
    .bind(&members)
    .bind(&meeting)
    .bind(column(|w| w.share_meeting_goal))
    .bind(computed_at)
    .fetch_all(&mut **tx)
    .await?;
    let changed: HashSet<(i64, i32)> = changed.into_iter().collect();
    Ok(weeks.iter().map(|w| changed.contains(&(w.team_id, w.week as i32))).collect())
}

/// The latest date with a stored goal for each (participant, program) of `participant_ids` that
/// has one.
pub async fn last_goal_dates<'e>(
    pool: impl sqlx::PgExecutor<'e>,
    participant_ids: &[i64],
) -> Result<HashMap<(i64, i64), NaiveDate>, sqlx::Error> {
    let rows: Vec<(i64, i64, NaiveDate)> = sqlx::query_as(
        "SELECT participant_id, program_id, max(effective_date) FROM goal_history
         WHERE participant_id = ANY($1) GROUP BY participant_id, program_id",
    )
    .bind(participant_ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(participant, program, last)| ((participant, program), last))
        .collect())
}

type TeamWeekRow = (
    i64,
    Option<i32>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<i32>,
    Option<i32>,
    Option<f64>,
);

/// Which team weeks are read: as recomputed on every change (`team_progress`), or as frozen when
/// the season closed (`season_final_team_weeks`, the same columns; see [`crate::season_close`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamWeeksOf {
    Live,
    Final,
}

impl TeamWeeksOf {
    fn table(self) -> &'static str {
        match self {
            TeamWeeksOf::Live => "team_progress",
            TeamWeeksOf::Final => "season_final_team_weeks",
        }
    }
}

/// Every team of a program (in id order) with its `source` weeks; a team without progress yet has
/// none. `team` narrows it to one team.
pub(crate) async fn team_weeks_where<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    source: TeamWeeksOf,
    program: Option<i64>,
    team: Option<i64>,
) -> Result<Vec<(i64, Vec<TeamWeek>)>, sqlx::Error> {
    let rows: Vec<TeamWeekRow> = sqlx::query_as(&format!(
        "SELECT t.id, tp.week, tp.goal, tp.progress, tp.percent_of_goal, tp.members,
                tp.members_meeting_goal, tp.share_meeting_goal
         FROM teams t LEFT JOIN {table} tp ON tp.team_id = t.id
         WHERE ($1::bigint IS NULL OR t.program_id = $1) AND ($2::bigint IS NULL OR t.id = $2)
         ORDER BY t.id, tp.week",
        table = source.table(),
    ))
    .bind(program)
    .bind(team)
    .fetch_all(executor)
    .await?;
    let mut teams: Vec<(i64, Vec<TeamWeek>)> = Vec::new();
    for (team_id, week, goal, progress, percent, members, meeting, share) in rows {
        if teams.last().is_none_or(|(id, _)| *id != team_id) {
            teams.push((team_id, Vec::new()));
        }
        let Some(week) = week else { continue };
        teams.last_mut().expect("pushed above").1.push(TeamWeek {
            team_id,
            week: week as u32,
            goal: goal.unwrap_or_default(),
            progress: progress.unwrap_or_default(),
            percent_of_goal: percent.unwrap_or_default(),
            members: members.unwrap_or_default() as u32,
            members_meeting_goal: meeting.unwrap_or_default() as u32,
            share_meeting_goal: share.unwrap_or_default(),
        });
    }
    Ok(teams)
}

/// A team's stored weeks.
pub async fn team_weeks(pool: &PgPool, team_id: i64) -> Result<Vec<TeamWeek>, sqlx::Error> {
    let teams = team_weeks_where(pool, TeamWeeksOf::Live, None, Some(team_id)).await?;
    Ok(teams.into_iter().next().map(|(_, weeks)| weeks).unwrap_or_default())
}

/// Every team of the program with its stored weeks (the leaderboard's input).
pub async fn program_team_weeks(
    pool: &PgPool,
    program_id: i64,
) -> Result<Vec<(i64, Vec<TeamWeek>)>, sqlx::Error> {
    team_weeks_where(pool, TeamWeeksOf::Live, Some(program_id), None).await
}

/// A team's place on a program's leaderboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub entry: LeaderboardEntry,
    pub name: String,
    /// The team's stored week that was ranked.
    pub team_week: TeamWeek,
}

/// A program's leaderboard for `week`, or for the latest week with progress
/// ([`fitex_goals::latest_week`]) when `None`: every team with progress that week, ranked by
/// [`fitex_goals::leaderboard`], with its name. The goals API and the portal both read it here,
/// so they rank alike. Returns the week ranked and the standings, best first.
pub async fn program_leaderboard(
    pool: &PgPool,
    program_id: i64,
    week: Option<u32>,
) -> Result<(u32, Vec<Standing>), sqlx::Error> {
    let weeks_by_team = program_team_weeks(pool, program_id).await?;
    let week = week.unwrap_or_else(|| latest_week(&weeks_by_team));
    let names = crate::programs::team_names(pool, program_id).await?;
    let standings = standings(leaderboard(&weeks_by_team, week), &weeks_by_team, names, week);
    Ok((week, standings))
}

/// `entries` of `week`'s leaderboard with each team's name and ranked week (an entry whose team
/// has no such week is left out).
pub(crate) fn standings(
    entries: Vec<LeaderboardEntry>,
    weeks_by_team: &[(i64, Vec<TeamWeek>)],
    mut names: HashMap<i64, String>,
    week: u32,
) -> Vec<Standing> {
    entries
        .into_iter()
        .filter_map(|entry| {
            let (_, weeks) = weeks_by_team.iter().find(|(team, _)| *team == entry.team_id)?;
            let team_week = *weeks.iter().rev().find(|w| w.week == week)?;
            let name = names.remove(&entry.team_id).unwrap_or_default();
            Some(Standing { entry, name, team_week })
        })
        .collect()
}

/// The display names of those of `ids` who exist and are not deleted (`None`: they never gave
/// one), in one query.
pub async fn display_names(
    pool: &PgPool,
    ids: &[i64],
) -> Result<HashMap<i64, Option<String>>, sqlx::Error> {
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
        "SELECT id, nullif(btrim(display_name), '') FROM participants
         WHERE id = ANY($1) AND deleted_at IS NULL",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Deletes what the goals service holds of a participant — goal history, goal events not yet
/// published, team memberships — and the participant record itself (whatever else still refers
/// to it goes with it).
pub async fn forget_participant(
    tx: &mut Transaction<'_, Postgres>,
    participant_id: i64,
    goals_topic: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM goal_history WHERE participant_id = $1")
        .bind(participant_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM kafka_outbox WHERE topic = $1 AND record_key = $2")
        .bind(goals_topic)
        .bind(participant_id.to_string())
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM team_members WHERE participant_id = $1")
        .bind(participant_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM participants WHERE id = $1")
        .bind(participant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The time zone of a participant who exists, deleted or not (a deleted one awaits the purge).
pub async fn participant_zone_even_if_deleted(
    pool: &PgPool,
    id: i64,
) -> Result<Option<ParticipantZone>, sqlx::Error> {
    sqlx::query_scalar("SELECT time_zone FROM participants WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}
