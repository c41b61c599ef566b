//! Where the simulated Google OAuth and API endpoints live, below the simulator's base URL, and
//! which endpoint a call was (for the statistics).

use crate::google::wire::RollupType;

/// Where the simulated Google OAuth and API endpoints live, below the simulator's base URL.
pub const AUTHORIZE_PATH: &str = "/google/o/oauth2/v2/auth";
pub const TOKEN_PATH: &str = "/google/token";
pub const REVOKE_PATH: &str = "/google/revoke";
/// The public keyset, at the path Google serves it under (on www.gstatic.com).
pub const KEYSET_PATH: &str = "/googlehealthapi/webhooks/webhooks_public_keyset.json";

/// Which Google Health API endpoint a call was, for [`crate::Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoogleEndpoint {
    Rollup(RollupType),
    /// A rollup of a data type the simulator does not serve (answered 400).
    RollupUnsupported,
    DataPoints,
    Settings,
    Identity,
    Subscribers,
    Subscriptions,
}

impl GoogleEndpoint {
    pub fn label(self) -> &'static str {
        match self {
            GoogleEndpoint::Rollup(kind) => kind.stats_label(),
            GoogleEndpoint::RollupUnsupported => "google_rollup_unsupported",
            GoogleEndpoint::DataPoints => "google_data_points",
            GoogleEndpoint::Settings => "google_settings",
            GoogleEndpoint::Identity => "google_identity",
            GoogleEndpoint::Subscribers => "google_subscribers",
            GoogleEndpoint::Subscriptions => "google_subscriptions",
        }
    }
}
