//! The `pending_fetches` table: days waiting to be fetched (rate-limited, backfill, settling or
//! debounced, missed while reconnection was required), each with the trace it continues. The
//! fetcher's pending loop claims them when due; connecting and `fitexctl backfill` add to them.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Postgres, Transaction};

/// The trace each waiting day continues when it is fetched: the `traceparent` of the span it was
/// being fetched in (the fetcher's `DayTraces`). The table keeps it; the fetcher gives it. `Sync`,
/// as it is held across the awaits of the deferring task.
pub trait WaitingTraces: Sync {
    fn traceparent(&self, day: NaiveDate) -> String;
}

/// The `traceparent` each of `days` waits with: the span it was being fetched in (none without
/// `traces`: a backfill or a catch-up starts a new trace when it is fetched).
fn pending_traces(days: &[NaiveDate], traces: Option<&dyn WaitingTraces>) -> Vec<Option<String>> {
    days.iter().map(|day| traces.map(|t| t.traceparent(*day))).collect()
}

/// Runs one statement whose only parameter (`$1`) is `id` in `tx`.
async fn execute_for(
    tx: &mut Transaction<'_, Postgres>,
    statement: &str,
    id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(statement).bind(id).execute(&mut **tx).await?;
    Ok(())
}

/// Adds days to fetch later. A day already waiting keeps the later time when either side is a
/// hard wait (the rate limit, awaiting reconnection) and the earlier one otherwise; `created_at`
/// records the latest request, so a fetch that started before it does not clear it. A day keeps
/// the trace it first waited with (`traces`).
pub async fn add(
    tx: &mut Transaction<'_, Postgres>,
    connection_id: i64,
    days: &[NaiveDate],
    reason: &str,
    not_before: DateTime<Utc>,
    traces: Option<&dyn WaitingTraces>,
) -> Result<(), sqlx::Error> {
    if days.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO pending_fetches (connection_id, day, reason, not_before, traceparent)
         SELECT $1, d, $3, $4, t FROM unnest($2::date[], $5::text[]) AS u(d, t)
         ON CONFLICT (connection_id, day) DO UPDATE SET
             created_at = now(),
             traceparent = COALESCE(pending_fetches.traceparent, EXCLUDED.traceparent),
             reason = CASE
                 WHEN EXCLUDED.reason IN ('rate_limited', 'awaiting_reconnect') THEN EXCLUDED.reason
                 WHEN pending_fetches.reason IN ('rate_limited', 'awaiting_reconnect') THEN pending_fetches.reason
                 ELSE EXCLUDED.reason END,
             not_before = CASE
                 WHEN EXCLUDED.reason IN ('rate_limited', 'awaiting_reconnect')
                   OR pending_fetches.reason IN ('rate_limited', 'awaiting_reconnect')
                 THEN GREATEST(pending_fetches.not_before, EXCLUDED.not_before)
                 ELSE LEAST(pending_fetches.not_before, EXCLUDED.not_before) END",
    )
    .bind(connection_id)
    .bind(days)
    .bind(reason)
    .bind(not_before)
    .bind(pending_traces(days, traces))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Debounces `days`: fetch them once no notification for them has come for `quiet`, but at most
/// `max_wait` after the first one. Hard waits (rate limit, awaiting reconnection) keep their time;
/// a day keeps the trace it first waited with.
pub async fn debounce(
    pool: &PgPool,
    connection_id: i64,
    days: &[NaiveDate],
    quiet: chrono::Duration,
    max_wait: chrono::Duration,
    traces: &dyn WaitingTraces,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pending_fetches (connection_id, day, reason, not_before, traceparent)
         SELECT $1, d, 'quiet', now() + $3, t FROM unnest($2::date[], $5::text[]) AS u(d, t)
         ON CONFLICT (connection_id, day) DO UPDATE SET
             created_at = now(),
             traceparent = COALESCE(pending_fetches.traceparent, EXCLUDED.traceparent),
             not_before = CASE
                 WHEN pending_fetches.reason IN ('rate_limited', 'awaiting_reconnect')
                     THEN pending_fetches.not_before
                 WHEN pending_fetches.reason = 'quiet'
                     THEN LEAST(GREATEST(pending_fetches.not_before, EXCLUDED.not_before),
                                pending_fetches.first_requested_at + $4)
                 ELSE LEAST(pending_fetches.not_before, EXCLUDED.not_before) END,
             reason = CASE
                 WHEN pending_fetches.reason IN ('rate_limited', 'awaiting_reconnect')
                     THEN pending_fetches.reason
                 ELSE 'quiet' END",
    )
    .bind(connection_id)
    .bind(days)
    .bind(quiet)
    .bind(max_wait)
    .bind(pending_traces(days, Some(traces)))
    .execute(pool)
    .await?;
    Ok(())
}

/// Defers `days` of a connection until `not_before` (or until reconnection), each with the span
/// it was being fetched in (`traces`), so that its fetch continues that trace.
pub async fn defer(
    pool: &PgPool,
    connection_id: i64,
    days: &[NaiveDate],
    reason: &str,
    not_before: DateTime<Utc>,
    traces: Option<&dyn WaitingTraces>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    add(&mut tx, connection_id, days, reason, not_before, traces).await?;
    tx.commit().await
}

/// Connections that have not synced for `quiet_for` get yesterday and today (in the
/// participant's zone) fetched: a notification may have been lost, and a participant who
/// withdraws consent at Google gets no notification at all — the fetch finds out, and they are
/// asked to reconnect. Returns the days scheduled.
pub async fn schedule_catch_up(
    pool: &PgPool,
    quiet_for: chrono::Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "WITH quiet AS (
             SELECT c.id, CASE WHEN z.name IS NULL THEN 'UTC' ELSE p.time_zone END AS zone
             FROM provider_connections c
             JOIN participants p ON p.id = c.participant_id
             LEFT JOIN pg_timezone_names z ON z.name = p.time_zone
             WHERE c.sync_status = 'active' AND c.token_kind IS NOT NULL
               AND coalesce(c.last_sync_at, c.created_at) < now() - $1)
         INSERT INTO pending_fetches (connection_id, day, reason, not_before)
         SELECT q.id, d.day, 'catch_up', now()
         FROM quiet q
         CROSS JOIN LATERAL (VALUES ((now() AT TIME ZONE q.zone)::date),
                                    ((now() AT TIME ZONE q.zone)::date - 1)) AS d(day)
         ON CONFLICT (connection_id, day) DO NOTHING",
    )
    .bind(quiet_for)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// A claimed pending fetch: connection, day, and the `traceparent` it waited with.
pub type PendingDay = (i64, NaiveDate, Option<String>);

/// Claims due pending fetches for a while (a lease: a crashed claimer's rows come due again).
pub async fn claim_due(
    pool: &PgPool,
    limit: i64,
    lease: chrono::Duration,
) -> Result<Vec<PendingDay>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE pending_fetches SET not_before = now() + $2
         WHERE (connection_id, day) IN (
             SELECT connection_id, day FROM pending_fetches
             WHERE not_before <= now() ORDER BY not_before LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING connection_id, day, traceparent",
    )
    .bind(limit)
    .bind(lease)
    .fetch_all(pool)
    .await
}

/// A replaced connection's waiting days move to its successor (fetched through it now, each
/// keeping its trace); the old connection waits for nothing any more.
pub async fn move_waiting(
    tx: &mut Transaction<'_, Postgres>,
    from_connection: i64,
    to_connection: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pending_fetches (connection_id, day, reason, not_before, traceparent)
         SELECT $2, day, 'backfill', now(), traceparent FROM pending_fetches
         WHERE connection_id = $1
         ON CONFLICT (connection_id, day) DO NOTHING",
    )
    .bind(from_connection)
    .bind(to_connection)
    .execute(&mut **tx)
    .await?;
    execute_for(tx, "DELETE FROM pending_fetches WHERE connection_id = $1", from_connection).await
}

/// Every day the connection waits for is due now (it was reconnected: what waited for that, or
/// for the rate limit of the old grant, can be fetched).
pub async fn make_due_now(
    tx: &mut Transaction<'_, Postgres>,
    connection_id: i64,
) -> Result<(), sqlx::Error> {
    execute_for(
        tx,
        "UPDATE pending_fetches SET not_before = now() WHERE connection_id = $1",
        connection_id,
    )
    .await
}

/// Days one fetch read for a connection, and when that fetch started ([`clear_fetched`]).
#[derive(Debug, Clone, Copy)]
pub struct FetchedDays<'a> {
    pub connection_id: i64,
    pub days: &'a [NaiveDate],
    pub fetch_started: DateTime<Utc>,
}

/// Each fetch's days no longer wait — unless requested again after that fetch started — in one
/// statement for all the fetches (a day two of them read goes if either started after its
/// request).
pub async fn clear_fetched(
    tx: &mut Transaction<'_, Postgres>,
    fetched: &[FetchedDays<'_>],
) -> Result<(), sqlx::Error> {
    let (connections, days, started) = fetched_columns(fetched);
    if days.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "DELETE FROM pending_fetches p
         USING unnest($1::int8[], $2::date[], $3::timestamptz[]) AS f(connection_id, day, started)
         WHERE p.connection_id = f.connection_id AND p.day = f.day AND p.created_at <= f.started",
    )
    .bind(&connections)
    .bind(&days)
    .bind(&started)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The fetched days as columns, a row per (connection, day, fetch start).
fn fetched_columns(fetched: &[FetchedDays<'_>]) -> (Vec<i64>, Vec<NaiveDate>, Vec<DateTime<Utc>>) {
    let rows =
        fetched.iter().flat_map(|f| f.days.iter().map(|d| (f.connection_id, *d, f.fetch_started)));
    let mut columns = (Vec::new(), Vec::new(), Vec::new());
    for (connection, day, started) in rows {
        columns.0.push(connection);
        columns.1.push(day);
        columns.2.push(started);
    }
    columns
}

/// Nothing of the participant's waits to be fetched any more (they were deleted).
pub async fn forget_participant(
    tx: &mut Transaction<'_, Postgres>,
    participant_id: i64,
) -> Result<(), sqlx::Error> {
    execute_for(
        tx,
        "DELETE FROM pending_fetches WHERE connection_id IN
             (SELECT id FROM provider_connections WHERE participant_id = $1)",
        participant_id,
    )
    .await
}

/// Of `connection_ids`' waiting days (those awaiting reconnection aside): how many, and how many
/// of them wait for a rate-limit reset (`fitexctl backfill`'s progress).
pub async fn waiting_count(
    pool: &PgPool,
    connection_ids: &[i64],
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE reason = 'rate_limited')
         FROM pending_fetches WHERE connection_id = ANY($1) AND reason <> 'awaiting_reconnect'",
    )
    .bind(connection_ids)
    .fetch_one(pool)
    .await
}

/// The first `limit` waiting days by due time: (provider user id, day, reason, not before).
pub async fn next_due(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<(String, NaiveDate, String, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.provider_user_id, p.day, p.reason, p.not_before FROM pending_fetches p
         JOIN provider_connections c ON c.id = p.connection_id ORDER BY p.not_before LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named;

    impl WaitingTraces for Named {
        fn traceparent(&self, day: NaiveDate) -> String {
            format!("00-{day}")
        }
    }

    #[test]
    fn fetched_days_become_one_row_each_with_their_fetchs_start() {
        use chrono::TimeZone;
        let (first, second) = (
            Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 1).unwrap(),
        );
        let days: Vec<NaiveDate> =
            ["2026-12-01", "2026-12-02"].iter().map(|d| d.parse().unwrap()).collect();
        let fetched = [
            FetchedDays { connection_id: 4, days: &days, fetch_started: first },
            FetchedDays { connection_id: 9, days: &days[1..], fetch_started: second },
            FetchedDays { connection_id: 5, days: &[], fetch_started: second },
        ];
        assert_eq!(
            fetched_columns(&fetched),
            (vec![4, 4, 9], vec![days[0], days[1], days[1]], vec![first, first, second])
        );
    }

    #[test]
    fn each_day_waits_with_its_own_trace_or_none() {
        let days: Vec<NaiveDate> =
            ["2026-12-01", "2026-12-02"].iter().map(|d| d.parse().unwrap()).collect();
        assert_eq!(
            pending_traces(&days, Some(&Named)),
            vec![Some("00-2026-12-01".to_string()), Some("00-2026-12-02".to_string())]
        );
        assert_eq!(pending_traces(&days, None), vec![None, None]);
        assert!(pending_traces(&[], Some(&Named)).is_empty());
    }
}
