//! The fetcher's own table: activity days, written only by a fetch that is newer than the one that
//! wrote the stored row. (Connections, their tokens and the days waiting to be fetched live in
//! `fitex_connections`.)

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
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
    // One statement for all the days (a day named twice keeps its last answer: one statement
    // may not update a row twice).
    let mut unique: BTreeMap<NaiveDate, &DayActivity> = BTreeMap::new();
    for day in days {
        unique.insert(day.date, day);
    }
    let days: Vec<&DayActivity> = unique.into_values().collect();
    if days.is_empty() {
        return Ok(Vec::new());
    }
    let column = |f: fn(&DayActivity) -> i32| days.iter().map(|d| f(d)).collect::<Vec<i32>>();
    let dates: Vec<NaiveDate> = days.iter().map(|d| d.date).collect();
    let distances: Vec<f64> = days.iter().map(|d| d.distance_km).collect();
    let worn: Vec<Option<i32>> = days.iter().map(|d| d.worn_minutes).collect();
    let manual: Vec<Option<i32>> = days.iter().map(|d| d.manual_steps).collect();
    let no_data: Vec<bool> = days.iter().map(|d| d.no_data).collect();
    // `fetched_at` moves only when the values change, so the row's `fetched_at` coming back
    // equal to this write's tells a change (or a new row) from a newer fetch of equal values.
    let rows: Vec<(NaiveDate, bool)> = sqlx::query_as(
        "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
             lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
             source, fetched_at, manual_steps, fetch_started_at, no_data)
         SELECT $1, u.day, u.steps, u.distance_km, u.sedentary, u.lightly, u.fairly, u.very,
                u.worn, $10, $11, u.manual, $13, u.no_data
         FROM unnest($2::date[], $3::int4[], $4::float8[], $5::int4[], $6::int4[], $7::int4[],
                     $8::int4[], $9::int4[], $12::int4[], $14::bool[])
             AS u(day, steps, distance_km, sedentary, lightly, fairly, very, worn, manual, no_data)
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
         RETURNING day, fetched_at = $11",
    )
    .bind(participant_id)
    .bind(&dates)
    .bind(column(|d| d.steps))
    .bind(&distances)
    .bind(column(|d| d.sedentary_minutes))
    .bind(column(|d| d.lightly_active_minutes))
    .bind(column(|d| d.fairly_active_minutes))
    .bind(column(|d| d.very_active_minutes))
    .bind(&worn)
    .bind(source.as_str())
    .bind(fetched_at)
    .bind(&manual)
    .bind(fetch_started)
    .bind(&no_data)
    .fetch_all(&mut **tx)
    .await?;
    let written: BTreeMap<NaiveDate, bool> = rows.into_iter().collect();
    let mut changed = Vec::new();
    for day in days {
        match written.get(&day.date) {
            Some(true) => changed.push(day.clone()),
            Some(false) => {}
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
