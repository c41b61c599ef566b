//! Who the load is for: the bench database's connected team members, and their recent days.

use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use fitex_connections::reports;
use fitex_provider::ProviderId;
use sqlx::PgPool;

/// A participant the load syncs for.
pub struct Participant {
    pub user: String,
    pub id: i64,
    pub team: i64,
    pub zone: Tz,
    /// Their usual steps (median of the stored history).
    pub usual: f64,
}

/// The participants connected to Fitbit who are in a team, in id order.
pub async fn connected_team_members(pool: &PgPool) -> anyhow::Result<Vec<Participant>> {
    let rows = reports::active_team_members(pool, ProviderId::Fitbit).await?;
    anyhow::ensure!(!rows.is_empty(), "no connected team members in the database");
    let participants: Vec<Participant> = rows
        .into_iter()
        .map(|(user, id, team, zone, usual)| Participant {
            user,
            id,
            team,
            zone: zone.tz(),
            usual: usual.unwrap_or(6500.0),
        })
        .collect();
    Ok(participants)
}

/// The steps stored for every participant's last days, by (participant, date).
pub async fn recent_steps(pool: &PgPool) -> anyhow::Result<HashMap<(i64, NaiveDate), u32>> {
    let stored: HashMap<(i64, NaiveDate), u32> = sqlx::query_as::<_, (i64, NaiveDate, i32)>(
        "SELECT participant_id, day, steps FROM activity_days WHERE day >= current_date - 5",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(p, d, s)| ((p, d), s.max(0) as u32))
    .collect();
    Ok(stored)
}
