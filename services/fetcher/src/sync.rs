//! Syncing one user: a usable token (refreshed single-flight), the provider's days, stored
//! idempotently with an activity event per changed day in the same transaction (outbox).

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_common::token_cipher::TokenCipher;
use fitex_common::trace_context::TraceParent;
use fitex_proto::{content_type, ActivityDayChanged, Message, Timestamp, TraceContext};
use fitex_provider::{DayActivity, ProviderError, ProviderId, TokenProblem};
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::SyncError;
use crate::providers::Providers;
use crate::settings::FetcherSettings;
use crate::store::{self, Connection, SyncStatus, TokenKind};
use crate::traces::DayTraces;

/// Outbox source of the fetcher's events.
pub const OUTBOX_SOURCE: &str = "fetcher";

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
    pub pool: PgPool,
    /// Every connection is synced through the provider it names.
    pub providers: Providers,
    pub cipher: Arc<TokenCipher>,
    pub topics: Topics,
    pub settings: FetcherSettings,
    /// Wakes the outbox relay as soon as events are committed.
    pub relay_wake: Arc<tokio::sync::Notify>,
    /// Recently fetched user-days (see `settle`).
    pub settle: std::sync::Mutex<crate::settle::Settle>,
}

/// The plain-language reason and remedy shown to the participant for a refused token.
/// `provider` is a [`ProviderId`] or a stored provider name (one this build does not know is
/// named as stored).
pub fn reconnect_reason(problem: TokenProblem, provider: impl AsRef<str>) -> String {
    let name = ProviderId::display_name_of(provider.as_ref());
    match problem {
        TokenProblem::Expired => format!(
            "Your {name} access has expired. Reconnect your {name} account to resume syncing; \
             the days missed meanwhile are fetched then."
        ),
        TokenProblem::Invalid => format!(
            "Your {name} access has expired or was revoked. Reconnect your {name} account to \
             resume syncing; the days missed meanwhile are fetched then."
        ),
        TokenProblem::MissingScope => format!(
            "Your {name} connection does not allow reading activity. Reconnect and allow \
             \"activity\" access."
        ),
        TokenProblem::PlatformRetired => format!(
            "Google switched off the old {name} connection on 2 November 2026. Connect your \
             {name} account again through Google to resume syncing; your history and goals \
             carry over."
        ),
    }
}

impl Fetcher {
    /// Fetches and stores `dates` for `connection`; each day's event continues its trace in
    /// `traces`, and a day deferred keeps it.
    pub async fn sync_user(
        &self,
        connection: &Connection,
        dates: &[NaiveDate],
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
                store::defer(&self.pool, connection.id, dates, reason, far_future, Some(traces))
                    .await?;
                return Ok(SyncOutcome::Deferred("awaiting_reconnect"));
            }
            SyncStatus::Disconnected => return Ok(SyncOutcome::Deferred("disconnected")),
        }
        let provider = self.providers.get(connection.provider)?;
        // Stay inside the per-user budget: if what is left cannot pay for this fetch, wait.
        let cost = provider.request_cost(dates.len()) as i32 + 1;
        if let (Some(remaining), Some(resets_at)) =
            (connection.rate_remaining, connection.rate_resets_at)
        {
            if remaining < cost && resets_at > Utc::now() {
                store::defer(
                    &self.pool,
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
        let mut token = match self.usable_access_token(connection).await? {
            Ok(token) => token,
            Err(problem) => {
                return self.require_reconnect(connection, dates, traces, problem).await
            }
        };
        let connection = &self.refresh_time_zone(connection, &token).await;

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
                    store::record_budget(&self.pool, connection.id, &budget).await?;
                    let reason = "rate_limited";
                    store::defer(&self.pool, connection.id, dates, reason, resets_at, Some(traces))
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
        let mut tx = self.pool.begin().await?;
        // First, as it locks the connection: a participant deleted while this fetch was under
        // way gets nothing stored again.
        if !store::mark_synced(&mut tx, connection.id, dates, budget, fetch_started).await? {
            tx.rollback().await?;
            tracing::info!(
                participant = connection.participant_id,
                "connection deleted during the fetch; nothing stored"
            );
            return Ok(0);
        }
        let changed = store::upsert_days(
            &mut tx,
            connection.participant_id,
            connection.provider,
            days,
            fetch_started,
            fetched_at,
        )
        .await?;
        let records: Vec<OutgoingRecord> = changed
            .iter()
            .map(|day| self.activity_event(connection, day, fetched_at, traces.of(day.date)))
            .collect();
        let refs: Vec<&OutgoingRecord> = records.iter().collect();
        outbox::insert_in(&mut tx, OUTBOX_SOURCE, &refs).await?;
        tx.commit().await?;
        if !records.is_empty() {
            self.relay_wake.notify_one();
        }
        metrics::counter!("fitex_fetcher_days_stored_total", "changed" => "true")
            .increment(changed.len() as u64);
        metrics::counter!("fitex_fetcher_days_stored_total", "changed" => "false")
            .increment((days.len() - changed.len()) as u64);
        tracing::info!(
            user = %connection.provider_user_id,
            participant = connection.participant_id,
            days = days.len(),
            changed = changed.len(),
            trace_id = %traces.fetch().trace_id_hex(),
            "stored activity days"
        );
        Ok(changed.len())
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
            time_zone: connection.time_zone.clone(),
            steps: day.steps,
            distance_km: day.distance_km,
            sedentary_minutes: day.sedentary_minutes,
            lightly_active_minutes: day.lightly_active_minutes,
            fairly_active_minutes: day.fairly_active_minutes,
            very_active_minutes: day.very_active_minutes,
            worn_minutes: day.worn_minutes,
            manual_steps: day.manual_steps,
            no_data: day.no_data,
            fetched_at: Some(Timestamp {
                seconds: fetched_at.timestamp(),
                nanos: fetched_at.timestamp_subsec_nanos() as i32,
            }),
            trace_context: Some(TraceContext {
                traceparent: span.header_value(),
                tracestate: String::new(),
            }),
        };
        OutgoingRecord {
            event_id,
            topic: self.topics.activity_days.clone(),
            key: connection.participant_id.to_string(),
            payload: event.encode_to_vec(),
            headers: vec![
                ("event_id".into(), event_id.to_string()),
                ("traceparent".into(), span.header_value()),
                ("content-type".into(), content_type::ACTIVITY_DAY_CHANGED.into()),
            ],
        }
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
        store::defer(&self.pool, connection.id, dates, "project_refused", later, Some(traces))
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
        store::set_status(&self.pool, connection.id, SyncStatus::ReconnectRequired, &reason)
            .await?;
        let far_future = Utc::now() + chrono::Duration::days(3650);
        let waiting = "awaiting_reconnect";
        store::defer(&self.pool, connection.id, dates, waiting, far_future, Some(traces)).await?;
        metrics::counter!("fitex_fetcher_reconnect_required_total", "problem" => format!("{problem:?}"))
            .increment(1);
        tracing::warn!(user = %connection.provider_user_id, ?problem, "participant must reconnect");
        Ok(SyncOutcome::ReconnectRequired(reason))
    }

    /// A token good for the next requests: the stored one while it is fresh, else a refreshed one.
    /// The inner error means the participant must reconnect.
    pub async fn usable_access_token(
        &self,
        connection: &Connection,
    ) -> Result<Result<SecretString, TokenProblem>, SyncError> {
        let Some(kind) = connection.token_kind else {
            return Ok(Err(TokenProblem::Invalid));
        };
        let margin = chrono::Duration::seconds(self.settings.refresh_margin_s);
        let fresh = connection.access_expires_at.is_some_and(|at| at > Utc::now() + margin);
        if fresh || kind == TokenKind::Implicit {
            if kind == TokenKind::Implicit
                && connection.access_expires_at.is_none_or(|at| at <= Utc::now())
            {
                return Ok(Err(TokenProblem::Expired));
            }
            let token = store::decrypt(
                &self.cipher,
                &connection.access_token,
                &store::access_context(connection.id),
            )
            .transpose()
            .map_err(|e| SyncError::Permanent(format!("stored access token unreadable: {e}")))?;
            return Ok(token.ok_or(TokenProblem::Invalid));
        }
        self.refresh_single_flight(connection.id, connection.token_version, false).await
    }

    /// Refreshes under a row lock so only one replica refreshes a connection at a time; one that
    /// waited for the lock finds the token already renewed and uses it. The new refresh token is
    /// committed before the new access token is used (the old refresh token is dead by then).
    /// `force` refreshes even if the stored token looks fresh (after a 401), unless another
    /// refresh happened since `seen_version`.
    pub async fn refresh_single_flight(
        &self,
        connection_id: i64,
        seen_version: i64,
        force: bool,
    ) -> Result<Result<SecretString, TokenProblem>, SyncError> {
        let mut tx = self.pool.begin().await?;
        let Some(current) = store::lock_connection(&mut tx, connection_id).await? else {
            return Ok(Err(TokenProblem::Invalid));
        };
        let margin = chrono::Duration::seconds(self.settings.refresh_margin_s);
        let fresh = current.access_expires_at.is_some_and(|at| at > Utc::now() + margin);
        let someone_refreshed = current.token_version != seen_version;
        if fresh && (!force || someone_refreshed) {
            tx.commit().await?;
            metrics::counter!("fitex_fetcher_token_refreshes_total", "outcome" => "already_refreshed").increment(1);
            let token = store::decrypt(
                &self.cipher,
                &current.access_token,
                &store::access_context(connection_id),
            )
            .transpose()
            .map_err(|e| SyncError::Permanent(format!("stored access token unreadable: {e}")))?;
            return Ok(token.ok_or(TokenProblem::Invalid));
        }
        if current.token_kind != Some(TokenKind::AuthorizationCode) {
            return Ok(Err(TokenProblem::Expired));
        }
        let Some(refresh_token) = store::decrypt(
            &self.cipher,
            &current.refresh_token,
            &store::refresh_context(connection_id),
        )
        .transpose()
        .map_err(|e| SyncError::Permanent(format!("stored refresh token unreadable: {e}")))?
        else {
            return Ok(Err(TokenProblem::Invalid));
        };
        match self.providers.get(current.provider)?.refresh(&refresh_token).await {
            Ok(grant) => {
                store::store_grant(
                    &mut tx,
                    &self.cipher,
                    connection_id,
                    TokenKind::AuthorizationCode,
                    &grant,
                )
                .await?;
                tx.commit().await?;
                metrics::counter!("fitex_fetcher_token_refreshes_total", "outcome" => "refreshed")
                    .increment(1);
                tracing::info!(connection = connection_id, "access token refreshed");
                Ok(Ok(grant.access_token))
            }
            Err(ProviderError::InvalidGrant(message)) => {
                tx.commit().await?;
                metrics::counter!("fitex_fetcher_token_refreshes_total", "outcome" => "invalid_grant").increment(1);
                tracing::warn!(connection = connection_id, %message, "refresh token refused");
                Ok(Err(TokenProblem::Invalid))
            }
            Err(ProviderError::Unauthorized { problem, .. }) => Ok(Err(problem)),
            Err(ProviderError::RateLimited { retry_after }) => Err(SyncError::Transient(format!(
                "token endpoint rate limited for {retry_after:?}"
            ))),
            Err(ProviderError::Transient(error)) => Err(SyncError::Transient(error)),
            Err(ProviderError::Permanent(error)) => Err(SyncError::Permanent(error)),
            Err(error @ ProviderError::ProjectRefused { .. }) => {
                Err(SyncError::Transient(error.to_string()))
            }
        }
    }

    /// Reads the participant's time zone from the provider profile once a day; returns the
    /// connection as it is now.
    async fn refresh_time_zone(&self, connection: &Connection, token: &SecretString) -> Connection {
        let mut current = connection.clone();
        let stale = connection
            .time_zone_checked_at
            .is_none_or(|at| Utc::now() - at > chrono::Duration::hours(24));
        if !stale {
            return current;
        }
        let provider = match self.providers.get(connection.provider) {
            Ok(provider) => provider,
            Err(_) => return current,
        };
        match provider.time_zone(token, &connection.provider_user_id).await {
            Ok(zone) => match store::set_time_zone(&self.pool, connection, &zone).await {
                Ok(()) => current.time_zone = zone,
                Err(error) => tracing::warn!(%error, "could not store the time zone"),
            },
            Err(error) => {
                tracing::warn!(user = %connection.provider_user_id, %error, "could not read the time zone")
            }
        }
        current
    }
}

/// How long days wait after the provider refused our project (an operator has to act, or a
/// project-wide quota to renew) before they are fetched again.
pub const PROJECT_REFUSAL_RETRY: Duration = Duration::from_secs(300);

/// How long to wait before fetching pending days again after a transient failure.
pub const PENDING_RETRY_DELAY: Duration = Duration::from_secs(30);
