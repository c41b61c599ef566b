//! The Fitbit Web API, as FitEx uses it, and the `/_sim` admin API that drives it. This file only
//! registers the routes; what they share sits below the handlers:
//!
//! - [`oauth`]: `/oauth2/authorize` (code + PKCE or implicit; `sim_user` instead of a login page),
//!   `/oauth2/token` (rotating refresh tokens), `/oauth2/revoke`, `/1.1/oauth2/introspect`.
//! - [`data`]: the day summary, activity and heart-rate series, intraday heart rate, profile.
//! - [`subscriptions`]: create, list and delete, for one collection or all of them.
//! - [`admin`]: `/_sim/…`, the test and demo controls.
//! - [`call`]: what every data and subscription call goes through (token, hourly budget with
//!   the rate-limit headers, injected faults, path user, scopes); [`notify`]: signed
//!   notifications to the subscriber.

mod admin;
mod call;
mod data;
pub(crate) mod notify;
mod oauth;
mod subscriptions;

use actix_web::web;

/// The Fitbit routes, registered after the Google ones (whose `/_sim/google` scope must come
/// before `/_sim`).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth2/authorize", web::get().to(oauth::authorize))
        .route("/oauth2/token", web::post().to(oauth::token))
        .route("/oauth2/revoke", web::post().to(oauth::revoke))
        .route("/1.1/oauth2/introspect", web::post().to(oauth::introspect))
        .route("/1/user/{user_id}/activities/date/{date}.json", web::get().to(data::activities_day))
        // The heart routes come before the activity series, whose `{resource}` is restricted to
        // the activity resources anyway; `…/{date}/1d/1min.json` has more segments than
        // `…/{date}/{end}.json`, so the two heart routes cannot overlap.
        .route(
            "/1/user/{user_id}/activities/heart/date/{date}/1d/1min.json",
            web::get().to(data::heart_intraday),
        )
        .route(
            "/1/user/{user_id}/activities/heart/date/{date}/{end}.json",
            web::get().to(data::heart_series),
        )
        .route(
            "/1/user/{user_id}/activities/{resource:steps|distance|minutesSedentary|minutesLightlyActive|minutesFairlyActive|minutesVeryActive}/date/{date}/{end}.json",
            web::get().to(data::activity_series),
        )
        .route("/1/user/{user_id}/profile.json", web::get().to(data::profile))
        // Each subscription operation on both forms of its path: all collections, or one.
        .route("/1/user/{user_id}/apiSubscriptions.json", web::get().to(subscriptions::list))
        .route(
            "/1/user/{user_id}/apiSubscriptions/{subscription_id}.json",
            web::post().to(subscriptions::create),
        )
        .route(
            "/1/user/{user_id}/apiSubscriptions/{subscription_id}.json",
            web::delete().to(subscriptions::delete),
        )
        .route(
            "/1/user/{user_id}/{collection}/apiSubscriptions.json",
            web::get().to(subscriptions::list),
        )
        .route(
            "/1/user/{user_id}/{collection}/apiSubscriptions/{subscription_id}.json",
            web::post().to(subscriptions::create),
        )
        .route(
            "/1/user/{user_id}/{collection}/apiSubscriptions/{subscription_id}.json",
            web::delete().to(subscriptions::delete),
        )
        .service(
            web::scope("/_sim")
                .route("/users", web::post().to(admin::create_user))
                .route("/users/{user_id}/days/{date}", web::get().to(admin::get_day))
                .route("/users/{user_id}/days/{date}", web::put().to(admin::set_day))
                .route("/users/{user_id}/implicit-token", web::post().to(admin::implicit_token))
                .route("/users/{user_id}/expire-tokens", web::post().to(admin::expire_tokens))
                .route("/users/{user_id}/revoke", web::post().to(admin::revoke))
                .route("/users/{user_id}/rate-limit", web::post().to(admin::rate_limit))
                .route("/notifications", web::post().to(admin::push))
                .route("/faults", web::post().to(admin::add_fault))
                .route("/faults", web::delete().to(admin::clear_faults))
                .route("/stats", web::get().to(admin::stats))
                .route("/stats", web::delete().to(admin::reset_stats))
                .route("/cohort", web::get().to(admin::cohort))
                .route("/subscriber", web::put().to(admin::set_subscriber)),
        );
}
