//! Connecting a participant's provider account: tokens stored encrypted, the time zone read, the
//! last days scheduled for backfill (fetched within the rate budget by the pending loop).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use fitex_provider::{ProviderError, ProviderId, TokenGrant};

use crate::error::SyncError;
use crate::store::{self, TokenKind};
use crate::sync::Fetcher;

/// Today in `time_zone` (UTC when the zone is unknown).
pub fn today(time_zone: &str, now: DateTime<Utc>) -> NaiveDate {
    match time_zone.parse::<Tz>() {
        Ok(zone) => now.with_timezone(&zone).date_naive(),
        Err(_) => now.date_naive(),
    }
}

/// The `days` local dates before today in `time_zone` (today excluded: it is still changing and
/// its notifications will come), oldest first. An unknown zone counts as UTC.
pub fn backfill_dates(time_zone: &str, days: u32, now: DateTime<Utc>) -> Vec<NaiveDate> {
    let today = today(time_zone, now);
    (1..=days as i64).rev().map(|back| today - chrono::Duration::days(back)).collect()
}

impl Fetcher {
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
            Ok(zone) => Some(zone),
            Err(error) => {
                tracing::warn!(user = %grant.user_id, %error, "time zone unknown at connection; backfill in UTC");
                None
            }
        };
        let backfill = backfill_dates(
            time_zone.as_deref().unwrap_or("UTC"),
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
                store::set_time_zone(&self.pool, &connection, &zone).await?;
            }
        }
        store::flag_expiring_tokens(&self.pool, self.settings.implicit_expiry_warning_days).await?;
        tracing::info!(user = %grant.user_id, provider = provider.as_str(), connection = connected.id, backfill_days = backfill.len(), "connected");
        Ok(connected.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn backfill_ends_yesterday_in_the_participants_zone() {
        // 03:00 UTC on the 25th is still the 24th in New York.
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap();
        let dates = backfill_dates("America/New_York", 3, now);
        let expected: Vec<NaiveDate> =
            ["2026-11-21", "2026-11-22", "2026-11-23"].iter().map(|d| d.parse().unwrap()).collect();
        assert_eq!(dates, expected);
        let utc = backfill_dates("UTC", 3, now);
        assert_eq!(utc.last().unwrap().to_string(), "2026-11-24");
        assert_eq!(backfill_dates("Not/AZone", 1, now), vec!["2026-11-24".parse().unwrap()]);
        assert!(backfill_dates("UTC", 0, now).is_empty());
    }
}
