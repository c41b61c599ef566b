//! Days waiting in `pending_fetches` (rate-limited, backfill, missed while reconnection was
//! required) are fetched when due, a connection at a time, within the same budget rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use fitex_common::shutdown::Shutdown;
use fitex_common::trace_context::TraceParent;
use fitex_connections::store::{self, SyncStatus};
use fitex_connections::{pending, purge, SyncError};
use futures::StreamExt;

use crate::sync::{Fetcher, PENDING_RETRY_DELAY};
use crate::traces::DayTraces;

/// How long a claimed pending day stays invisible to other replicas.
const LEASE: chrono::Duration = chrono::Duration::minutes(5);

/// One pass: claims due days, syncs each connection's days together. Returns days claimed.
pub async fn run_once(fetcher: &Fetcher, limit: i64) -> Result<usize, sqlx::Error> {
    let claimed = pending::claim_due(&fetcher.connections.pool, limit, LEASE).await?;
    let count = claimed.len();
    let mut by_connection: BTreeMap<i64, Vec<(NaiveDate, Option<String>)>> = BTreeMap::new();
    for (connection, day, traceparent) in claimed {
        by_connection.entry(connection).or_default().push((day, traceparent));
    }
    futures::stream::iter(by_connection)
        .for_each_concurrent(fetcher.settings.concurrency.get(), |(connection_id, waiting)| async move {
            let days: Vec<NaiveDate> = waiting.iter().map(|(day, _)| *day).collect();
            if let Err(error) = sync_pending(fetcher, connection_id, &waiting).await {
                tracing::warn!(connection = connection_id, %error, "pending fetch failed; will retry");
                let later = Utc::now() + chrono::Duration::from_std(PENDING_RETRY_DELAY).unwrap_or_default();
                // The days keep the trace they waited with.
                if let Err(error) = pending::defer(&fetcher.connections.pool, connection_id, &days, "retry", later, None).await {
                    tracing::warn!(%error, "could not re-defer pending days (their lease expires anyway)");
                }
            }
        })
        .await;
    Ok(count)
}

/// Fetches a connection's waiting days; each continues the trace it waited with (that of the
/// notification that deferred it), the others a new one.
async fn sync_pending(
    fetcher: &Fetcher,
    connection_id: i64,
    waiting: &[(NaiveDate, Option<String>)],
) -> Result<(), SyncError> {
    let Some(connection) =
        store::connection_by_id(&fetcher.connections.pool, connection_id).await?
    else {
        return Ok(());
    };
    let mut traces = DayTraces::new(TraceParent::new_root());
    for (day, traceparent) in waiting {
        if let Some(parent) = traceparent.as_deref().and_then(TraceParent::parse) {
            traces.continue_day(*day, &parent);
        }
    }
    let days: Vec<NaiveDate> = waiting.iter().map(|(day, _)| *day).collect();
    // Made for no notification: a repeat of one it answered is not a repeat of this fetch.
    let notified = BTreeMap::new();
    fetcher.sync_user(&connection, &days, &notified, &traces).await.map(|_| ())
}

pub async fn run(fetcher: Arc<Fetcher>, shutdown: Shutdown) {
    let interval = fetcher.settings.pending_poll;
    let catch_up_every = fetcher.settings.catch_up_check;
    let mut last_catch_up: Option<std::time::Instant> = None;
    let purge_every = fetcher.settings.purge_check;
    let mut last_purge: Option<std::time::Instant> = None;
    loop {
        if last_purge.is_none_or(|at| at.elapsed() >= purge_every) {
            last_purge = Some(std::time::Instant::now());
            match purge::purge_due(&fetcher.connections.pool, &fetcher.topics, 100).await {
                Ok(0) => {}
                Ok(purged) => {
                    tracing::info!(purged, "purged participants deleted more than the delay ago");
                    fetcher.relay_wake.notify_one();
                }
                Err(error) => tracing::warn!(%error, "could not purge deleted participants"),
            }
            // Scans of every connection: on the purge's slow cadence, not on every poll of due
            // days (a scan per poll grew with the cohort, not with the work).
            if let Err(error) = store::flag_expiring_tokens(
                &fetcher.connections.pool,
                fetcher.connections.settings.implicit_expiry_warning_days,
            )
            .await
            {
                tracing::warn!(%error, "could not flag expiring tokens");
            }
            if let Ok(count) =
                store::count_with_status(&fetcher.connections.pool, SyncStatus::ReconnectRequired)
                    .await
            {
                metrics::gauge!("fitex_fetcher_users_reconnect_required").set(count as f64);
            }
        }
        if !fetcher.settings.catch_up_after.is_zero()
            && last_catch_up.is_none_or(|at| at.elapsed() >= catch_up_every)
        {
            last_catch_up = Some(std::time::Instant::now());
            let quiet_for =
                chrono::Duration::from_std(fetcher.settings.catch_up_after).unwrap_or_default();
            match pending::schedule_catch_up(&fetcher.connections.pool, quiet_for).await {
                Ok(0) => {}
                Ok(days) => {
                    tracing::info!(days, "scheduled a catch-up of quiet connections' latest days");
                    metrics::counter!("fitex_fetcher_catch_up_days_total").increment(days);
                }
                Err(error) => tracing::warn!(%error, "could not schedule the catch-up"),
            }
        }
        match run_once(&fetcher, 200).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "pending fetch pass failed"),
        }
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
