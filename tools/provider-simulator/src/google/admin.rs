//! `/_sim/google/…` (no auth): the controls tests and the demo drive the Google mode with, and
//! the public keyset. Errors are the admin API's (`ApiError`), as for the rest of `/_sim`.

use std::collections::BTreeSet;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use crate::error::ApiError;
use crate::google::model::{
    GoogleDeliveries, GoogleGrantRequest, GoogleProjectToken, GooglePush, ProjectRefusalRequest,
    RawNotification, VerifyEndpoint,
};
use crate::google::notify;
use crate::google::scope::{self, GoogleScope, DEFAULT_GOOGLE_SCOPES};
use crate::http::base_url;
use crate::state::{unknown_user, Store};

type Data = web::Data<Store>;
type Http = web::Data<reqwest::Client>;

/// The user named in an admin path: a simulator (Fitbit) id or a `healthUserId`.
fn resolve(store: &Store, id: &str) -> Result<String, ApiError> {
    store.google_resolve_user(id).ok_or_else(|| unknown_user(id))
}

/// `GET /googlehealthapi/webhooks/webhooks_public_keyset.json`.
pub(crate) async fn public_keyset(store: Data) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(store.google_keyset_json())
}

/// `GET /_sim/google/service-account.json`: the project's key file, for `gcp_auth` and friends.
pub(crate) async fn service_account(store: Data, req: HttpRequest) -> HttpResponse {
    match store.google_service_account().await {
        Ok(account) => {
            HttpResponse::Ok().json(account.key_file(&store.config.google_project, &base_url(&req)))
        }
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}

/// `POST /_sim/google/project-token`: a `cloud-platform` project token without the RSA dance.
pub(crate) async fn project_token(store: Data) -> HttpResponse {
    let scopes = BTreeSet::from([GoogleScope::CloudPlatform]);
    let issued = store.google_issue_project_token(scopes, Utc::now());
    HttpResponse::Ok().json(GoogleProjectToken {
        access_token: issued.access_token,
        expires_in: issued.expires_in,
        scope: scope::scope_string(&issued.scopes),
    })
}

pub(crate) async fn keys(store: Data) -> HttpResponse {
    HttpResponse::Ok().json(store.google_keys())
}

pub(crate) async fn rotate_keys(store: Data) -> HttpResponse {
    HttpResponse::Ok().json(store.google_rotate_keys())
}

pub(crate) async fn retire_keys(store: Data) -> HttpResponse {
    HttpResponse::Ok().json(store.google_retire_keys())
}

/// `POST /_sim/google/project-refusal`: from now on every user data call is refused for the whole
/// project with the given reason (`{"reason":null}`: answered normally again).
pub(crate) async fn project_refusal(
    store: Data,
    body: web::Json<ProjectRefusalRequest>,
) -> HttpResponse {
    store.google_set_project_refusal(body.reason);
    HttpResponse::NoContent().finish()
}

/// `POST /_sim/google/notifications`.
pub(crate) async fn push(
    store: Data,
    http: Http,
    body: web::Json<GooglePush>,
) -> Result<HttpResponse, ApiError> {
    let mut push = body.into_inner();
    push.user_id = resolve(&store, &push.user_id)?;
    let deliveries = notify::push(&store, &http, &push).await?;
    Ok(HttpResponse::Ok().json(GoogleDeliveries { deliveries }))
}

/// `POST /_sim/google/raw-notification`.
pub(crate) async fn raw_notification(
    store: Data,
    http: Http,
    body: web::Json<RawNotification>,
) -> HttpResponse {
    HttpResponse::Ok().json(notify::raw(&store, &http, &body).await)
}

/// `POST /_sim/google/verify-endpoint`: the two-call handshake, without creating anything.
pub(crate) async fn verify_endpoint(http: Http, body: web::Json<VerifyEndpoint>) -> HttpResponse {
    HttpResponse::Ok().json(notify::verify_endpoint(&http, &body.url, &body.secret).await)
}

/// `GET /_sim/google/cohort`.
pub(crate) async fn cohort(store: Data) -> HttpResponse {
    HttpResponse::Ok().json(store.google_cohort())
}

/// `POST /_sim/google/users/{id}/grant` (optional body `{"scopes":[…URLs]}`): a new offline
/// consent with tokens.
pub(crate) async fn grant(
    store: Data,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let user_id = resolve(&store, &path)?;
    let request: GoogleGrantRequest = if body.iter().all(u8::is_ascii_whitespace) {
        GoogleGrantRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::Validation { field: "body", message: e.to_string() })?
    };
    let scopes: BTreeSet<GoogleScope> = if request.scopes.is_empty() {
        DEFAULT_GOOGLE_SCOPES.into_iter().collect()
    } else {
        scope::parse_scopes(&request.scopes.join(" "))
            .map_err(|e| ApiError::Validation { field: "scopes", message: e.to_string() })?
    };
    Ok(HttpResponse::Ok().json(store.google_grant(&user_id, scopes, Utc::now())?))
}

/// `POST /_sim/google/users/{id}/revoke`: the person withdraws their Google consent.
pub(crate) async fn revoke(store: Data, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    store.google_revoke_user(&resolve(&store, &path)?)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /_sim/google/users/{id}/expire-tokens`: access tokens expire now; refresh still works.
pub(crate) async fn expire_tokens(
    store: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    store.google_expire_tokens(&resolve(&store, &path)?, Utc::now())?;
    Ok(HttpResponse::NoContent().finish())
}
