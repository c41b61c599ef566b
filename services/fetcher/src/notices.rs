//! Revocation and deletion notices destroy data, and a notice proves little: Fitbit's signature
//! covers only the body, with no time or nonce, so a captured notice can be replayed forever, and
//! a forged one needs only the client secret. So a destructive notice is acted on only when the
//! provider confirms it: the stored token is now refused (401, `invalid_token`, `invalid_grant`),
//! or the connection already ended by a confirmed revocation. A notice accepted before the
//! participant last connected is older than the connection it would end, and is ignored too.
//! Whatever is not acted on is logged and counted
//! (`fitex_fetcher_destructive_notices_total{kind,outcome}`).

use chrono::{DateTime, Utc};
use fitex_connections::store::{self, Connection, SyncStatus, TokenKind};
use fitex_connections::{purge, SyncError};
use fitex_provider::{ProviderError, TokenProblem};

use crate::coalesce::UserWork;
use crate::sync::Fetcher;

/// What the provider says of our access to a participant's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The provider refused the stored grant (or it ended by a confirmed revocation): the
    /// notice is true.
    Gone(String),
    /// Our access still works: the notice is false (forged or replayed).
    Works,
    /// We hold nothing to ask the provider with (no token, or a pasted one that expired by
    /// itself): the notice cannot be confirmed.
    Unknown(&'static str),
}

/// Whether a destructive notice accepted at `received_ms` (Unix ms; 0 if unknown) is older than
/// the connection it would end.
pub fn predates_connection(received_ms: i64, connected_at: DateTime<Utc>) -> bool {
    received_ms > 0 && received_ms < connected_at.timestamp_millis()
}

impl Fetcher {
    /// Asks the provider whether our access to `connection`'s account is gone: the stored access
    /// token is tried (refreshed first when stale), and a refused one is refreshed once more.
    pub async fn access_at_provider(&self, connection: &Connection) -> Result<Access, SyncError> {
        if connection.token_kind.is_none() {
            return Ok(if connection.revoked_at_provider {
                Access::Gone("access was already revoked at the provider".into())
            } else {
                Access::Unknown("no token is stored for this connection")
            });
        }
        let token = match self.connections.usable_access_token(connection).await? {
            Ok(token) => token,
            Err(TokenProblem::Expired) if connection.token_kind == Some(TokenKind::Implicit) => {
                return Ok(Access::Unknown("the pasted token expired by itself"))
            }
            Err(problem) => {
                return Ok(Access::Gone(format!("the provider refused our grant ({problem:?})")))
            }
        };
        let provider = self.connections.providers.get(connection.provider)?;
        // The cheapest authenticated call every provider has.
        match provider.time_zone(&token, &connection.provider_user_id).await {
            Ok(_) => Ok(Access::Works),
            Err(ProviderError::Unauthorized { problem: TokenProblem::MissingScope, .. }) => {
                // Refused for a scope, not for the grant: access is not gone.
                Ok(Access::Works)
            }
            Err(ProviderError::Unauthorized { problem, .. }) => {
                if connection.token_kind != Some(TokenKind::AuthorizationCode) {
                    return Ok(Access::Gone(format!(
                        "the provider refused the token ({problem:?})"
                    )));
                }
                // Maybe only this access token was revoked early: a refresh tells.
                match self
                    .connections
                    .refresh_single_flight(connection.id, connection.token_version, true)
                    .await?
                {
                    Ok(_) => Ok(Access::Works),
                    Err(problem) => {
                        Ok(Access::Gone(format!("the provider refused our grant ({problem:?})")))
                    }
                }
            }
            Err(ProviderError::InvalidGrant(_)) => {
                Ok(Access::Gone("the provider refused our grant (invalid_grant)".into()))
            }
            Err(ProviderError::RateLimited { retry_after }) => Err(SyncError::Transient(format!(
                "cannot confirm the notice yet: rate limited for {retry_after:?}"
            ))),
            Err(error @ (ProviderError::Transient(_) | ProviderError::ProjectRefused { .. })) => {
                Err(SyncError::Transient(format!("cannot confirm the notice yet: {error}")))
            }
            Err(ProviderError::Permanent(error)) => Err(SyncError::Permanent(error)),
        }
    }

    /// Handles the batch's revocation or deletion notice for `connection`; returns whether it
    /// was acted on (the connection ended), so that fetching stops.
    pub async fn destructive_notice(
        &self,
        connection: &Connection,
        work: &UserWork,
    ) -> Result<bool, SyncError> {
        let kind = if work.deleted { "deleted" } else { "revoked" };
        let count = |outcome: &'static str| {
            metrics::counter!("fitex_fetcher_destructive_notices_total", "kind" => kind, "outcome" => outcome)
                .increment(1);
        };
        if predates_connection(work.destructive_received_ms, connection.connected_at) {
            count("older_than_connection");
            tracing::warn!(user = %connection.provider_user_id, kind,
                "a notice older than the participant's latest connection; not acted on");
            return Ok(false);
        }
        let evidence = match self.access_at_provider(connection).await? {
            Access::Gone(evidence) => evidence,
            Access::Works => {
                count("access_still_works");
                tracing::warn!(user = %connection.provider_user_id, kind,
                    "the provider still accepts our access: the notice is forged or replayed; not acted on");
                return Ok(false);
            }
            Access::Unknown(why) => {
                count("unconfirmable");
                tracing::warn!(user = %connection.provider_user_id, kind, why,
                    "the notice cannot be confirmed with the provider; not acted on");
                return Ok(false);
            }
        };
        if work.deleted || (work.revoked && self.settings.delete_on_revoke) {
            let purge_after = chrono::Duration::from_std(self.settings.purge_after)
                .unwrap_or(chrono::Duration::MAX);
            purge::soft_delete(&self.connections.pool, connection.participant_id, purge_after)
                .await?;
            count("soft_deleted");
            tracing::info!(user = %connection.provider_user_id, %evidence, ?purge_after,
                "participant deleted: hidden now, purged everywhere after the delay");
        } else if connection.sync_status != SyncStatus::Disconnected {
            store::disconnect(&self.connections.pool, connection.id, connection.connected_at)
                .await?;
            count("disconnected");
            tracing::info!(user = %connection.provider_user_id, %evidence,
                "participant revoked access; tokens deleted");
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_accepted_before_the_latest_connection_predates_it() {
        let connected = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z").unwrap().to_utc();
        let ms = connected.timestamp_millis();
        assert!(predates_connection(ms - 1, connected));
        assert!(!predates_connection(ms, connected));
        assert!(!predates_connection(ms + 60_000, connected));
        assert!(!predates_connection(0, connected), "an unknown time is not taken as old");
    }
}
