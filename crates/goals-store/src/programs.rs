//! Setting up a season and reading its standings, as operators do (`fitexctl programs|teams|goals|
//! leaderboard`): programs, teams, membership periods and each member's latest goal.
//!
//! Members are shown by their current provider user id, read from the `current_provider_user_ids`
//! view that the connections own; finding a participant by a user id is
//! `fitex_connections::store::participant_of_provider_user`.

use chrono::NaiveDate;
use fitex_goals::{GoalSettings, MileRules, DEFAULT_GRACE_HOURS};
use sqlx::types::Json;
use sqlx::PgPool;

/// A program to create.
#[derive(Debug, Clone)]
pub struct NewProgram<'a> {
    pub name: &'a str,
    pub start_date: NaiveDate,
    pub weeks: u32,
    /// `fitex_miles` or `steps` (the table refuses anything else).
    pub unit: &'a str,
    pub goal_settings: &'a GoalSettings,
    pub mile_rules: &'a MileRules,
}

/// Creates a program with the default grace period ([`DEFAULT_GRACE_HOURS`]); returns its id.
/// Fails on a name already taken (names are unique).
pub async fn create_program(pool: &PgPool, program: &NewProgram<'_>) -> Result<i64, sqlx::Error> {
    create_program_with_grace(pool, program, DEFAULT_GRACE_HOURS).await
}

/// Creates a program whose season closes `grace_hours` after its last day has ended everywhere
/// ([`fitex_goals::Program::grace_deadline`]); returns its id. Fails on a name already taken, or
/// on more than 2,160 hours (90 days; the table refuses it).
pub async fn create_program_with_grace(
    pool: &PgPool,
    program: &NewProgram<'_>,
    grace_hours: u32,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO programs (name, start_date, weeks, unit, goal_settings, mile_rules,
             grace_hours)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(program.name)
    .bind(program.start_date)
    .bind(program.weeks as i32)
    .bind(program.unit)
    .bind(Json(program.goal_settings))
    .bind(Json(program.mile_rules))
    .bind(i32::try_from(grace_hours).unwrap_or(i32::MAX))
    .fetch_one(pool)
    .await
}

/// The id of the program named `name`; `None` when there is none.
pub async fn program_id_by_name(pool: &PgPool, name: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM programs WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// What an operator sees of a program.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProgramSummary {
    pub id: i64,
    pub name: String,
    pub start_date: NaiveDate,
    pub weeks: i32,
    /// `fitex_miles` or `steps`.
    pub unit: String,
}

/// Every program, in id order.
pub async fn programs(pool: &PgPool) -> Result<Vec<ProgramSummary>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, start_date, weeks, unit FROM programs ORDER BY id")
        .fetch_all(pool)
        .await
}

/// One program; `None` when there is no such program.
pub async fn program_summary(
    pool: &PgPool,
    program_id: i64,
) -> Result<Option<ProgramSummary>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, start_date, weeks, unit FROM programs WHERE id = $1")
        .bind(program_id)
        .fetch_optional(pool)
        .await
}

/// Creates a team in a program; returns its id. Fails on an unknown program or a name the
/// program already has.
pub async fn create_team(pool: &PgPool, program_id: i64, name: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO teams (program_id, name) VALUES ($1, $2) RETURNING id")
        .bind(program_id)
        .bind(name)
        .fetch_one(pool)
        .await
}

/// The date a member added without one joins `team` from: its program's start, or `today` when
/// the program starts later. `None` when there is no such team.
pub async fn default_join_date(
    pool: &PgPool,
    team_id: i64,
    today: NaiveDate,
) -> Result<Option<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT LEAST(p.start_date, $2) FROM teams t JOIN programs p ON p.id = t.program_id
         WHERE t.id = $1",
    )
    .bind(team_id)
    .bind(today)
    .fetch_optional(pool)
    .await
}

/// Starts a membership period of `participant_id` in `team_id` on `joined_on` (a period that
/// already starts that day is kept as it is).
pub async fn add_member(
    pool: &PgPool,
    team_id: i64,
    participant_id: i64,
    joined_on: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO team_members (team_id, participant_id, joined_on) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(team_id)
    .bind(participant_id)
    .bind(joined_on)
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends the participant's current membership of the team on `left_on` (they count until the day
/// before). Returns false when they are no current member.
pub async fn end_membership(
    pool: &PgPool,
    team_id: i64,
    participant_id: i64,
    left_on: NaiveDate,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE team_members SET left_on = $3
         WHERE team_id = $1 AND participant_id = $2 AND left_on IS NULL",
    )
    .bind(team_id)
    .bind(participant_id)
    .bind(left_on)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// What an operator sees of a team.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TeamSummary {
    pub id: i64,
    pub name: String,
    /// Members today (whose membership has not ended).
    pub current_members: i64,
    /// The provider user id of everyone who was ever a member, space-separated, in participant
    /// order (each one's current id: a Fitbit connection replaced by a Google Health one shows the
    /// Google Health id).
    pub user_ids: String,
}

/// Every team of a program, in id order.
pub async fn teams(pool: &PgPool, program_id: i64) -> Result<Vec<TeamSummary>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT t.id, t.name,
                count(m.participant_id)
                    FILTER (WHERE m.left_on IS NULL OR m.left_on > current_date) AS current_members,
                coalesce(string_agg({user}, ' ' ORDER BY m.participant_id), '') AS user_ids
         FROM teams t LEFT JOIN team_members m ON m.team_id = t.id
         WHERE t.program_id = $1 GROUP BY t.id, t.name ORDER BY t.id",
        user = current_user_id("m.participant_id"),
    ))
    .bind(program_id)
    .fetch_all(pool)
    .await
}

/// The names of a program's teams, by team id.
pub async fn team_names(
    pool: &PgPool,
    program_id: i64,
) -> Result<std::collections::HashMap<i64, String>, sqlx::Error> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM teams WHERE program_id = $1")
            .bind(program_id)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Everyone who is or was a member of one of the program's teams.
pub async fn program_members(pool: &PgPool, program_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT m.participant_id FROM team_members m JOIN teams t ON t.id = m.team_id
         WHERE t.program_id = $1",
    )
    .bind(program_id)
    .fetch_all(pool)
    .await
}

/// A member's latest stored goal in a program.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LatestGoal {
    /// Their current provider user id (as in [`TeamSummary::user_ids`]).
    pub user_id: String,
    pub team: String,
    pub effective_date: NaiveDate,
    pub steps: i32,
    pub strategy: String,
    pub provisional: bool,
    pub explanation: String,
}

/// Each member's latest goal in the program, in participant order.
pub async fn latest_goals(pool: &PgPool, program_id: i64) -> Result<Vec<LatestGoal>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT DISTINCT ON (g.participant_id) {user} AS user_id, t.name AS team, g.effective_date,
                g.steps, g.strategy, g.provisional, g.explanation
         FROM goal_history g
         JOIN team_members m ON m.participant_id = g.participant_id
         JOIN teams t ON t.id = m.team_id AND t.program_id = g.program_id
         WHERE g.program_id = $1
         ORDER BY g.participant_id, g.effective_date DESC",
        user = current_user_id("g.participant_id"),
    ))
    .bind(program_id)
    .fetch_all(pool)
    .await
}

/// SQL for the current provider user id of the participant in column `participant` (see the
/// `current_provider_user_ids` view).
fn current_user_id(participant: &str) -> String {
    format!(
        "(SELECT u.provider_user_id FROM current_provider_user_ids u
          WHERE u.participant_id = {participant})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_user_id_is_a_subquery_on_the_given_column() {
        let sql = current_user_id("m.participant_id");
        assert!(sql.starts_with('(') && sql.ends_with(')'), "usable as one expression: {sql}");
        assert!(sql.contains("u.participant_id = m.participant_id"));
        assert!(sql.contains("FROM current_provider_user_ids u"));
    }
}
