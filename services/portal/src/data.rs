//! What the status page shows, read for the signed-in participant only.

use chrono::NaiveDate;
use fitex_common::zone::ParticipantZone;
use fitex_connections::store;
pub use fitex_connections::store::ConnectionView;
use sqlx::PgPool;

#[derive(Debug, Clone)]
pub struct ParticipantView {
    pub time_zone: ParticipantZone,
    pub days_stored: i64,
    pub connections: Vec<ConnectionView>,
}

/// The participant, or `None` when they no longer exist or are deleted (hidden until purged).
pub async fn participant(
    pool: &PgPool,
    participant_id: i64,
) -> Result<Option<ParticipantView>, sqlx::Error> {
    let row: Option<(ParticipantZone, i64)> = sqlx::query_as(
        "SELECT p.time_zone, (SELECT count(*) FROM activity_days a WHERE a.participant_id = p.id)
         FROM participants p WHERE p.id = $1 AND p.deleted_at IS NULL",
    )
    .bind(participant_id)
    .fetch_optional(pool)
    .await?;
    let Some((time_zone, days_stored)) = row else { return Ok(None) };
    let connections = store::connection_views(pool, participant_id).await?;
    Ok(Some(ParticipantView { time_zone, days_stored, connections }))
}

#[derive(Debug, Clone)]
pub struct TeamWeekView {
    pub goal: f64,
    pub progress: f64,
    pub percent_of_goal: f64,
    pub members: i32,
    pub members_meeting_goal: i32,
}

#[derive(Debug, Clone)]
pub struct ProgramView {
    pub program_name: String,
    pub team_name: String,
    /// "steps" or "fitex_miles".
    pub unit: String,
    pub today: NaiveDate,
    pub week: i32,
    pub weeks: i32,
    pub goal_steps: Option<i32>,
    pub goal_provisional: bool,
    pub goal_explanation: Option<String>,
    pub steps_today: Option<i32>,
    pub team_week: Option<TeamWeekView>,
}

type EnrolmentRow = (i64, String, String, NaiveDate, i32, i64, String);

/// The programs running today that the participant is a team member of, with today's goal and
/// progress and the team's current week. Empty when not enrolled.
pub async fn programs_today(
    pool: &PgPool,
    participant_id: i64,
    today: NaiveDate,
) -> Result<Vec<ProgramView>, sqlx::Error> {
    let enrolments: Vec<EnrolmentRow> = sqlx::query_as(
        "SELECT DISTINCT p.id, p.name, p.unit, p.start_date, p.weeks, t.id, t.name
         FROM team_members m JOIN teams t ON t.id = m.team_id JOIN programs p ON p.id = t.program_id
         WHERE m.participant_id = $1 AND m.joined_on <= $2 AND (m.left_on IS NULL OR m.left_on >= $2)
           AND p.start_date <= $2 AND $2 < p.start_date + p.weeks * 7
         ORDER BY p.start_date DESC, p.id, t.id",
    )
    .bind(participant_id)
    .bind(today)
    .fetch_all(pool)
    .await?;
    let steps_today: Option<(i32,)> =
        sqlx::query_as("SELECT steps FROM activity_days WHERE participant_id = $1 AND day = $2")
            .bind(participant_id)
            .bind(today)
            .fetch_optional(pool)
            .await?;
    let mut views = Vec::with_capacity(enrolments.len());
    for (program_id, program_name, unit, start_date, weeks, team_id, team_name) in enrolments {
        let goal: Option<(i32, bool, String)> = sqlx::query_as(
            "SELECT steps, provisional, explanation FROM goal_history
             WHERE participant_id = $1 AND program_id = $2 AND effective_date BETWEEN $3 AND $4
             ORDER BY effective_date DESC LIMIT 1",
        )
        .bind(participant_id)
        .bind(program_id)
        .bind(start_date)
        .bind(today)
        .fetch_optional(pool)
        .await?;
        let week = ((today - start_date).num_days() / 7 + 1) as i32;
        let team_week: Option<(f64, f64, f64, i32, i32)> = sqlx::query_as(
            "SELECT goal, progress, percent_of_goal, members, members_meeting_goal
             FROM team_progress WHERE team_id = $1 AND week = $2",
        )
        .bind(team_id)
        .bind(week)
        .fetch_optional(pool)
        .await?;
        views.push(ProgramView {
            program_name,
            team_name,
            unit,
            today,
            week,
            weeks,
            goal_steps: goal.as_ref().map(|g| g.0),
            goal_provisional: goal.as_ref().is_some_and(|g| g.1),
            goal_explanation: goal.map(|g| g.2),
            steps_today: steps_today.map(|s| s.0),
            team_week: team_week.map(|t| TeamWeekView {
                goal: t.0,
                progress: t.1,
                percent_of_goal: t.2,
                members: t.3,
                members_meeting_goal: t.4,
            }),
        });
    }
    Ok(views)
}
