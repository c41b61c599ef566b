//! [`Connections`]: connecting a participant's provider account (tokens stored encrypted, the time
//! zone read, the last days scheduled for backfill) and keeping its tokens usable (refreshed
//! single-flight under the connection's row lock, so that replicas, the portal and `fitexctl`
//! never refresh one grant twice). The fetcher, the portal and `fitexctl` each hold one.

use std::sync::Arc;

use chrono::Utc;
use fitex_common::token_cipher::TokenCipher;
use fitex_common::zone::ParticipantZone;
use fitex_provider::{ProviderError, ProviderId, TokenGrant, TokenProblem};
use secrecy::SecretString;
use sqlx::PgPool;

use crate::connect::{backfill_dates, reported_zone};
use crate::error::{SetupError, SyncError};
use crate::providers::Providers;
use crate::settings::{ConnectingSettings, ConnectionsSettings};
use crate::store::{self, TokenKind};

/// The connection core: the database, the token cipher, the providers connections are synced
/// through, and how early tokens are refreshed.
pub struct Connections {
    pub pool: PgPool,
    /// Every connection is reached through the provider it names.
    pub providers: Providers,
    pub cipher: Arc<TokenCipher>,
    pub settings: ConnectingSettings,
}

impl Connections {
    pub fn new(
        pool: PgPool,
        cipher: Arc<TokenCipher>,
        providers: Providers,
        settings: ConnectingSettings,
    ) -> Self {
        Connections { pool, providers, cipher, settings }
    }

    /// The core `settings` describe, reaching connections through `providers` (a lazy pool: no
    /// connection to the database is made until one is needed).
    pub fn from_settings(
        settings: &ConnectionsSettings,
        providers: Providers,
    ) -> Result<Self, SetupError> {
        Ok(Connections::new(
            settings.database.lazy_pool(),
            Arc::new(TokenCipher::from_config(&settings.tokens.encryption_keys)?),
            providers,
            settings.fetcher.clone(),
        ))
    }

    /// Stores `grant` for its user at `provider` (creating the participant on first connection,
    /// or continuing the participant a legacy identity names), reads their time zone, schedules
    /// the backfill, and flags a pasted token that expires soon.
    pub async fn connect(
        &self,
        provider: ProviderId,
        kind: TokenKind,
        grant: &TokenGrant,
    ) -> Result<i64, SyncError> {
        let api = self.providers.get(provider)?;
        let identity = match api.identity(&grant.access_token, &grant.user_id).await {
            Ok(identity) => identity,
            Err(ProviderError::Transient(error)) => return Err(SyncError::Transient(error)),
            Err(error) => {
                return Err(SyncError::Permanent(format!("could not tell who connected: {error}")))
            }
        };
        let grant = TokenGrant { user_id: identity.user_id.clone(), ..grant.clone() };
        let time_zone = match api.time_zone(&grant.access_token, &grant.user_id).await {
            Ok(reported) => reported_zone(provider, &grant.user_id, &reported),
            Err(error) => {
                tracing::warn!(user = %grant.user_id, %error, "time zone unknown at connection; backfill in UTC");
                None
            }
        };
        let backfill = backfill_dates(
            time_zone.as_ref().unwrap_or(&ParticipantZone::UTC),
            self.settings.backfill_days,
            Utc::now(),
        );
        let legacy = identity.legacy.as_ref().map(|(p, id)| (*p, id.as_str()));
        let connected = store::connect(
            &self.pool,
            &self.cipher,
            store::NewConnection { provider, kind, grant: &grant, backfill: &backfill, legacy },
        )
        .await?;
        if let Some(replaced) = connected.replaced {
            tracing::info!(user = %grant.user_id, participant = connected.participant_id,
                replaced_connection = replaced, "participant moved to a new provider; history continues");
        }
        if let Some(zone) = time_zone {
            if let Some(connection) = store::connection_by_id(&self.pool, connected.id).await? {
                store::record_time_zone_check(&self.pool, &connection, Some(&zone)).await?;
            }
        }
        store::flag_expiring_tokens(&self.pool, self.settings.implicit_expiry_warning_days).await?;
        tracing::info!(user = %grant.user_id, provider = provider.as_str(), connection = connected.id, backfill_days = backfill.len(), "connected");
        Ok(connected.id)
    }

    /// A token good for the next requests: the stored one while it is fresh, else a refreshed one.
    /// The inner error means the participant must reconnect.
    pub async fn usable_access_token(
        &self,
        connection: &store::Connection,
    ) -> Result<Result<SecretString, TokenProblem>, SyncError> {
        let Some(kind) = connection.token_kind else {
            return Ok(Err(TokenProblem::Invalid));
        };
        let margin = self.settings.refresh_margin_delta();
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
        let margin = self.settings.refresh_margin_delta();
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
}
