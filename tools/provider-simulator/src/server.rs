//! The HTTP surface: Fitbit's OAuth, data and subscription endpoints, and the `/_sim` admin API.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{NaiveDate, Utc};
use serde_json::json;

use crate::error::ApiError;
use crate::google::model::GooglePush;
use crate::google::scope::GoogleScope;
use crate::model::{
    AccessTokenOnly, CreateUser, DayRecord, Deliveries, Fault, ImplicitTokenRequest, Notification,
    PushRequest, RateLimitOverride, SubscriberTarget,
};
use crate::notify;
use crate::rate_limit::{Admission, RateStatus};
use crate::scope::{self, Scope};
use crate::state::{self, Caller, Created, EndpointKind, Store, Subscription};
use crate::{timezone, wire};

type Data = web::Data<Store>;
type Http = web::Data<reqwest::Client>;

/// Collections that can be subscribed to.
const COLLECTIONS: [&str; 5] = ["activities", "body", "foods", "sleep", "userRevokedAccess"];
const MAX_SUBSCRIPTION_ID_LEN: usize = 50;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth2/authorize", web::get().to(authorize))
        .route("/oauth2/token", web::post().to(token))
        .route("/oauth2/revoke", web::post().to(revoke_token))
        .route("/1.1/oauth2/introspect", web::post().to(introspect))
        .route("/1/user/{user_id}/activities/date/{date}.json", web::get().to(activities_day))
        // The heart routes come before the activity series, whose `{resource}` is restricted to
        // the activity resources anyway; `…/{date}/1d/1min.json` has more segments than
        // `…/{date}/{end}.json`, so the two heart routes cannot overlap.
        .route(
            "/1/user/{user_id}/activities/heart/date/{date}/1d/1min.json",
            web::get().to(heart_intraday),
        )
        .route(
            "/1/user/{user_id}/activities/heart/date/{date}/{end}.json",
            web::get().to(heart_series),
        )
        .route(
            "/1/user/{user_id}/activities/{resource:steps|distance|minutesSedentary|minutesLightlyActive|minutesFairlyActive|minutesVeryActive}/date/{date}/{end}.json",
            web::get().to(activity_series),
        )
        .route("/1/user/{user_id}/profile.json", web::get().to(profile))
        .route("/1/user/{user_id}/apiSubscriptions.json", web::get().to(list_all_subscriptions))
        .route(
            "/1/user/{user_id}/apiSubscriptions/{subscription_id}.json",
            web::post().to(create_all_subscription),
        )
        .route(
            "/1/user/{user_id}/apiSubscriptions/{subscription_id}.json",
            web::delete().to(delete_all_subscription),
        )
        .route(
            "/1/user/{user_id}/{collection}/apiSubscriptions.json",
            web::get().to(list_collection_subscriptions),
        )
        .route(
            "/1/user/{user_id}/{collection}/apiSubscriptions/{subscription_id}.json",
            web::post().to(create_collection_subscription),
        )
        .route(
            "/1/user/{user_id}/{collection}/apiSubscriptions/{subscription_id}.json",
            web::delete().to(delete_collection_subscription),
        )
        .service(
            web::scope("/_sim")
                .route("/users", web::post().to(admin_create_user))
                .route("/users/{user_id}/days/{date}", web::get().to(admin_get_day))
                .route("/users/{user_id}/days/{date}", web::put().to(admin_set_day))
                .route("/users/{user_id}/implicit-token", web::post().to(admin_implicit_token))
                .route("/users/{user_id}/expire-tokens", web::post().to(admin_expire_tokens))
                .route("/users/{user_id}/revoke", web::post().to(admin_revoke))
                .route("/users/{user_id}/rate-limit", web::post().to(admin_rate_limit))
                .route("/notifications", web::post().to(admin_push))
                .route("/faults", web::post().to(admin_add_fault))
                .route("/faults", web::delete().to(admin_clear_faults))
                .route("/stats", web::get().to(admin_stats))
                .route("/stats", web::delete().to(admin_reset_stats))
                .route("/cohort", web::get().to(admin_cohort))
                .route("/subscriber", web::put().to(admin_set_subscriber)),
        );
}

// ---- helpers ---------------------------------------------------------------------------------

/// Set on a request whose answer is to be held back (see [`Fault::answered_late`]).
#[derive(Clone, Copy)]
pub(crate) struct AnswerLate(pub Duration);

/// Middleware: holds back the answers of requests marked [`AnswerLate`], after they were computed.
pub(crate) async fn hold_back_late_answers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let response = next.call(req).await?;
    let late = response.request().extensions().get::<AnswerLate>().copied();
    if let Some(AnswerLate(delay)) = late {
        tokio::time::sleep(delay).await;
    }
    Ok(response)
}

fn with_rate_headers(mut builder: HttpResponseBuilder, rate: &RateStatus) -> HttpResponseBuilder {
    builder
        .insert_header(("Fitbit-Rate-Limit-Limit", rate.limit.to_string()))
        .insert_header(("Fitbit-Rate-Limit-Remaining", rate.remaining.to_string()))
        .insert_header(("Fitbit-Rate-Limit-Reset", rate.reset_seconds.to_string()));
    builder
}

fn error_response(error: &ApiError, rate: Option<&RateStatus>) -> HttpResponse {
    let builder = HttpResponse::build(error.status());
    let mut builder = match rate {
        Some(rate) => with_rate_headers(builder, rate),
        None => builder,
    };
    builder.json(error.body())
}

pub(crate) fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether the request carries `Basic base64(client_id:client_secret)` for our client.
fn has_client_credentials(store: &Store, req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return false;
    };
    let Ok(decoded) = BASE64.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{}:{}", store.config.client_id, store.config.client_secret);
    scheme.eq_ignore_ascii_case("basic") && decoded == expected.as_bytes()
}

fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, ApiError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::InvalidRequest(format!("malformed form body: {e}")))
}

/// A user's local date from a path segment (`yyyy-MM-dd` or `today`).
fn parse_date(store: &Store, user_id: &str, text: &str) -> Result<NaiveDate, ApiError> {
    if text == "today" {
        let zone = store.timezone(user_id)?;
        return Ok(
            timezone::local_date(&zone, Utc::now()).unwrap_or_else(|| Utc::now().date_naive())
        );
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ApiError::Validation {
        field: "date",
        message: format!("Invalid date:{text}"),
    })
}

/// An admitted API call: authenticated, counted against the user's budget, past any fault.
struct ApiCall {
    caller: Caller,
    rate: RateStatus,
}

impl ApiCall {
    fn ok(&self, status: StatusCode, body: serde_json::Value) -> HttpResponse {
        with_rate_headers(HttpResponse::build(status), &self.rate).json(body)
    }

    fn empty(&self, status: StatusCode) -> HttpResponse {
        with_rate_headers(HttpResponse::build(status), &self.rate).finish()
    }

    fn error(&self, error: ApiError) -> HttpResponse {
        error_response(&error, Some(&self.rate))
    }
}

/// What every data and subscription call goes through, in Fitbit's order as far as it shows:
/// the token, then the budget (every authenticated call counts), then injected faults, then the
/// path's user and the token's scopes.
async fn begin_call(
    store: &Store,
    req: &HttpRequest,
    path_user: &str,
    kind: EndpointKind,
    needs: Option<Scope>,
) -> Result<ApiCall, HttpResponse> {
    let now = Utc::now();
    let token = bearer_token(req).unwrap_or_default();
    let caller = store.authenticate(token, now).map_err(|e| error_response(&e, None))?;
    let rate = match store.admit(&caller.user_id, now) {
        Admission::Allowed(rate) => rate,
        Admission::Limited(rate) => {
            return Err(error_response(&ApiError::RateLimited, Some(&rate)))
        }
    };
    store.record_call(&caller.user_id, kind);
    if let Some(fault) = store.take_fault(&caller.user_id) {
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        if let Some(status) = fault.status {
            return Err(error_response(&ApiError::InjectedFault(status), Some(&rate)));
        }
        if fault.answer_delay_ms > 0 {
            req.extensions_mut().insert(AnswerLate(Duration::from_millis(fault.answer_delay_ms)));
        }
    }
    let call = ApiCall { caller, rate };
    if path_user != "-" && path_user != call.caller.user_id {
        return Err(call.error(ApiError::InsufficientPermissions));
    }
    if let Some(scope) = needs {
        if !call.caller.scopes.contains(&scope) {
            return Err(call.error(ApiError::InsufficientScope(scope)));
        }
    }
    Ok(call)
}

// ---- OAuth -----------------------------------------------------------------------------------

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn append_params(base: &str, separator: char, params: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(params).expect("string pairs always encode");
    format!("{base}{separator}{encoded}")
}

/// Where `/oauth2/authorize` redirects to, or why it cannot.
fn authorize_redirect(store: &Store, query: &HashMap<String, String>) -> Result<String, String> {
    let now = Utc::now();
    let param = |name: &str| query.get(name).map(String::as_str).filter(|v| !v.is_empty());
    if param("client_id") != Some(store.config.client_id.as_str()) {
        return Err("Invalid client_id".into());
    }
    let redirect_uri = param("redirect_uri").ok_or("Missing redirect_uri")?;
    let scopes = scope::parse_scope_names(param("scope").ok_or("Missing scope")?)
        .map_err(|e| e.to_string())?;
    if scopes.is_empty() {
        return Err("Missing scope".into());
    }
    // No one logs in here: the caller names the user who "approves" the request.
    let user_id = param("sim_user").ok_or(
        "Missing sim_user: the simulator has no login page; name the approving user with sim_user",
    )?;
    if !store.user_exists(user_id) {
        store
            .create_user(Some(user_id.to_string()), "America/New_York", scopes.clone(), now)
            .map_err(|e| e.to_string())?;
    } else if store.is_google_only(user_id) {
        return Err(state::no_fitbit_account(user_id).to_string());
    }
    let state = param("state");
    match param("response_type") {
        Some("code") => {
            let challenge = match (param("code_challenge"), param("code_challenge_method")) {
                (None, _) => None,
                (Some(challenge), Some("S256")) if crate::pkce::is_well_formed(challenge) => {
                    Some(challenge.to_string())
                }
                (Some(_), Some("S256")) => {
                    return Err("code_challenge must be 43 to 128 characters".into())
                }
                (Some(_), _) => return Err("code_challenge_method must be S256".into()),
            };
            let code = store.create_code(user_id, redirect_uri, scopes, challenge, now);
            let mut params = vec![("code", code.as_str())];
            params.extend(state.map(|s| ("state", s)));
            let separator = if redirect_uri.contains('?') { '&' } else { '?' };
            Ok(append_params(redirect_uri, separator, &params))
        }
        Some("token") => {
            let expires_in: u64 = param("expires_in").unwrap_or("86400").parse().unwrap_or(0);
            if !state::IMPLICIT_LIFETIMES.contains(&expires_in) {
                return Err("expires_in must be 86400, 604800, 2592000 or 31536000".into());
            }
            let (token, scopes) = store
                .issue_implicit_token(user_id, Some(scopes), expires_in, now)
                .map_err(|e| e.to_string())?;
            let scope_names = scope::scope_names(&scopes);
            let expires = expires_in.to_string();
            let mut params = vec![
                ("access_token", token.as_str()),
                ("user_id", user_id),
                ("scope", scope_names.as_str()),
                ("token_type", "Bearer"),
                ("expires_in", expires.as_str()),
            ];
            params.extend(state.map(|s| ("state", s)));
            Ok(append_params(redirect_uri, '#', &params))
        }
        _ => Err("response_type must be code or token".into()),
    }
}

async fn authorize(
    store: Data,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    // No real login here: without `sim_user`, a page lets a person pick who approves (the demo's
    // participants click through it); tests name the user in the URL.
    if query.get("sim_user").is_none_or(|u| u.is_empty()) {
        let users: Vec<String> = store.cohort().into_iter().map(|u| u.user_id).collect();
        let links: String = users
            .iter()
            .map(|user| {
                let href = format!("/oauth2/authorize?{}&sim_user={user}", req.query_string());
                format!("<li><a href=\"{}\">{}</a></li>", html_escape(&href), html_escape(user))
            })
            .collect();
        let body = if users.is_empty() {
            "<p>No simulated participants: start the simulator with <code>--cohort-size</code>, or name the user with <code>sim_user</code>.</p>".to_string()
        } else {
            format!("<p>Fitbit (simulated): sign in as</p><ul>{links}</ul>")
        };
        return HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
            "<!doctype html><html><head><title>Fitbit (simulated) sign-in</title></head><body><h1>Allow FitEx to read your activity?</h1>{body}</body></html>"
        ));
    }
    match authorize_redirect(&store, &query) {
        Ok(location) => HttpResponse::Found().insert_header((header::LOCATION, location)).finish(),
        Err(problem) => {
            HttpResponse::BadRequest().content_type("text/html; charset=utf-8").body(format!(
                "<!doctype html><html><body><h1>Authorization error</h1><p>{}</p></body></html>",
                html_escape(&problem)
            ))
        }
    }
}

fn token_response(tokens: crate::model::UserTokens) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "scope": tokens.scope,
        "token_type": "Bearer",
        "user_id": tokens.user_id,
    }))
}

async fn token(store: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if !has_client_credentials(&store, &req) {
        return error_response(&ApiError::InvalidClient, None);
    }
    let result = parse_form(&body).and_then(|form| {
        let field = |name: &str| form.get(name).map(String::as_str);
        let now = Utc::now();
        match field("grant_type") {
            Some("authorization_code") => {
                let code = field("code")
                    .ok_or_else(|| ApiError::InvalidRequest("Missing parameters: code".into()))?;
                store.exchange_code(code, field("code_verifier"), field("redirect_uri"), now)
            }
            Some("refresh_token") => {
                let refresh = field("refresh_token").ok_or_else(|| {
                    ApiError::InvalidRequest("Missing parameters: refresh_token".into())
                })?;
                store.refresh(refresh, now)
            }
            Some(other) => Err(ApiError::UnsupportedGrantType(other.to_string())),
            None => Err(ApiError::InvalidRequest("Missing parameters: grant_type".into())),
        }
    });
    match result {
        Ok(tokens) => token_response(tokens),
        Err(error) => error_response(&error, None),
    }
}

async fn revoke_token(store: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if !has_client_credentials(&store, &req) {
        return error_response(&ApiError::InvalidClient, None);
    }
    let form = match parse_form(&body) {
        Ok(form) => form,
        Err(error) => return error_response(&error, None),
    };
    let Some(token) = form.get("token") else {
        return error_response(&ApiError::InvalidRequest("Missing parameters: token".into()), None);
    };
    // RFC 7009: an unknown token is not an error.
    if let Some(user_id) = store.token_owner(token) {
        store.revoke_user(&user_id);
    }
    HttpResponse::Ok().finish()
}

async fn introspect(store: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let now = Utc::now();
    if let Err(error) = store.authenticate(bearer_token(&req).unwrap_or_default(), now) {
        return error_response(&error, None);
    }
    let form = match parse_form(&body) {
        Ok(form) => form,
        Err(error) => return error_response(&error, None),
    };
    let Some(token) = form.get("token") else {
        return error_response(&ApiError::InvalidRequest("Missing parameters: token".into()), None);
    };
    match store.introspect(token, now) {
        // Fitbit's introspection gives `exp` and `iat` in milliseconds.
        Some(state) => HttpResponse::Ok().json(json!({
            "active": true,
            "scope": scope::introspection_scope(&state.scopes),
            "client_id": store.config.client_id,
            "user_id": state.user_id,
            "token_type": "access_token",
            "exp": state.expires_at.timestamp_millis(),
            "iat": state.issued_at.timestamp_millis(),
        })),
        None => HttpResponse::Ok().json(json!({"active": false})),
    }
}

// ---- data ------------------------------------------------------------------------------------

async fn activities_day(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (path_user, date) = path.into_inner();
    let call = match begin_call(
        &store,
        &req,
        &path_user,
        EndpointKind::ActivitiesDay,
        Some(Scope::Activity),
    )
    .await
    {
        Ok(call) => call,
        Err(response) => return response,
    };
    let user_id = &call.caller.user_id;
    match parse_date(&store, user_id, &date).and_then(|d| store.day(user_id, d)) {
        Ok(day) => call.ok(StatusCode::OK, wire::activities_day_body(day.as_ref())),
        Err(error) => call.error(error),
    }
}

/// A series' first and last dates from `{date}` and `{end}` (a date, a period or `today`).
fn parse_range(
    store: &Store,
    user_id: &str,
    date: &str,
    end: String,
    max_days: i64,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let base = parse_date(store, user_id, date)?;
    let end = if end == "today" { parse_date(store, user_id, "today")?.to_string() } else { end };
    wire::resolve_range_within(base, &end, max_days)
        .map_err(|message| ApiError::Validation { field: "date", message })
}

/// `GET /1/user/{id}/activities/{resource}/date/{date}/{end}.json` for the activity resources
/// (steps, distance, minutes…): every date, values as strings.
async fn activity_series(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
) -> HttpResponse {
    let (path_user, resource, date, end) = path.into_inner();
    let kind =
        if resource == "steps" { EndpointKind::StepsRange } else { EndpointKind::ActivityRange };
    let call = match begin_call(&store, &req, &path_user, kind, Some(Scope::Activity)).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    let user_id = &call.caller.user_id;
    let range = parse_range(&store, user_id, &date, end, wire::MAX_RANGE_DAYS);
    match range.and_then(|(first, last)| Ok((first, last, store.days(user_id, first, last)?))) {
        Ok((first, last, days)) => {
            let value_on = |d| wire::resource_value(&resource, days.get(&d)).unwrap_or_default();
            call.ok(StatusCode::OK, wire::series_body(&resource, first, last, value_on))
        }
        Err(error) => call.error(error),
    }
}

/// `GET /1/user/{id}/activities/heart/date/{date}/{end}.json`: zones per date, a year at most.
async fn heart_series(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (path_user, date, end) = path.into_inner();
    let call = match begin_call(
        &store,
        &req,
        &path_user,
        EndpointKind::HeartRange,
        Some(Scope::Heartrate),
    )
    .await
    {
        Ok(call) => call,
        Err(response) => return response,
    };
    let user_id = &call.caller.user_id;
    let range = parse_range(&store, user_id, &date, end, wire::MAX_HEART_RANGE_DAYS);
    match range.and_then(|(first, last)| Ok((first, last, store.days(user_id, first, last)?))) {
        Ok((first, last, days)) => {
            call.ok(StatusCode::OK, wire::heart_range_body(first, last, |d| days.get(&d)))
        }
        Err(error) => call.error(error),
    }
}

async fn heart_intraday(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (path_user, date) = path.into_inner();
    let call = match begin_call(
        &store,
        &req,
        &path_user,
        EndpointKind::HeartIntraday,
        Some(Scope::Heartrate),
    )
    .await
    {
        Ok(call) => call,
        Err(response) => return response,
    };
    let user_id = &call.caller.user_id;
    let result = parse_date(&store, user_id, &date).and_then(|d| Ok((d, store.day(user_id, d)?)));
    match result {
        Ok((date, day)) => call.ok(StatusCode::OK, wire::heart_intraday_body(date, day.as_ref())),
        Err(error) => call.error(error),
    }
}

async fn profile(store: Data, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let call =
        match begin_call(&store, &req, &path, EndpointKind::Profile, Some(Scope::Profile)).await {
            Ok(call) => call,
            Err(response) => return response,
        };
    let user_id = &call.caller.user_id;
    let zone = match store.timezone(user_id) {
        Ok(zone) => zone,
        Err(error) => return call.error(error),
    };
    let offset_millis =
        timezone::utc_offset(&zone, Utc::now()).map_or(0, |offset| offset.num_milliseconds());
    call.ok(
        StatusCode::OK,
        json!({"user": {
            "avatar": "https://static0.fitbit.com/images/profile/defaultProfile_100.png",
            "displayName": format!("Sim {user_id}"),
            "distanceUnit": "en_US",
            "encodedId": user_id,
            "fullName": format!("Simulated User {user_id}"),
            "locale": "en_US",
            "memberSince": "2024-01-01",
            "offsetFromUTCMillis": offset_millis,
            "strideLengthWalking": 75.0,
            "timezone": zone,
            "weightUnit": "METRIC",
        }}),
    )
}

// ---- subscriptions ---------------------------------------------------------------------------

fn check_collection(collection: &str) -> Result<(), ApiError> {
    if COLLECTIONS.contains(&collection) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("Unknown collection {collection}")))
    }
}

async fn create_subscription(
    store: Data,
    req: HttpRequest,
    path_user: String,
    collection: Option<String>,
    subscription_id: String,
) -> HttpResponse {
    let call = match begin_call(&store, &req, &path_user, EndpointKind::Subscriptions, None).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    // Fitbit rejects a body-less POST without an explicit `Content-Length: 0`.
    if !req.headers().contains_key(header::CONTENT_LENGTH) {
        return call.error(ApiError::LengthRequired);
    }
    if let Some(Err(error)) = collection.as_deref().map(check_collection) {
        return call.error(error);
    }
    if subscription_id.is_empty() || subscription_id.len() > MAX_SUBSCRIPTION_ID_LEN {
        return call.error(ApiError::Validation {
            field: "subscriptionId",
            message: format!("subscription id must be 1 to {MAX_SUBSCRIPTION_ID_LEN} characters"),
        });
    }
    let subscriber_id = req
        .headers()
        .get("X-Fitbit-Subscriber-Id")
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map_or_else(|| store.config.subscriber_id.clone(), str::to_string);
    let wanted = Subscription {
        subscriber_id,
        owner_id: call.caller.user_id.clone(),
        collection,
        subscription_id,
    };
    match store.create_subscription(wanted) {
        Ok(Created::New(s)) => call.ok(StatusCode::CREATED, s.to_json()),
        Ok(Created::AlreadyExists(s)) => call.ok(StatusCode::OK, s.to_json()),
        Err(error) => call.error(error),
    }
}

async fn list_subscriptions(
    store: Data,
    req: HttpRequest,
    path_user: String,
    collection: Option<String>,
) -> HttpResponse {
    let call = match begin_call(&store, &req, &path_user, EndpointKind::Subscriptions, None).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    if let Some(Err(error)) = collection.as_deref().map(check_collection) {
        return call.error(error);
    }
    let listed: Vec<serde_json::Value> = store
        .list_subscriptions(&call.caller.user_id, collection.as_deref())
        .iter()
        .map(Subscription::to_json)
        .collect();
    call.ok(StatusCode::OK, json!({"apiSubscriptions": listed}))
}

async fn delete_subscription(
    store: Data,
    req: HttpRequest,
    path_user: String,
    collection: Option<String>,
    subscription_id: String,
) -> HttpResponse {
    let call = match begin_call(&store, &req, &path_user, EndpointKind::Subscriptions, None).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    if store.delete_subscription(&call.caller.user_id, collection.as_deref(), &subscription_id) {
        call.empty(StatusCode::NO_CONTENT)
    } else {
        call.error(ApiError::NotFound(format!("No subscription {subscription_id}")))
    }
}

async fn list_all_subscriptions(
    store: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    list_subscriptions(store, req, path.into_inner(), None).await
}

async fn list_collection_subscriptions(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (user, collection) = path.into_inner();
    list_subscriptions(store, req, user, Some(collection)).await
}

async fn create_all_subscription(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (user, id) = path.into_inner();
    create_subscription(store, req, user, None, id).await
}

async fn create_collection_subscription(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (user, collection, id) = path.into_inner();
    create_subscription(store, req, user, Some(collection), id).await
}

async fn delete_all_subscription(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (user, id) = path.into_inner();
    delete_subscription(store, req, user, None, id).await
}

async fn delete_collection_subscription(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (user, collection, id) = path.into_inner();
    delete_subscription(store, req, user, Some(collection), id).await
}

// ---- admin -----------------------------------------------------------------------------------

fn admin_date(text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ApiError::Validation {
        field: "date",
        message: format!("Invalid date:{text}"),
    })
}

/// Creates a user: 201 with a Fitbit token pair, or for a `google_only` person (no Fitbit
/// account) 201 with a Google consent's tokens for the Google equivalents of `scopes`.
async fn admin_create_user(
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

async fn admin_get_day(
    store: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, date) = path.into_inner();
    match store.day_record(&user_id, admin_date(&date)?)? {
        Some(record) => Ok(HttpResponse::Ok().json(record)),
        None => Err(ApiError::NotFound(format!("no data for {user_id} on {date}"))),
    }
}

/// Stores the day (a [`DayRecord`]: `DayData` plus `manual_steps`), then notifies like a sync
/// would. Fitbit: one `activities` notification per subscription covering it; a user without any
/// subscription is still notified, under the subscription id equal to the user id, so tests and
/// the demo need not subscribe first (a `google_only` user has no Fitbit side). Google: a signed
/// `steps` UPSERT to every subscriber that should get it, in `google_deliveries`.
async fn admin_set_day(
    store: Data,
    http: Http,
    path: web::Path<(String, String)>,
    body: web::Json<DayRecord>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, date) = path.into_inner();
    let date = admin_date(&date)?;
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

async fn admin_implicit_token(
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

async fn admin_expire_tokens(
    store: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    store.expire_tokens(&path, Utc::now())?;
    Ok(HttpResponse::NoContent().finish())
}

/// The user revokes the application in their Fitbit account: tokens stop working, subscribers
/// of `userRevokedAccess` are told, and the user's subscriptions go away.
async fn admin_revoke(
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

async fn admin_rate_limit(
    store: Data,
    path: web::Path<String>,
    body: web::Json<RateLimitOverride>,
) -> Result<HttpResponse, ApiError> {
    store.override_rate_limit(&path, body.into_inner(), Utc::now())?;
    Ok(HttpResponse::NoContent().finish())
}

async fn admin_push(
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

async fn admin_add_fault(store: Data, body: web::Json<Fault>) -> HttpResponse {
    store.add_fault(body.into_inner());
    HttpResponse::NoContent().finish()
}

async fn admin_clear_faults(store: Data) -> HttpResponse {
    store.clear_faults();
    HttpResponse::NoContent().finish()
}

async fn admin_stats(store: Data) -> HttpResponse {
    HttpResponse::Ok().json(store.stats())
}

async fn admin_reset_stats(store: Data) -> HttpResponse {
    store.reset_stats();
    HttpResponse::NoContent().finish()
}

async fn admin_cohort(store: Data) -> HttpResponse {
    HttpResponse::Ok().json(store.cohort())
}

async fn admin_set_subscriber(store: Data, body: web::Json<SubscriberTarget>) -> HttpResponse {
    store.set_subscriber_url(body.into_inner().url);
    HttpResponse::NoContent().finish()
}
