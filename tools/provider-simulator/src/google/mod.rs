//! The Google Health API mode: the Fitbit Web API's successor, served by the same process, on the
//! same port, over the same people and days. A simulator user is one person: their Fitbit id is
//! their Google `legacyUserId`, and they also have a Google `healthUserId` (see
//! [`health_user_id`]). A `google_only` user never used the Fitbit API and has no `legacyUserId`.
//!
//! - `oauth`: Google OAuth 2.0 — authorization code + PKCE with offline access (refresh tokens
//!   that do not rotate), revocation, and the service-account `jwt-bearer` grant that gives a
//!   project token (the credential subscribers are managed with).
//! - `api`: `v4/users/{user}/…` — daily rollups, the steps data-point list, settings, identity;
//!   a per-user quota per minute; the simulator's injected faults apply.
//! - `subscribers`: `v4/projects/{project}/subscribers…` — subscribers with the two-call
//!   endpoint verification, and MANUAL per-user subscriptions.
//! - `notify`: signed change notifications (ECDSA P-256, Tink keyset in `keys`).
//! - `admin`: `/_sim/google/…`, the test and demo controls (including refusing the whole
//!   project: API disabled, billing, project quotas).
//!
//! Below those handlers, and never importing them: [`endpoints`] (paths, which endpoint a call
//! was), [`identity`] (`healthUserId`), [`model`], [`wire`], [`scope`], [`error`], `world` (the
//! Google records of the in-memory world) and `state` (the `Store` methods over them). This
//! file only declares the modules, re-exports what other crates use, and registers the routes.
//!
//! Error bodies are Google's (`{"error":{"code","message","status","details"}}`, a 403 with its
//! `google.rpc.ErrorInfo` reason, see [`error`]); the `/_sim/google` admin endpoints answer like
//! the rest of `/_sim`.

mod admin;
mod api;
mod client;
pub mod endpoints;
pub mod error;
pub mod identity;
pub(crate) mod keys;
pub mod model;
pub(crate) mod notify;
mod oauth;
pub mod scope;
pub(crate) mod service_account;
pub(crate) mod state;
mod subscribers;
pub mod wire;
pub(crate) mod world;

use actix_web::web;

pub use endpoints::{GoogleEndpoint, AUTHORIZE_PATH, KEYSET_PATH, REVOKE_PATH, TOKEN_PATH};
pub use error::{GoogleApiError, OAuthError};
pub use identity::health_user_id;
pub use model::NOTIFIED_DATA_TYPE;
pub use scope::GoogleScope;

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
