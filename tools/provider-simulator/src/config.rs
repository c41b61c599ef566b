//! How a simulator is set up: its clients, token lifetimes, rate limits, cohort and where it
//! sends notifications, with the defaults tests and the demo start from.

use std::time::Duration;

use crate::google::model::NotificationForm;

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub client_id: String,
    pub client_secret: String,
    pub access_token_ttl: Duration,
    pub rate_limit_per_hour: u32,
    /// Seeds the synthetic cohort.
    pub seed: u64,
    /// Users `SIM0001`… created at start-up with data and tokens.
    pub cohort_size: usize,
    /// Days of cohort history, ending yesterday (UTC).
    pub cohort_days: u32,
    /// Where notifications are POSTed (the FitEx subscriber's Fitbit webhook URL).
    pub subscriber_url: Option<String>,
    /// The subscriber id of subscriptions created without `X-Fitbit-Subscriber-Id`.
    pub subscriber_id: String,
    /// The Google OAuth client (web application) FitEx uses.
    pub google_client_id: String,
    pub google_client_secret: String,
    /// Lifetime of Google access tokens (the token endpoint reports one second less).
    pub google_access_token_ttl: Duration,
    /// Google Health API calls per user per window.
    pub google_rate_limit_per_minute: u32,
    /// The quota window: a minute, like Google's; tests shorten it rather than wait.
    pub google_rate_limit_window: Duration,
    /// The Google Cloud project subscribers live in (`projects/{project}/…`) and the service
    /// account belongs to.
    pub google_project: String,
    /// Whether notifications carry `Authorization: <subscriber secret>` as documented (false
    /// mimics live reports of it missing; the signature is always there).
    pub google_send_authorization: bool,
    /// How notification bodies are framed unless a push says otherwise: one JSON object, as
    /// documented, or a JSON array of them, as live deliveries are reported to arrive.
    pub google_notification_form: NotificationForm,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            client_id: "SIMCLIENT".to_string(),
            client_secret: "sim-client-secret".to_string(),
            access_token_ttl: Duration::from_secs(28_800),
            rate_limit_per_hour: 150,
            seed: 42,
            cohort_size: 0,
            cohort_days: 28,
            subscriber_url: None,
            subscriber_id: "1".to_string(),
            google_client_id: "sim-google-client.apps.googleusercontent.com".to_string(),
            google_client_secret: "sim-google-client-secret".to_string(),
            google_access_token_ttl: Duration::from_secs(3_600),
            google_rate_limit_per_minute: 300,
            google_rate_limit_window: Duration::from_secs(60),
            google_project: "fitex-sim".to_string(),
            google_send_authorization: true,
            google_notification_form: NotificationForm::Object,
        }
    }
}
