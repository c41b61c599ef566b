//! The Google Health API mode: the Fitbit Web API's successor, served by the same process, on the
//! same port, over the same people and days. A simulator user is one person: their Fitbit id is
//! their Google `legacyUserId`, and they also have a Google `healthUserId` (see
//! [`health_user_id`]). A `google_only` user never used the Fitbit API and has no `legacyUserId`.
//!
//! - [`oauth`]: Google OAuth 2.0 — authorization code + PKCE with offline access (refresh tokens
//!   that do not rotate), revocation, and the service-account `jwt-bearer` grant that gives a
//!   project token (the credential subscribers are managed with).
//! - [`api`]: `v4/users/{user}/…` — daily rollups, the steps data-point list, settings, identity;
//!   a per-user quota per minute; the simulator's injected faults apply.
//! - [`subscribers`]: `v4/projects/{project}/subscribers…` — subscribers with the two-call
//!   endpoint verification, and MANUAL per-user subscriptions.
//! - [`notify`]: signed change notifications (ECDSA P-256, Tink keyset in [`keys`]).
//! - [`admin`]: `/_sim/google/…`, the test and demo controls (including refusing the whole
//!   project: API disabled, billing, project quotas).
//!
//! Error bodies are Google's (`{"error":{"code","message","status","details"}}`, a 403 with its
//! `google.rpc.ErrorInfo` reason, see [`error`]); the `/_sim/google` admin endpoints answer like
//! the rest of `/_sim`.

mod admin;
mod api;
mod client;
pub mod error;
pub(crate) mod keys;
pub mod model;
pub(crate) mod notify;
mod oauth;
pub mod scope;
pub(crate) mod service_account;
pub(crate) mod state;
mod subscribers;
pub mod wire;

use actix_web::web;
use sha2::{Digest, Sha256};

pub use error::{GoogleApiError, OAuthError};
pub use scope::GoogleScope;

/// Where the simulated Google OAuth and API endpoints live, below the simulator's base URL.
pub const AUTHORIZE_PATH: &str = "/google/o/oauth2/v2/auth";
pub const TOKEN_PATH: &str = "/google/token";
pub const REVOKE_PATH: &str = "/google/revoke";
/// The public keyset, at the path Google serves it under (on www.gstatic.com).
pub const KEYSET_PATH: &str = "/googlehealthapi/webhooks/webhooks_public_keyset.json";

/// The data types notifications are simulated for. A day set through the admin API changes
/// all of them, but subscribers see only the types their configurations name.
pub const NOTIFIED_DATA_TYPE: &str = "steps";

/// A user's Google Health id: deterministic from the simulator (Fitbit) id, but never equal to
/// it — 20 hex digits of its SHA-256.
pub fn health_user_id(user_id: &str) -> String {
    let digest = Sha256::digest(user_id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect::<String>()[..20].to_string()
}

/// Which Google Health API endpoint a call was, for [`crate::Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoogleEndpoint {
    Rollup(wire::RollupType),
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

/// The Google routes. They are registered before the Fitbit ones so that `/_sim/google/…` is
/// not swallowed by the Fitbit `/_sim` scope (actix matches scopes by prefix, first one wins).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(AUTHORIZE_PATH, web::get().to(oauth::authorize))
        .route(TOKEN_PATH, web::post().to(oauth::token))
        .route(REVOKE_PATH, web::post().to(oauth::revoke))
        .route(KEYSET_PATH, web::get().to(admin::public_keyset))
        .route(
            "/v4/users/{user}/dataTypes/{data_type}/dataPoints:dailyRollUp",
            web::post().to(api::daily_roll_up),
        )
        .route(
            "/v4/users/{user}/dataTypes/{data_type}/dataPoints",
            web::get().to(api::list_data_points),
        )
        .route("/v4/users/{user}/settings", web::get().to(api::settings))
        .route("/v4/users/{user}/identity", web::get().to(api::identity))
        .route("/v4/projects/{project}/subscribers", web::post().to(subscribers::create))
        .route("/v4/projects/{project}/subscribers", web::get().to(subscribers::list))
        .route(
            "/v4/projects/{project}/subscribers/{subscriber}",
            web::patch().to(subscribers::patch),
        )
        .route(
            "/v4/projects/{project}/subscribers/{subscriber}",
            web::delete().to(subscribers::delete),
        )
        .route(
            "/v4/projects/{project}/subscribers/{subscriber}/subscriptions",
            web::post().to(subscribers::create_subscription),
        )
        .route(
            "/v4/projects/{project}/subscribers/{subscriber}/subscriptions",
            web::get().to(subscribers::list_subscriptions),
        )
        .route(
            "/v4/projects/{project}/subscribers/{subscriber}/subscriptions/{subscription}",
            web::delete().to(subscribers::delete_subscription),
        )
        .service(
            web::scope("/_sim/google")
                .route("/service-account.json", web::get().to(admin::service_account))
                .route("/project-token", web::post().to(admin::project_token))
                .route("/keys", web::get().to(admin::keys))
                .route("/keys/rotate", web::post().to(admin::rotate_keys))
                .route("/keys/retire", web::post().to(admin::retire_keys))
                .route("/project-refusal", web::post().to(admin::project_refusal))
                .route("/notifications", web::post().to(admin::push))
                .route("/raw-notification", web::post().to(admin::raw_notification))
                .route("/verify-endpoint", web::post().to(admin::verify_endpoint))
                .route("/cohort", web::get().to(admin::cohort))
                .route("/users/{user_id}/grant", web::post().to(admin::grant))
                .route("/users/{user_id}/revoke", web::post().to(admin::revoke))
                .route("/users/{user_id}/expire-tokens", web::post().to(admin::expire_tokens)),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_health_user_id_is_stable_and_not_the_fitbit_id() {
        let id = health_user_id("SIM0001");
        assert_eq!(id, health_user_id("SIM0001"));
        assert_eq!(id.len(), 20);
        assert_ne!(id, "SIM0001");
        assert_ne!(id, health_user_id("SIM0002"));
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
