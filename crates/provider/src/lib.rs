//! The provider seam. The fetcher speaks to wearable platforms only through [`ActivityProvider`];
//! Fitbit implements it (`fitex-fitbit`), and another platform is added by implementing it too,
//! without touching the pipeline. [`ProviderId`] names each platform; [`WebhookVerifier`] is the
//! webhook half.

mod id;
mod notice_kind;
mod webhook;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use id::{ProviderId, UnknownProvider};
pub use notice_kind::{NoticeKind, UnknownNoticeKind};
pub use webhook::{ChangeNotice, Refusal, Unproven, WebhookRejection, WebhookVerifier};

/// One user's activity on one of their local (civil) dates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayActivity {
    pub date: NaiveDate,
    pub steps: i32,
    pub distance_km: f64,
    pub sedentary_minutes: i32,
    pub lightly_active_minutes: i32,
    pub fairly_active_minutes: i32,
    pub very_active_minutes: i32,
    /// Minutes with a heart-rate signal (the wear-time estimate); `None` when the provider gave
    /// no such signal for the day.
    pub worn_minutes: Option<i32>,
    /// Steps the participant entered by hand, kept apart from `steps` (which are then only the
    /// measured ones); `None` when the provider does not tell them apart.
    #[serde(default)]
    pub manual_steps: Option<i32>,
    /// The provider holds no data for this day (the device was not worn, or has not synced):
    /// not a day of zero steps. The numeric fields are then zero and mean nothing. A genuine
    /// zero arrives as data (`false`).
    #[serde(default)]
    pub no_data: bool,
}

impl DayActivity {
    /// A day the provider holds nothing for: zeros that mean nothing, no wear signal, `no_data`.
    pub fn no_data(date: NaiveDate) -> Self {
        DayActivity {
            date,
            steps: 0,
            distance_km: 0.0,
            sedentary_minutes: 0,
            lightly_active_minutes: 0,
            fairly_active_minutes: 0,
            very_active_minutes: 0,
            worn_minutes: None,
            manual_steps: None,
            no_data: true,
        }
    }
}

/// What the provider said about the user's remaining request budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    pub limit: u32,
    pub remaining: u32,
    /// When the budget is renewed.
    pub resets_at: DateTime<Utc>,
}

/// The result of fetching days: the data, how many requests it cost, and the budget left.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub days: Vec<DayActivity>,
    pub requests: u32,
    pub budget: Option<RateBudget>,
}

/// Tokens returned by a token refresh (or code exchange).
#[derive(Clone)]
pub struct TokenGrant {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at: DateTime<Utc>,
    pub scopes: String,
    pub user_id: String,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// Who a token belongs to at the provider, and who they were before a platform migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The provider's id of the user: what its notifications name.
    pub user_id: String,
    /// The same person's id on the platform this one replaced (Google Health reports the legacy
    /// Fitbit user id), so their history continues: `(provider, user id)`.
    pub legacy: Option<(ProviderId, String)>,
}

/// Why the provider refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenProblem {
    Expired,
    Invalid,
    MissingScope,
    /// The platform itself was switched off (the legacy Fitbit Web API answers 410 Gone since
    /// 2026-11-02): only connecting through its successor helps.
    PlatformRetired,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ProviderError {
    /// 401/403 for the access token: refresh (if possible) or ask the participant to reconnect.
    #[error("the provider refused the access token ({problem:?}): {message}")]
    Unauthorized { problem: TokenProblem, message: String },
    /// The refresh token is no longer valid (used, revoked, expired): only reconnecting helps.
    #[error("the provider refused the refresh token: {0}")]
    InvalidGrant(String),
    /// Over the user's request budget: wait until `retry_after` has passed.
    #[error("rate limited for {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 5xx, timeouts, connection failures: worth retrying later.
    #[error("provider unavailable: {0}")]
    Transient(String),
    /// Anything else (a 4xx we cannot fix by waiting, an unreadable answer).
    #[error("provider request failed: {0}")]
    Permanent(String),
    /// The provider refused our project, not this participant: the API is disabled for the
    /// project, its billing or quota is exhausted project-wide, or a 403 names a reason that is
    /// not about the participant's token (`reason` is the provider's, e.g. `SERVICE_DISABLED`,
    /// `RATE_LIMIT_EXCEEDED`). No participant can fix it by reconnecting: an operator must act,
    /// and every connection stays as it is.
    #[error("the provider refused the project ({reason}): {message}")]
    ProjectRefused { reason: String, message: String },
}

/// An HTTP status as a metric label: the classes an operator tells apart.
pub fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        401 => "401",
        403 => "403",
        410 => "410",
        429 => "429",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// What the pipeline needs from a wearable platform.
#[async_trait::async_trait]
pub trait ActivityProvider: Send + Sync {
    /// Which platform this is (its name is stored with data and connections).
    fn name(&self) -> ProviderId;

    /// Exchanges a refresh token for a new grant. For providers that rotate refresh tokens the old
    /// one stops working as soon as this succeeds: persist the new one before using it.
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, ProviderError>;

    /// How many requests `fetch_days` spends on `dates` dates (to stay inside the rate budget).
    fn request_cost(&self, dates: usize) -> u32;

    /// Fetches `dates` (the user's civil dates) with as few requests as the API allows.
    async fn fetch_days(
        &self,
        access_token: &SecretString,
        user_id: &str,
        dates: &[NaiveDate],
    ) -> Result<Fetched, ProviderError>;

    /// The user's IANA time zone.
    async fn time_zone(
        &self,
        access_token: &SecretString,
        user_id: &str,
    ) -> Result<String, ProviderError>;

    /// Who the token's user is. Providers whose token response names the user and that replace
    /// no older platform need not ask: `user_id` is the id the grant carried.
    async fn identity(
        &self,
        _access_token: &SecretString,
        user_id: &str,
    ) -> Result<ProviderIdentity, ProviderError> {
        Ok(ProviderIdentity { user_id: user_id.to_owned(), legacy: None })
    }
}
