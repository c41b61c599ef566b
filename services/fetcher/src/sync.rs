//! Syncing one user: a usable token (refreshed single-flight), the provider's days, stored
//! idempotently with an activity event per changed day in the same transaction (outbox).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::outbox::OutgoingRecord;
use fitex_common::trace_context::TraceParent;
use fitex_common::zone::ParticipantZone;
use fitex_connections::connect::reported_zone;
use fitex_connections::store::{self, Connection, SyncStatus, TokenKind};
use fitex_connections::{pending, reconnect_reason, Connections, SyncError};
use fitex_proto::{content_type, ActivityDayChanged, DataSource, Message};
use fitex_provider::{DayActivity, ProviderError, TokenProblem};
use secrecy::SecretString;
use uuid::Uuid;

use crate::group_commit::GroupCommit;
use crate::settings::FetcherSettings;
use crate::store::{latest_per_date, FetchedDay, StoreRequest, Stored};
use crate::traces::DayTraces;

/// Outbox source of the fetcher's events (the purge's tombstones go out through it too).
pub use fitex_connections::purge::OUTBOX_SOURCE;

/// Why a user's days were not stored now, when that is not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Stored {
        days: usize,
        changed: usize,
        requests: u32,
    },
    /// Kept in `pending_fetches` for later (rate limit, awaiting reconnection).
    Deferred(&'static str),
    /// The provider refused our access: the participant must reconnect.
    ReconnectRequired(String),
    Nothing,
}

/// Everything syncing needs, shared by the consumers and the pending-fetch loop.
pub struct Fetcher {
    /// The database, token upkeep and the providers every connection is synced through.
    pub connections: Connections,
    pub topics: Topics,
    pub settings: FetcherSettings,
    /// Wakes the outbox relay as soon as events are committed.
    pub relay_wake: Arc<tokio::sync::Notify>,
    /// Recently fetched user-days (see `settle`).
    pub settle: std::sync::Mutex<crate::settle::Settle>,
    /// Concurrent syncs' writes, stored a group per transaction (`store::store_group`).
    pub(crate) store_queue: GroupCommit<StoreRequest, Stored>,
}

impl Fetcher {
    /// Fetches and stores `dates` for `connection`; each day's event continues its trace in
    /// `traces`, and a day deferred keeps it. `notified_ms` says, per date, when the notification
    /// the fetch is made for was accepted (none for a pending day), to tell its repeats.
    pub async fn sync_user(
        &self,
        connection: &Connection,
        dates: &[NaiveDate],
        notified_ms: &BTreeMap<NaiveDate, i64>,
        traces: &DayTraces,
    ) -> Result<SyncOutcome, SyncError> {
        if dates.is_empty() {
            return Ok(SyncOutcome::Nothing);
        }
        let far_future = Utc::now() + chrono::Duration::days(3650);
        match connection.sync_status {
            SyncStatus::Active => {}
            SyncStatus::ReconnectRequired => {
                // Kept until a new token arrives; `store::connect` makes them due again.
                let reason = "awaiting_reconnect";
                pending::defer(
                    &self.connections.pool,
                    connection.id,
                    dates,
                    reason,
                    far_future,
                    Some(traces),
                )
                .await?;
                return Ok(SyncOutcome::Deferred("awaiting_reconnect"));
            }
            SyncStatus::Disconnected => return Ok(SyncOutcome::Deferred("disconnected")),
        }
        let provider = self.connections.providers.get(connection.provider)?;
        // Stay inside the per-user budget: if what is left cannot pay for this fetch, wait.
        let cost = provider.request_cost(dates.len()) as i32 + 1;
        if let (Some(remaining), Some(resets_at)) =
            (connection.rate_remaining, connection.rate_resets_at)
        {
            if remaining < cost && resets_at > Utc::now() {
                pending::defer(
                    &self.connections.pool,
                    connection.id,
                    dates,
                    "rate_limited",
                    resets_at,
                    Some(traces),
                )
                .await?;
                metrics::counter!("fitex_fetcher_deferred_total", "reason" => "rate_budget")
                    .increment(1);
                return Ok(SyncOutcome::Deferred("rate_limited"));
            }
        }
        let mut token = match self.connections.usable_access_token(connection).await? {
            Ok(token) => token,
            Err(problem) => {
                return self.require_reconnect(connection, dates, traces, problem).await
            }
        };
        let connection = &self.refresh_time_zone(connection, &token, dates).await;

        let fetch_started = Utc::now();
        let fetch_started_instant = std::time::Instant::now();
        let mut refreshed_after_401 = false;
        let fetched = loop {
            match provider.fetch_days(&token, &connection.provider_user_id, dates).await {
                Ok(fetched) => break fetched,
                Err(ProviderError::Unauthorized { problem, message }) => {
                    let refreshable = connection.token_kind == Some(TokenKind::AuthorizationCode)
                        && !matches!(
                            problem,
                            TokenProblem::MissingScope | TokenProblem::PlatformRetired
                        );
                    if refreshable && !refreshed_after_401 {
                        // Refresh once and retry once (the token may have been revoked early or
                        // clocks may disagree).
                        refreshed_after_401 = true;
                        tracing::info!(user = %connection.provider_user_id, %message, "access token refused; refreshing once");
                        match self
                            .connections
                            .refresh_single_flight(connection.id, connection.token_version, true)
                            .await?
                        {
                            Ok(fresh) => {
                                token = fresh;
                                continue;
                            }
                            Err(problem) => {
                                return self
                                    .require_reconnect(connection, dates, traces, problem)
                                    .await
                            }
                        }
                    }
                    return self.require_reconnect(connection, dates, traces, problem).await;
                }
                Err(ProviderError::InvalidGrant(_)) => {
                    let problem = TokenProblem::Invalid;
                    return self.require_reconnect(connection, dates, traces, problem).await;
                }
                Err(ProviderError::RateLimited { retry_after }) => {
                    let resets_at =
                        Utc::now() + chrono::Duration::from_std(retry_after).unwrap_or_default();
                    let budget = fitex_provider::RateBudget { limit: 0, remaining: 0, resets_at };
                    store::record_budget(&self.connections.pool, connection.id, &budget).await?;
                    let reason = "rate_limited";
                    pending::defer(
                        &self.connections.pool,
                        connection.id,
                        dates,
                        reason,
                        resets_at,
                        Some(traces),
                    )
                    .await?;
                    metrics::counter!("fitex_fetcher_deferred_total", "reason" => "429")
                        .increment(1);
                    tracing::info!(user = %connection.provider_user_id, ?retry_after, "rate limited; deferred");
                    return Ok(SyncOutcome::Deferred("rate_limited"));
                }
                Err(ProviderError::Transient(error)) => return Err(SyncError::Transient(error)),
                Err(ProviderError::Permanent(error)) => return Err(SyncError::Permanent(error)),
                Err(ProviderError::ProjectRefused { reason, message }) => {
                    return self.project_refused(connection, dates, traces, &reason, &message).await
                }
            }
        };
        let changed = self
            .store(connection, dates, &fetched.days, fetched.budget.as_ref(), fetch_started, traces)
            .await?;
        self.settle.lock().expect("settle lock").record(
            connection.id,
            dates,
            notified_ms,
            fetch_started_instant,
            fetch_started.timestamp_millis(),
        );
        Ok(SyncOutcome::Stored { days: fetched.days.len(), changed, requests: fetched.requests })
    }

    async fn store(
        &self,
        connection: &Connection,
        dates: &[NaiveDate],
        days: &[DayActivity],
        budget: Option<&fitex_provider::RateBudget>,
        fetch_started: chrono::DateTime<Utc>,
        traces: &DayTraces,
    ) -> Result<usize, SyncError> {
        let fetched_at = Utc::now();
        let fetched = latest_per_date(days)
            .into_iter()
            .map(|day| {
                let event = self.activity_event(connection, &day, fetched_at, traces.of(day.date));
                FetchedDay { activity: day, event }
            })
            .collect();
        let request = StoreRequest {
            connection_id: connection.id,
            participant_id: connection.participant_id,
            provider: connection.provider,
            dates: dates.to_vec(),
            days: fetched,
            budget: budget.copied(),
            fetch_started,
            fetched_at,
        };
        // Returns once the group holding this sync is committed (or failed).
        let changed = match self.store_queue.submit(request).await? {
            Stored::Days { changed } => changed,
            Stored::ConnectionGone => {
                tracing::info!(
                    participant = connection.participant_id,
                    "connection deleted during the fetch; nothing stored"
                );
                return Ok(0);
            }
        };
        if changed > 0 {
            self.relay_wake.notify_one();
        }
        metrics::counter!("fitex_fetcher_days_stored_total", "changed" => "true")
            .increment(changed as u64);
        metrics::counter!("fitex_fetcher_days_stored_total", "changed" => "false")
            .increment(days.len().saturating_sub(changed) as u64);
        tracing::info!(
            user = %connection.provider_user_id,
            participant = connection.participant_id,
            days = days.len(),
            changed,
            trace_id = %traces.fetch().trace_id_hex(),
            "stored activity days"
        );
        Ok(changed)
    }

    fn activity_event(
        &self,
        connection: &Connection,
        day: &DayActivity,
        fetched_at: chrono::DateTime<Utc>,
        trace: &TraceParent,
    ) -> OutgoingRecord {
        let event_id = Uuid::now_v7();
        let span = trace.child();
        let event = ActivityDayChanged {
            event_id: event_id.to_string(),
            participant_id: connection.participant_id,
            provider: connection.provider.to_proto() as i32,
            provider_user_id: connection.provider_user_id.clone(),
            date: day.date.format("%Y-%m-%d").to_string(),
            time_zone: connection.time_zone.to_string(),
            steps: day.steps,
            distance_km: day.distance_km,
            sedentary_minutes: day.sedentary_minutes,
            lightly_active_minutes: day.lightly_active_minutes,
            fairly_active_minutes: day.fairly_active_minutes,
            very_active_minutes: day.very_active_minutes,
            worn_minutes: day.worn_minutes,
            manual_steps: day.manual_steps,
            no_data: day.no_data,
            fetched_at: Some(std::time::SystemTime::from(fetched_at).into()),
            trace_context: Some(span.to_proto()),
            source: DataSource::Device as i32,
            entered_by: String::new(),
            manual: None,
        };
        OutgoingRecord::event(
            &self.topics.activity_days,
            connection.participant_id.to_string(),
            event_id,
            event.encode_to_vec(),
            content_type::ACTIVITY_DAY_CHANGED,
            &span,
        )
    }

    /// The provider refused our project, not this participant (Google: the API disabled for the
    /// project, its billing, a project-wide quota, or a 403 whose reason is not about the
    /// participant). No connection changes and nothing is asked of any participant: the days wait
    /// in `pending_fetches` for [`PROJECT_REFUSAL_RETRY`], and operators are alerted by
    /// `fitex_fetcher_project_refusals_total{provider,reason}` and an error log line.
    async fn project_refused(
        &self,
        connection: &Connection,
        dates: &[NaiveDate],
        traces: &DayTraces,
        reason: &str,
        message: &str,
    ) -> Result<SyncOutcome, SyncError> {
        let later =
            Utc::now() + chrono::Duration::from_std(PROJECT_REFUSAL_RETRY).unwrap_or_default();
        pending::defer(
            &self.connections.pool,
            connection.id,
            dates,
            "project_refused",
            later,
            Some(traces),
        )
        .await?;
        metrics::counter!("fitex_fetcher_project_refusals_total",
            "provider" => connection.provider.as_str(), "reason" => reason.to_owned())
        .increment(1);
        tracing::error!(
            provider = %connection.provider,
            %reason,
            %message,
            days = dates.len(),
            "the provider refused our project, not the participant: an operator must act; \
             connections are left as they are and the days are fetched again later"
        );
        Ok(SyncOutcome::Deferred("project_refused"))
    }

    async fn require_reconnect(
        &self,
        connection: &Connection,
        dates: &[NaiveDate],
        traces: &DayTraces,
        problem: TokenProblem,
    ) -> Result<SyncOutcome, SyncError> {
        let reason = reconnect_reason(problem, connection.provider);
        store::set_status(
            &self.connections.pool,
            connection.id,
            SyncStatus::ReconnectRequired,
            &reason,
        )
        .await?;
        let far_future = Utc::now() + chrono::Duration::days(3650);
        let waiting = "awaiting_reconnect";
        pending::defer(
            &self.connections.pool,
            connection.id,
            dates,
            waiting,
            far_future,
            Some(traces),
        )
        .await?;
        metrics::counter!("fitex_fetcher_reconnect_required_total", "problem" => format!("{problem:?}"))
            .increment(1);
        tracing::warn!(user = %connection.provider_user_id, ?problem, "participant must reconnect");
        Ok(SyncOutcome::ReconnectRequired(reason))
    }

    /// Reads the participant's time zone from the provider when [`time_zone_check_due`]; returns
    /// the connection as it is now.
    async fn refresh_time_zone(
        &self,
        connection: &Connection,
        token: &SecretString,
        dates: &[NaiveDate],
    ) -> Connection {
        let mut current = connection.clone();
        if !time_zone_check_due(
            connection.time_zone_checked_at,
            &connection.time_zone,
            dates,
            Utc::now(),
        ) {
            return current;
        }
        let provider = match self.connections.providers.get(connection.provider) {
            Ok(provider) => provider,
            Err(_) => return current,
        };
        match provider.time_zone(token, &connection.provider_user_id).await {
            Ok(reported) => {
                let zone =
                    reported_zone(connection.provider, &connection.provider_user_id, &reported);
                match store::record_time_zone_check(
                    &self.connections.pool,
                    connection,
                    zone.as_ref(),
                )
                .await
                {
                    Ok(()) => current.time_zone = zone.unwrap_or(current.time_zone),
                    Err(error) => tracing::warn!(%error, "could not store the time zone"),
                }
            }
            Err(error) => {
                tracing::warn!(user = %connection.provider_user_id, %error, "could not read the time zone")
            }
        }
        current
    }
}

/// How often a participant's time zone is read again from the provider: each read is a call
/// their rate budget pays for, and zones rarely change (the connect flow reads it first).
pub const TIME_ZONE_RECHECK: chrono::Duration = chrono::Duration::days(7);

/// The shortest time between two reads of a zone when the dates suggest it changed: a zone the
/// provider reports that we cannot use would otherwise be asked for on every fetch.
pub const TIME_ZONE_RECHECK_SOONEST: chrono::Duration = chrono::Duration::days(1);

/// Whether to ask the provider for the participant's zone before this fetch: never asked,
/// [`TIME_ZONE_RECHECK`] since the last answer, or sooner (after [`TIME_ZONE_RECHECK_SOONEST`])
/// when a date to fetch lies after the participant's today in the zone we hold — their clock is
/// ahead of it, so they moved east. (A move west does not show in the dates: it waits for the
/// weekly check.)
pub fn time_zone_check_due(
    checked_at: Option<chrono::DateTime<Utc>>,
    zone: &ParticipantZone,
    dates: &[NaiveDate],
    now: chrono::DateTime<Utc>,
) -> bool {
    let Some(checked_at) = checked_at else { return true };
    let since = now - checked_at;
    let today = zone.today(now);
    since >= TIME_ZONE_RECHECK
        || (since >= TIME_ZONE_RECHECK_SOONEST && dates.iter().any(|d| *d > today))
}

/// How long days wait after the provider refused our project (an operator has to act, or a
/// project-wide quota to renew) before they are fetched again.
pub const PROJECT_REFUSAL_RETRY: Duration = Duration::from_secs(300);

/// How long to wait before fetching pending days again after a transient failure.
pub const PENDING_RETRY_DELAY: Duration = Duration::from_secs(30);

#[cfg(test)]
mod time_zone_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_zone_is_read_weekly_or_when_a_date_lies_past_the_participants_today() {
        // 23:00 UTC on 2 Dec is 3 Dec in Auckland but still 2 Dec in UTC.
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 23, 0, 0).unwrap();
        let utc = ParticipantZone::UTC;
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let yesterday_checked = Some(now - TIME_ZONE_RECHECK_SOONEST);
        assert!(time_zone_check_due(None, &utc, &[day("2026-12-02")], now), "never read");
        assert!(!time_zone_check_due(yesterday_checked, &utc, &[day("2026-12-02")], now));
        let week_ago = Some(now - TIME_ZONE_RECHECK);
        assert!(time_zone_check_due(week_ago, &utc, &[day("2026-12-02")], now), "a week on");
        // A notified 3 Dec while we think it is 2 Dec for them: they are east of UTC now.
        assert!(time_zone_check_due(yesterday_checked, &utc, &[day("2026-12-03")], now));
        let an_hour_ago = Some(now - chrono::Duration::hours(1));
        assert!(
            !time_zone_check_due(an_hour_ago, &utc, &[day("2026-12-03")], now),
            "not again yet"
        );
        let auckland: ParticipantZone = "Pacific/Auckland".parse().unwrap();
        assert!(!time_zone_check_due(yesterday_checked, &auckland, &[day("2026-12-03")], now));
    }
}
