//! `/_sim/…` (no auth): the controls tests and the demo drive the Fitbit side with — users and
//! their days, tokens, rate limits, notifications, faults, statistics, the cohort and the
//! subscriber URL. Errors are the admin API's ([`ApiError`]).

use std::collections::BTreeSet;

use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, Utc};

use crate::error::ApiError;
use crate::fitbit::notify;
use crate::google::model::GooglePush;
use crate::google::scope::GoogleScope;
use crate::model::{
    AccessTokenOnly, CreateUser, DayRecord, Deliveries, Fault, ImplicitTokenRequest, Notification,
    PushRequest, RateLimitOverride, SubscriberTarget,
};
use crate::scope::{self, Scope};
use crate::state::{self, Store};
use crate::timezone;

type Data = web::Data<Store>;
type Http = web::Data<reqwest::Client>;

fn path_date(text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ApiError::Validation {
        field: "date",
        message: format!("Invalid date:{text}"),
    })
}

/// Creates a user: 201 with a Fitbit token pair, or for a `google_only` person (no Fitbit
/// account) 201 with a Google consent's tokens for the Google equivalents of `scopes`.
pub(super) async fn create_user(
    store: Data,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let CreateUser { user_id, timezone, scopes, google_only } = body.into_inner();
    let scopes: BTreeSet<Scope> = scope::parse_scope_list(&scopes)
        .map_err(|e| ApiError::Validation { field: "scopes", message: e.to_string() })?;
    let now = Utc::now();
    if !google_only {
        let tokens = store.create_user(user_id, &timezone, scopes, now)?;
        return Ok(HttpResponse::Created().json(tokens));
    }
    let google_scopes: BTreeSet<GoogleScope> =
        scopes.iter().filter_map(|scope| GoogleScope::from_fitbit(*scope)).collect();
    if google_scopes.is_empty() {
        return Err(ApiError::Validation {
            field: "scopes",
            message: "none of these scopes has a Google Health counterpart".into(),
        });
    }
    let user_id = store.create_google_only_user(user_id, &timezone, scopes)?;
    Ok(HttpResponse::Created().json(store.google_grant(&user_id, google_scopes, now)?))
}

pub(super) async fn get_day(
    store: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, date) = path.into_inner();
    match store.day_record(&user_id, path_date(&date)?)? {
        Some(record) => Ok(HttpResponse::Ok().json(record)),
        None => Err(ApiError::NotFound(format!("no data for {user_id} on {date}"))),
    }
}

/// Stores the day (a [`DayRecord`]: `DayData` plus `manual_steps`), then notifies like a sync
/// would. Fitbit: one `activities` notification per subscription covering it; a user without any
/// subscription is still notified, under the subscription id equal to the user id, so tests and
/// the demo need not subscribe first (a `google_only` user has no Fitbit side). Google: a signed
/// `steps` UPSERT to every subscriber that should get it, in `google_deliveries`.
pub(super) async fn set_day(
    store: Data,
    http: Http,
    path: web::Path<(String, String)>,
    body: web::Json<DayRecord>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, date) = path.into_inner();
    let date = path_date(&date)?;
    store.set_day(&user_id, date, body.into_inner())?;
    let deliveries = if store.is_google_only(&user_id) {
        Vec::new()
    } else {
        let mut subscription_ids: Vec<String> = store
            .subscriptions_covering(&user_id, "activities")
            .into_iter()
            .map(|s| s.subscription_id)
            .collect();
        if subscription_ids.is_empty() {
            subscription_ids.push(user_id.clone());
        }
        let notifications: Vec<Notification> = subscription_ids
            .iter()
            .map(|id| Notification::activities(&user_id, date, id))
            .collect();
        notify::push(&store, &http, &notifications, 0).await
    };
    let google_push = GooglePush::steps(&user_id, date);
    let google_deliveries = crate::google::notify::push(&store, &http, &google_push).await?;
    Ok(HttpResponse::Ok().json(Deliveries { deliveries, google_deliveries }))
}

pub(super) async fn implicit_token(
    store: Data,
    path: web::Path<String>,
    body: web::Json<ImplicitTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    if body.expires_in == 0 {
        return Err(ApiError::Validation {
            field: "expires_in",
            message: "must be positive".into(),
        });
    }
    let (access_token, _) = store.issue_implicit_token(&path, None, body.expires_in, Utc::now())?;
    Ok(HttpResponse::Ok().json(AccessTokenOnly { access_token }))
}

pub(super) async fn expire_tokens(
    store: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    store.expire_tokens(&path, Utc::now())?;
    Ok(HttpResponse::NoContent().finish())
}

/// The user revokes the application in their Fitbit account: tokens stop working, subscribers
/// of `userRevokedAccess` are told, and the user's subscriptions go away.
pub(super) async fn revoke(
    store: Data,
    http: Http,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = path.into_inner();
    if !store.revoke_user(&user_id) {
        return Err(state::unknown_user(&user_id));
    }
    let zone = store.timezone(&user_id)?;
    let today = timezone::local_date(&zone, Utc::now());
    let notifications: Vec<Notification> = store
        .subscriptions_covering(&user_id, "userRevokedAccess")
        .into_iter()
        .map(|s| Notification {
            collection_type: "userRevokedAccess".to_string(),
            date: today,
            owner_id: user_id.clone(),
            owner_type: "user".to_string(),
            subscription_id: s.subscription_id,
        })
        .collect();
    store.remove_subscriptions_of(&user_id);
    let deliveries = if notifications.is_empty() {
        Vec::new()
    } else {
        notify::push(&store, &http, &notifications, 0).await
    };
    Ok(HttpResponse::Ok().json(Deliveries::fitbit(deliveries)))
}

pub(super) async fn rate_limit(
    store: Data,
    path: web::Path<String>,
    body: web::Json<RateLimitOverride>,
) -> Result<HttpResponse, ApiError> {
    store.override_rate_limit(&path, body.into_inner(), Utc::now())?;
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn push(
    store: Data,
    http: Http,
    body: web::Json<PushRequest>,
) -> Result<HttpResponse, ApiError> {
    let PushRequest { notifications, duplicates } = body.into_inner();
    if store.subscriber_url().is_none() {
        return Err(ApiError::Conflict("no subscriber URL is configured".into()));
    }
    let deliveries = notify::push(&store, &http, &notifications, duplicates).await;
    Ok(HttpResponse::Ok().json(Deliveries::fitbit(deliveries)))
}

pub(super) async fn add_fault(store: Data, body: web::Json<Fault>) -> HttpResponse {
    store.add_fault(body.into_inner());
    HttpResponse::NoContent().finish()
}

pub(super) async fn clear_faults(store: Data) -> HttpResponse {
    store.clear_faults();
    HttpResponse::NoContent().finish()
}

pub(super) async fn stats(store: Data) -> HttpResponse {
    HttpResponse::Ok().json(store.stats())
}

pub(super) async fn reset_stats(store: Data) -> HttpResponse {
    store.reset_stats();
    HttpResponse::NoContent().finish()
}

pub(super) async fn cohort(store: Data) -> HttpResponse {
    HttpResponse::Ok().json(store.cohort())
}

pub(super) async fn set_subscriber(store: Data, body: web::Json<SubscriberTarget>) -> HttpResponse {
    store.set_subscriber_url(body.into_inner().url);
    HttpResponse::NoContent().finish()
}
