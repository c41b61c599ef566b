//! JSON bodies of the `/_sim/google` admin endpoints, shared with [`crate::SimulatorClient`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A Google consent's tokens: a cohort entry (`GET /_sim/google/cohort`) or a new grant
/// (`POST /_sim/google/users/{id}/grant`, `POST /_sim/users` with `google_only`). The access token
/// is the latest one issued; it works until it expires or the consent is revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleUserTokens {
    /// The simulator's (Fitbit) user id.
    pub user_id: String,
    pub health_user_id: String,
    pub timezone: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds, as the token endpoint reports them (one less than the real lifetime).
    pub expires_in: u64,
    /// Scope URLs separated by spaces.
    pub scope: String,
}

/// `POST /_sim/google/users/{id}/grant` (the body is optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleGrantRequest {
    /// Scope URLs; empty: activity_and_fitness, settings and profile.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `POST /_sim/google/project-token`: a project (service account) access token with the
/// `cloud-platform` scope, without going through the `jwt-bearer` grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleProjectToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
}

/// The notification signing keys: `GET /_sim/google/keys`, `POST …/keys/rotate`, `POST …/keys/retire`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleKeys {
    /// The key that signs from now on.
    pub primary_key_id: u32,
    /// Every published key, the primary first.
    pub key_ids: Vec<u32>,
}

/// The data types notifications are simulated for. A day set through the admin API changes
/// all of them, but subscribers see only the types their configurations name.
pub const NOTIFIED_DATA_TYPE: &str = "steps";

fn upsert() -> String {
    "UPSERT".to_string()
}

fn steps() -> String {
    NOTIFIED_DATA_TYPE.to_string()
}

/// `POST /_sim/google/notifications`: a change notification for one user and civil date, signed
/// and sent to every subscriber that would get it (configuration covers `data_type`; AUTOMATIC
/// policy and the user consented, or MANUAL and the user is subscribed), then `duplicates` more
/// times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GooglePush {
    /// The simulator's (Fitbit) user id.
    pub user_id: String,
    pub date: NaiveDate,
    /// `UPSERT` or `DELETE` (anything else is sent as given).
    #[serde(default = "upsert")]
    pub operation: String,
    #[serde(default = "steps")]
    pub data_type: String,
    /// One interval from 23:58 on `date` to 00:03 the next day (two civil dates).
    #[serde(default)]
    pub crosses_midnight: bool,
    #[serde(default)]
    pub duplicates: usize,
    /// Further civil dates changed in the same delivery: more intervals of the one notification,
    /// or — in the array form — a notification each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_dates: Vec<NaiveDate>,
    /// How the body is framed; absent: the simulator's `google_notification_form`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<NotificationForm>,
}

impl GooglePush {
    /// An UPSERT of the user's steps on `date`, sent once.
    pub fn steps(user_id: &str, date: NaiveDate) -> Self {
        GooglePush {
            user_id: user_id.to_string(),
            date,
            operation: upsert(),
            data_type: steps(),
            crosses_midnight: false,
            duplicates: 0,
            more_dates: Vec::new(),
            form: None,
        }
    }
}

/// How a notification body is framed: Google documents one JSON object
/// (`{"data":{…}}`); live deliveries are reported to arrive as a JSON array of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationForm {
    #[default]
    Object,
    Array,
}

impl std::str::FromStr for NotificationForm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "object" => Ok(NotificationForm::Object),
            "array" => Ok(NotificationForm::Array),
            _ => Err(format!("{text:?} is not a notification form (object or array)")),
        }
    }
}

/// A refusal of the whole project, as Google answers it (403 with a `google.rpc.ErrorInfo`
/// reason): `POST /_sim/google/project-refusal` makes every user data call answer it until
/// cleared. The participant's own scope problem is not one of these: a token without the
/// activity scope is answered `ACCESS_TOKEN_SCOPE_INSUFFICIENT` regardless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectRefusal {
    /// The Google Health API is not enabled for the project.
    ServiceDisabled,
    /// The project's billing account is disabled.
    BillingDisabled,
    /// A project-wide rate quota (requests per minute per project) is spent.
    RateLimitExceeded,
    /// A project-wide quota of another kind (requests per day per project) is spent.
    ResourceQuotaExceeded,
}

/// `POST /_sim/google/project-refusal`: `{"reason":"SERVICE_DISABLED"}`, or `{"reason":null}`
/// to answer normally again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRefusalRequest {
    #[serde(default)]
    pub reason: Option<ProjectRefusal>,
}

/// One signed notification POST to a Google subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleDelivery {
    pub subscriber_id: String,
    pub health_user_id: String,
    /// The endpoint's HTTP status; None when no response came back.
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleDeliveries {
    pub deliveries: Vec<GoogleDelivery>,
}

/// Which key signs a raw notification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureKey {
    /// The primary key: a valid signature.
    #[default]
    Primary,
    /// A key that is not in the published keyset (an id no one knows).
    Unknown,
    /// Signed by another key but naming the primary key's id: a bad signature.
    Wrong,
    /// No signature header at all.
    None,
}

/// `POST /_sim/google/raw-notification`: POSTs `body` exactly as given to `url` (for negative
/// tests), with `Content-Type: application/json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawNotification {
    pub url: String,
    pub body: String,
    #[serde(default)]
    pub signature_key: SignatureKey,
    /// Sent as the `Authorization` header when set.
    #[serde(default)]
    pub authorization: Option<String>,
}

/// `POST /_sim/google/verify-endpoint`: runs Google's two-call verification handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyEndpoint {
    pub url: String,
    pub secret: String,
}

/// The handshake's outcome: 201 with `Authorization`, then 401 or 403 without, passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCheck {
    /// None when no response came back.
    pub with_authorization: Option<u16>,
    pub without_authorization: Option<u16>,
    pub passed: bool,
    /// Why it failed, in Google's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
