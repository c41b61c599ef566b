//! Storing what fetches read: the fetcher's own table — activity days, written only by a fetch
//! that is newer than the one that wrote the stored row — and the group write that stores many
//! syncs in one transaction ([`store_group`]). (Connections, their tokens and the days waiting to
//! be fetched live in `fitex_connections`.)

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_connections::store::{self as connections, SyncedFetch};
use fitex_provider::{DayActivity, ProviderId, RateBudget};
use sqlx::{PgPool, Postgres, Transaction};

use crate::sync::OUTBOX_SOURCE;

/// One fetched day to store: whose, from which provider, read by a fetch that started at
/// `fetch_started`, stored at `fetched_at`.
#[derive(Debug, Clone, Copy)]
pub struct DayWrite<'a> {
    pub participant_id: i64,
    pub source: ProviderId,
    pub day: &'a DayActivity,
    pub fetch_started: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
}

/// Upserts fetched days, of any participants, in one statement; returns for each write (in
/// order) whether it stored changed values (new or different), which are the ones to publish.
///
/// A write wins only if its fetch started after the fetch that wrote the stored row: several
/// loops and replicas can fetch one participant-day at once, and a slow, older answer must never
/// overwrite a newer one. A newer fetch that found the same values still records its start, so
/// an older answer arriving after it loses too. A losing write stores and returns nothing. Of
/// several writes of one participant-day here, only the one whose fetch started last is tried
/// ([`newest_per_participant_day`]); the others lose as a stale write does.
pub async fn upsert_days(
    tx: &mut Transaction<'_, Postgres>,
    writes: &[DayWrite<'_>],
) -> Result<Vec<bool>, sqlx::Error> {
    let mut changed = vec![false; writes.len()];
    let tried = newest_per_participant_day(writes);
    if tried.is_empty() {
        return Ok(changed);
    }
    let rows: Vec<&DayWrite<'_>> = tried.iter().map(|&index| &writes[index]).collect();
    let column = |f: fn(&DayWrite<'_>) -> i32| rows.iter().map(|w| f(w)).collect::<Vec<i32>>();
    let participants: Vec<i64> = rows.iter().map(|w| w.participant_id).collect();
    let dates: Vec<NaiveDate> = rows.iter().map(|w| w.day.date).collect();
    let distances: Vec<f64> = rows.iter().map(|w| w.day.distance_km).collect();
    let worn: Vec<Option<i32>> = rows.iter().map(|w| w.day.worn_minutes).collect();
    let sources: Vec<&str> = rows.iter().map(|w| w.source.as_str()).collect();
    let fetched_at: Vec<DateTime<Utc>> = rows.iter().map(|w| w.fetched_at).collect();
    let manual: Vec<Option<i32>> = rows.iter().map(|w| w.day.manual_steps).collect();
    let fetch_started: Vec<DateTime<Utc>> = rows.iter().map(|w| w.fetch_started).collect();
    let no_data: Vec<bool> = rows.iter().map(|w| w.day.no_data).collect();
    // `fetched_at` moves only when the values change, so the row's `fetched_at` coming back
    // equal to its write's tells a change (or a new row) from a newer fetch of equal values. The
    // rows go in (participant, day) order, so concurrent groups lock days in one order.
    let stored: Vec<(i64, NaiveDate, bool)> = sqlx::query_as(
        "WITH fetched AS (
             SELECT * FROM unnest($1::int8[], $2::date[], $3::int4[], $4::float8[], $5::int4[],
                                  $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::text[],
                                  $11::timestamptz[], $12::int4[], $13::timestamptz[], $14::bool[])
                 AS u(participant_id, day, steps, distance_km, sedentary, lightly, fairly, very,
                      worn, source, fetched_at, manual, fetch_started, no_data)
         ), written AS (
             INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
                 lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
                 source, fetched_at, manual_steps, fetch_started_at, no_data)
             SELECT participant_id, day, steps, distance_km, sedentary, lightly, fairly, very,
                    worn, source, fetched_at, manual, fetch_started, no_data
             FROM fetched ORDER BY participant_id, day
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
             RETURNING participant_id, day, fetched_at
         )
         SELECT w.participant_id, w.day, w.fetched_at = f.fetched_at
         FROM written w JOIN fetched f ON f.participant_id = w.participant_id AND f.day = w.day",
    )
    .bind(&participants)
    .bind(&dates)
    .bind(column(|w| w.day.steps))
    .bind(&distances)
    .bind(column(|w| w.day.sedentary_minutes))
    .bind(column(|w| w.day.lightly_active_minutes))
    .bind(column(|w| w.day.fairly_active_minutes))
    .bind(column(|w| w.day.very_active_minutes))
    .bind(&worn)
    .bind(&sources)
    .bind(&fetched_at)
    .bind(&manual)
    .bind(&fetch_started)
    .bind(&no_data)
    .fetch_all(&mut **tx)
    .await?;
    let stored: BTreeMap<(i64, NaiveDate), bool> = stored
        .into_iter()
        .map(|(participant, day, changed)| ((participant, day), changed))
        .collect();
    let mut is_tried = vec![false; writes.len()];
    for index in tried {
        is_tried[index] = true;
    }
    for (index, write) in writes.iter().enumerate() {
        let outcome = if is_tried[index] {
            stored.get(&(write.participant_id, write.day.date)).copied()
        } else {
            None
        };
        match outcome {
            Some(values_changed) => changed[index] = values_changed,
            None => {
                metrics::counter!("fitex_fetcher_stale_writes_refused_total").increment(1);
                tracing::info!(
                    participant = write.participant_id,
                    day = %write.day.date,
                    "a newer fetch of this day is already stored; this older answer is dropped"
                );
            }
        }
    }
    Ok(changed)
}

/// The writes to try, as indices into `writes` in (participant, day) order: of several writes of
/// one participant-day, the one whose fetch started last (of equal starts, the last given). One
/// `INSERT … ON CONFLICT` may not touch a row twice, and the older fetch would lose anyway.
pub fn newest_per_participant_day(writes: &[DayWrite<'_>]) -> Vec<usize> {
    let mut newest: BTreeMap<(i64, NaiveDate), usize> = BTreeMap::new();
    for (index, write) in writes.iter().enumerate() {
        let kept = newest.entry((write.participant_id, write.day.date)).or_insert(index);
        if writes[*kept].fetch_started <= write.fetch_started {
            *kept = index;
        }
    }
    newest.into_values().collect()
}

/// The days of one answer, one per date in date order (a day named twice keeps its last answer).
pub fn latest_per_date(days: &[DayActivity]) -> Vec<DayActivity> {
    let mut unique: BTreeMap<NaiveDate, &DayActivity> = BTreeMap::new();
    for day in days {
        unique.insert(day.date, day);
    }
    unique.into_values().cloned().collect()
}

/// How many syncs one group transaction stores at most: a group stays a short transaction with
/// a few thousand rows, and the syncs queued past it go into the next group at once.
pub const MAX_GROUP_SYNCS: usize = 256;

/// A fetched day of a [`StoreRequest`] with the activity event to publish if its values changed.
#[derive(Debug, Clone)]
pub struct FetchedDay {
    pub activity: DayActivity,
    pub event: OutgoingRecord,
}

/// One sync's writes, for [`store_group`]: the connection's fetch and what it read.
#[derive(Debug, Clone)]
pub struct StoreRequest {
    pub connection_id: i64,
    pub participant_id: i64,
    pub provider: ProviderId,
    /// The dates fetched: they no longer wait in `pending_fetches`.
    pub dates: Vec<NaiveDate>,
    /// What the provider returned, one per date at most ([`latest_per_date`]).
    pub days: Vec<FetchedDay>,
    pub budget: Option<RateBudget>,
    pub fetch_started: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
}

/// What storing one sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The connection was gone (its participant was deleted during the fetch): nothing stored.
    ConnectionGone,
    /// Stored; `changed` days had new values, and their events are in the outbox.
    Days { changed: usize },
}

/// Stores the syncs of `requests` in one transaction, with one statement per kind of write for
/// all of them: the connections marked synced (budget, pending days cleared), the days upserted,
/// the changed days' events added to the outbox. Each sync's days and events commit together with
/// its connection's update, as they would alone; a sync whose connection is gone stores nothing
/// and the others are stored. Returns what each request stored, in order; an error means nothing
/// of any was stored.
pub async fn store_group(
    pool: &PgPool,
    requests: &[StoreRequest],
) -> Result<Vec<Stored>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let fetches: Vec<SyncedFetch<'_>> = requests
        .iter()
        .map(|r| SyncedFetch {
            connection_id: r.connection_id,
            days: &r.dates,
            budget: r.budget.as_ref(),
            fetch_started: r.fetch_started,
        })
        .collect();
    // First, as it locks the connections: a participant deleted while a fetch was under way gets
    // nothing stored again.
    let present = connections::mark_synced(&mut tx, &fetches).await?;
    let live: Vec<bool> = requests.iter().map(|r| present.contains(&r.connection_id)).collect();
    // Each write's request and day, to route its outcome back.
    let mut owners: Vec<(usize, usize)> = Vec::new();
    let mut writes: Vec<DayWrite<'_>> = Vec::new();
    for (request_index, request) in requests.iter().enumerate().filter(|(i, _)| live[*i]) {
        for (day_index, day) in request.days.iter().enumerate() {
            owners.push((request_index, day_index));
            writes.push(DayWrite {
                participant_id: request.participant_id,
                source: request.provider,
                day: &day.activity,
                fetch_started: request.fetch_started,
                fetched_at: request.fetched_at,
            });
        }
    }
    let changed = upsert_days(&mut tx, &writes).await?;
    let mut changed_per_request = vec![0; requests.len()];
    let mut events: Vec<&OutgoingRecord> = Vec::new();
    for (&(request_index, day_index), changed) in owners.iter().zip(changed) {
        if changed {
            changed_per_request[request_index] += 1;
            events.push(&requests[request_index].days[day_index].event);
        }
    }
    outbox::insert_in(&mut tx, OUTBOX_SOURCE, &events).await?;
    tx.commit().await?;
    Ok(live
        .into_iter()
        .zip(changed_per_request)
        .map(|(live, changed)| if live { Stored::Days { changed } } else { Stored::ConnectionGone })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn activity(date: &str, steps: i32) -> DayActivity {
        DayActivity { steps, ..DayActivity::no_data(date.parse().unwrap()) }
    }

    #[test]
    fn one_write_per_participant_day_the_newest_fetch_kept_in_key_order() {
        let at = |second| Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, second).unwrap();
        let (monday, tuesday) = (activity("2026-11-30", 10), activity("2026-12-01", 20));
        let write = |participant_id, day, fetch_started| DayWrite {
            participant_id,
            source: ProviderId::Fitbit,
            day,
            fetch_started,
            fetched_at: at(30),
        };
        let writes = [
            write(2, &tuesday, at(5)),
            write(1, &tuesday, at(1)),
            // Two syncs of participant 2's Tuesday: the one that started later is tried.
            write(2, &tuesday, at(3)),
            write(2, &monday, at(3)),
            // Equal starts: the last given.
            write(1, &tuesday, at(1)),
        ];
        assert_eq!(newest_per_participant_day(&writes), vec![4, 3, 0]);
        assert!(newest_per_participant_day(&[]).is_empty());
    }

    #[test]
    fn an_answer_naming_a_day_twice_keeps_its_last_value_in_date_order() {
        let days =
            [activity("2026-12-02", 1), activity("2026-12-01", 2), activity("2026-12-02", 3)];
        let kept: Vec<(String, i32)> =
            latest_per_date(&days).iter().map(|d| (d.date.to_string(), d.steps)).collect();
        assert_eq!(kept, vec![("2026-12-01".into(), 2), ("2026-12-02".into(), 3)]);
    }
}
