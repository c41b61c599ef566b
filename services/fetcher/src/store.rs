//! The fetcher's own table: activity days, written only by a fetch that is newer than the one that
//! wrote the stored row. (Connections, their tokens and the days waiting to be fetched live in
//! `fitex_connections`.)

use chrono::{DateTime, Utc};
use fitex_provider::{DayActivity, ProviderId};
use sqlx::{Postgres, Transaction};

/// Upserts the days a fetch that started at `fetch_started` returned; returns those whose stored
/// values changed (new or different), which are the ones to publish.
///
/// A write wins only if its fetch started after the fetch that wrote the stored row: several
/// loops and replicas can fetch one participant-day at once, and a slow, older answer must never
/// overwrite a newer one. A newer fetch that found the same values still records its start, so
/// an older answer arriving after it loses too. A losing write stores and returns nothing.
pub async fn upsert_days(
    tx: &mut Transaction<'_, Postgres>,
    participant_id: i64,
    source: ProviderId,
    days: &[DayActivity],
    fetch_started: DateTime<Utc>,
    fetched_at: DateTime<Utc>,
) -> Result<Vec<DayActivity>, sqlx::Error> {
    let mut changed = Vec::new();
    for day in days {
        // `fetched_at` moves only when the values change, so the row's `fetched_at` coming back
        // equal to this write's tells a change (or a new row) from a newer fetch of equal values.
        let row: Option<(bool,)> = sqlx::query_as(
            "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
                 lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
                 source, fetched_at, manual_steps, fetch_started_at, no_data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (participant_id, day) DO UPDATE SET
                 steps = EXCLUDED.steps, distance_km = EXCLUDED.distance_km,
                 sedentary_minutes = EXCLUDED.sedentary_minutes,
                 lightly_active_minutes = EXCLUDED.lightly_active_minutes,
                 fairly_active_minutes = EXCLUDED.fairly_active_minutes,
                 very_active_minutes = EXCLUDED.very_active_minutes,
                 worn_minutes = EXCLUDED.worn_minutes, source = EXCLUDED.source,
                 manual_steps = EXCLUDED.manual_steps, no_data = EXCLUDED.no_data,
                 fetch_started_at = EXCLUDED.fetch_started_at,
                 fetched_at = CASE WHEN
                     (activity_days.steps, activity_days.distance_km,
                      activity_days.sedentary_minutes, activity_days.lightly_active_minutes,
                      activity_days.fairly_active_minutes, activity_days.very_active_minutes,
                      activity_days.worn_minutes, activity_days.source, activity_days.manual_steps,
                      activity_days.no_data)
                     IS DISTINCT FROM
                     (EXCLUDED.steps, EXCLUDED.distance_km, EXCLUDED.sedentary_minutes,
                      EXCLUDED.lightly_active_minutes, EXCLUDED.fairly_active_minutes,
                      EXCLUDED.very_active_minutes, EXCLUDED.worn_minutes, EXCLUDED.source,
                      EXCLUDED.manual_steps, EXCLUDED.no_data)
                     THEN EXCLUDED.fetched_at ELSE activity_days.fetched_at END
             WHERE activity_days.fetch_started_at IS NULL
                OR activity_days.fetch_started_at < EXCLUDED.fetch_started_at
             RETURNING fetched_at = $11",
        )
        .bind(participant_id)
        .bind(day.date)
        .bind(day.steps)
        .bind(day.distance_km)
        .bind(day.sedentary_minutes)
        .bind(day.lightly_active_minutes)
        .bind(day.fairly_active_minutes)
        .bind(day.very_active_minutes)
        .bind(day.worn_minutes)
        .bind(source.as_str())
        .bind(fetched_at)
        .bind(day.manual_steps)
        .bind(fetch_started)
        .bind(day.no_data)
        .fetch_optional(&mut **tx)
        .await?;
        match row {
            Some((true,)) => changed.push(day.clone()),
            Some((false,)) => {}
            None => {
                metrics::counter!("fitex_fetcher_stale_writes_refused_total").increment(1);
                tracing::info!(
                    participant = participant_id,
                    day = %day.date,
                    "a newer fetch of this day is already stored; this older answer is dropped"
                );
            }
        }
    }
    Ok(changed)
}
