//! Types shared by the admin endpoints and [`crate::SimulatorClient`] (their JSON bodies).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::google::model::GoogleDelivery;

/// One user's activity for one local day.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DayData {
    pub steps: u32,
    pub distance_km: f64,
    pub sedentary_minutes: u32,
    pub lightly_active_minutes: u32,
    pub fairly_active_minutes: u32,
    pub very_active_minutes: u32,
    /// Minutes with heart rate: the usual wear-time estimate.
    pub worn_minutes: u32,
    pub resting_heart_rate: Option<u32>,
}

/// A day as the admin API stores and serves it (`PUT`/`GET /_sim/users/{id}/days/{date}`): the
/// tracker's [`DayData`] plus the steps the person typed in by hand. The JSON is `DayData`'s with
/// one more field, `manual_steps` (0 when absent), so a plain `DayData` body still works. The
/// Fitbit endpoints serve `day.steps` only; Google's include the manual steps (their own
/// `MANUAL` data point, and in the daily steps sum). Kept apart from `DayData` so code that
/// builds a `DayData` literal keeps compiling.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DayRecord {
    #[serde(flatten)]
    pub day: DayData,
    #[serde(default)]
    pub manual_steps: u32,
}

impl From<DayData> for DayRecord {
    fn from(day: DayData) -> Self {
        DayRecord { day, manual_steps: 0 }
    }
}

/// `POST /_sim/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUser {
    /// A Fitbit-style id is generated when absent.
    #[serde(default)]
    pub user_id: Option<String>,
    pub timezone: String,
    /// Scope names (`activity`, `heartrate`, …) granted to the user's tokens.
    pub scopes: Vec<String>,
    /// A person who never used the Fitbit API: no Fitbit account (no `legacyUserId`, no Fitbit
    /// tokens); they are created with a Google consent for the Google equivalents of `scopes`,
    /// and the answer is a [`GoogleUserTokens`](crate::GoogleUserTokens).
    #[serde(default)]
    pub google_only: bool,
}

impl Default for CreateUser {
    fn default() -> Self {
        CreateUser {
            user_id: None,
            timezone: "America/New_York".to_string(),
            scopes: crate::scope::DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            google_only: false,
        }
    }
}

/// A token pair as the token endpoint returns it (plus the user's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTokens {
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub scope: String,
}

/// A pre-made cohort user with its latest tokens (refreshes rotate them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortUser {
    pub user_id: String,
    pub timezone: String,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub scope: String,
}

/// One notification object, serialised exactly as Fitbit posts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub collection_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    pub owner_id: String,
    pub owner_type: String,
    pub subscription_id: String,
}

impl Notification {
    pub fn activities(owner_id: &str, date: NaiveDate, subscription_id: &str) -> Self {
        Notification {
            collection_type: "activities".to_string(),
            date: Some(date),
            owner_id: owner_id.to_string(),
            owner_type: "user".to_string(),
            subscription_id: subscription_id.to_string(),
        }
    }
}

/// `POST /_sim/notifications`: the batch is posted once, then `duplicates` more times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub notifications: Vec<Notification>,
    #[serde(default)]
    pub duplicates: usize,
}

/// The outcome of one notification POST to the subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The subscriber's HTTP status; None when no response came back.
    pub status: Option<u16>,
    /// Why no response came back (connection refused, timeout, …).
    pub error: Option<String>,
}

/// What an admin call that notifies answers. `google_deliveries` is only filled (and only
/// serialised) by `PUT /_sim/users/{id}/days/{date}`: one per Google subscriber notified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliveries {
    pub deliveries: Vec<Delivery>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub google_deliveries: Vec<GoogleDelivery>,
}

impl Deliveries {
    pub fn fitbit(deliveries: Vec<Delivery>) -> Self {
        Deliveries { deliveries, google_deliveries: Vec::new() }
    }
}

/// `POST /_sim/faults`: the next `count` API calls (of `user_id` only, when set) wait `delay_ms`,
/// then answer `status` — or answer normally when `status` is absent. `answer_delay_ms` holds the
/// answer back after it was computed from the data as it was on arrival (a slow network: the
/// caller gets what was true when its request arrived, late).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub status: Option<u16>,
    pub count: u32,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub answer_delay_ms: u64,
}

impl Fault {
    /// `count` calls answered with `status`.
    pub fn status(status: u16, count: u32) -> Self {
        Fault { status: Some(status), count, user_id: None, delay_ms: 0, answer_delay_ms: 0 }
    }

    /// `count` calls answered normally after `delay_ms`.
    pub fn delay(delay_ms: u64, count: u32) -> Self {
        Fault { status: None, count, user_id: None, delay_ms, answer_delay_ms: 0 }
    }

    /// `count` calls whose answers, computed from the data on arrival, are held back for
    /// `answer_delay_ms`: a later call can overtake them with newer data.
    pub fn answered_late(answer_delay_ms: u64, count: u32) -> Self {
        Fault { status: None, count, user_id: None, delay_ms: 0, answer_delay_ms }
    }

    pub fn for_user(mut self, user_id: &str) -> Self {
        self.user_id = Some(user_id.to_string());
        self
    }
}

/// `POST /_sim/users/{id}/rate-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitOverride {
    pub remaining: u32,
    pub reset_seconds: u64,
}

/// `POST /_sim/users/{id}/implicit-token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImplicitTokenRequest {
    pub expires_in: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenOnly {
    pub access_token: String,
}

/// `PUT /_sim/subscriber`: where notifications go (None stops pushing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberTarget {
    pub url: Option<String>,
}

/// What the simulator has served, for tests and benchmarks to assert on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// API calls admitted by the rate limiter (data and subscription endpoints), Fitbit's and
    /// Google's.
    pub api_calls: u64,
    /// Keyed by the simulator's user id (the Fitbit id); Google project calls are not a user's.
    pub api_calls_by_user: BTreeMap<String, u64>,
    /// Keyed by [`EndpointKind::label`](crate::EndpointKind::label) and, for the Google Health
    /// API, [`GoogleEndpoint::label`](crate::GoogleEndpoint::label) (`google_…`).
    pub api_calls_by_endpoint: BTreeMap<String, u64>,
    /// Every provider call a budget pays for, by kind, however it was answered: the endpoints of
    /// `api_calls_by_endpoint` also when refused (401, 429, an injected fault), and the OAuth
    /// endpoints (`oauth2_token`, `oauth2_revoke`, `oauth2_introspect`, `google_token`,
    /// `google_revoke`). The `api_calls*` counts above are the admitted calls only. Counted when
    /// the answer is sent, so a call whose caller hung up before is not here.
    #[serde(default)]
    pub all_in_calls_by_kind: BTreeMap<String, u64>,
    /// The calls of `all_in_calls_by_kind` by the HTTP status they were answered with (`"200"`,
    /// `"401"`, `"429"`, …).
    #[serde(default)]
    pub all_in_calls_by_status: BTreeMap<String, u64>,
    /// Calls answered 429.
    pub rate_limited: u64,
    /// Calls answered by an injected fault status.
    pub faults_served: u64,
    pub token_refreshes: u64,
    pub refresh_failures: u64,
    pub authorization_code_exchanges: u64,
    pub notification_posts: u64,
    /// Signed Google Health notification POSTs (not counting verification handshakes).
    #[serde(default)]
    pub google_notification_posts: u64,
}
