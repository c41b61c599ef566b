//! `v4/users/{user}/…`: a user's data, read with the user's Google access token.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, TimeDelta, Utc};
use serde_json::json;

use crate::error::ApiError;
use crate::google::endpoints::GoogleEndpoint;
use crate::google::error::GoogleApiError;
use crate::google::scope::GoogleScope;
use crate::google::wire::{self, RollupType, StepsPoint};
use crate::google::world::GoogleCaller;
use crate::http::{bearer_token, count_call_as};
use crate::state::Store;
use crate::timezone;

type Data = web::Data<Store>;

/// The scopes that may read a data type the simulator serves (all activity data).
const ACTIVITY: [GoogleScope; 1] = [GoogleScope::ActivityAndFitness];
/// Identity is readable with any Google Health scope but location.
const IDENTITY: [GoogleScope; 7] = [
    GoogleScope::ActivityAndFitness,
    GoogleScope::HealthMetricsAndMeasurements,
    GoogleScope::Sleep,
    GoogleScope::Profile,
    GoogleScope::Settings,
    GoogleScope::Ecg,
    GoogleScope::Irn,
];

/// An admitted call on a user's data.
struct UserCall {
    user_id: String,
    /// `me` or the caller's `healthUserId`, as the path named it.
    path_user: String,
}

/// A store error on a user who was found a moment ago (users are never deleted).
fn gone(error: ApiError) -> GoogleApiError {
    GoogleApiError::NotFound(error.to_string())
}

/// What every user data call goes through, in this order: the token (401), a refusal of the
/// whole project (403 with its ErrorInfo reason, see `/_sim/google/project-refusal`), the
/// per-user quota (429; every authenticated call counts), statistics, injected faults, the
/// path's user (403), the token's scopes (403 `ACCESS_TOKEN_SCOPE_INSUFFICIENT`).
async fn begin_user_call(
    store: &Store,
    req: &HttpRequest,
    path_user: &str,
    endpoint: GoogleEndpoint,
    needs: &[GoogleScope],
) -> Result<UserCall, GoogleApiError> {
    count_call_as(req, endpoint.label());
    let now = Utc::now();
    let caller = store.google_authenticate(bearer_token(req).unwrap_or_default(), now)?;
    let GoogleCaller::User { user_id, health_user_id, scopes } = caller else {
        return Err(GoogleApiError::PermissionDenied(
            "A project credential cannot read a user's data; use the user's access token".into(),
        ));
    };
    if let Some(refusal) = store.google_project_refusal() {
        store.google_record_call(Some(&user_id), endpoint);
        return Err(GoogleApiError::ProjectRefused(refusal));
    }
    if !store.google_admit(&user_id, now) {
        return Err(GoogleApiError::ResourceExhausted);
    }
    store.google_record_call(Some(&user_id), endpoint);
    if let Some(fault) = store.take_fault(&user_id) {
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        if let Some(status) = fault.status {
            return Err(GoogleApiError::InjectedFault(status));
        }
    }
    if path_user != "me" && path_user != health_user_id {
        return Err(GoogleApiError::PermissionDenied(format!(
            "The caller does not have permission to access users/{path_user}"
        )));
    }
    if !needs.iter().any(|scope| scopes.contains(scope)) {
        return Err(GoogleApiError::InsufficientScopes);
    }
    Ok(UserCall { user_id, path_user: path_user.to_string() })
}

/// `POST v4/users/{user}/dataTypes/{dataType}/dataPoints:dailyRollUp`.
pub(crate) async fn daily_roll_up(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, GoogleApiError> {
    let (path_user, data_type) = path.into_inner();
    let kind = RollupType::parse(&data_type);
    let endpoint = kind.map_or(GoogleEndpoint::RollupUnsupported, GoogleEndpoint::Rollup);
    let call = begin_user_call(&store, &req, &path_user, endpoint, &ACTIVITY).await?;
    let kind = kind.ok_or_else(|| {
        GoogleApiError::InvalidArgument(format!(
            "Data type {data_type} is not supported by dailyRollUp here (supported: {})",
            RollupType::ALL.map(RollupType::name).join(", ")
        ))
    })?;
    let (start, end) =
        wire::parse_rollup_range(&body, kind).map_err(GoogleApiError::InvalidArgument)?;
    let days = store.day_records(&call.user_id, start, end - TimeDelta::days(1)).map_err(gone)?;
    Ok(HttpResponse::Ok().json(wire::rollup_body(kind, &days)))
}

/// `GET v4/users/{user}/dataTypes/steps/dataPoints?filter=…&pageSize=…&pageToken=…`: the
/// steps points whose civil start time the filter admits, newest first.
pub(crate) async fn list_data_points(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, GoogleApiError> {
    let (path_user, data_type) = path.into_inner();
    let call =
        begin_user_call(&store, &req, &path_user, GoogleEndpoint::DataPoints, &ACTIVITY).await?;
    if data_type != "steps" {
        return Err(GoogleApiError::InvalidArgument(format!(
            "Listing data points of {data_type} is not simulated (only steps)"
        )));
    }
    let filter = query.get("filter").map(String::as_str).unwrap_or_default();
    let bounds =
        wire::parse_civil_filter(&data_type, filter).map_err(GoogleApiError::InvalidArgument)?;
    let page_size = match query.get("pageSize").filter(|s| !s.is_empty()) {
        None => wire::DEFAULT_PAGE_SIZE,
        Some(text) => match text.parse::<i64>() {
            // Google coerces: zero or less means the default, more than the maximum the maximum.
            Ok(size) if size <= 0 => wire::DEFAULT_PAGE_SIZE,
            Ok(size) => usize::try_from(size).unwrap_or(usize::MAX).min(wire::MAX_PAGE_SIZE),
            Err(_) => {
                return Err(GoogleApiError::InvalidArgument(format!(
                    "Invalid value for pageSize: {text}"
                )))
            }
        },
    };
    let offset = match query.get("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => wire::parse_page_token(token, filter).ok_or_else(|| {
            GoogleApiError::InvalidArgument("Invalid pageToken for this filter".into())
        })?,
    };
    let profile = store.google_profile(&call.user_id).map_err(gone)?;
    let first = bounds.from.map_or(NaiveDate::MIN, |from| from.date());
    let last = bounds.until.map_or(NaiveDate::MAX, |until| until.date());
    let days = store.day_records(&call.user_id, first, last).map_err(gone)?;
    let mut points: Vec<StepsPoint> = days
        .iter()
        .flat_map(|(date, record)| wire::day_steps_points(*date, record))
        .filter(|point| bounds.contains(point.start))
        .collect();
    points.sort_by(|a, b| b.start.cmp(&a.start).then(b.manual.cmp(&a.manual)));
    let page: Vec<serde_json::Value> = points
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|point| wire::steps_point_json(point, &profile.timezone))
        .collect();
    let mut body = json!({"dataPoints": page});
    let next = offset.saturating_add(page_size);
    if next < points.len() {
        body["nextPageToken"] = json!(wire::page_token(next, filter));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// `GET v4/users/{user}/settings`: the time zone and its current offset.
pub(crate) async fn settings(
    store: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, GoogleApiError> {
    let call =
        begin_user_call(&store, &req, &path, GoogleEndpoint::Settings, &[GoogleScope::Settings])
            .await?;
    let profile = store.google_profile(&call.user_id).map_err(gone)?;
    let offset = timezone::utc_offset(&profile.timezone, Utc::now())
        .map_or(0, |offset| offset.num_seconds());
    Ok(HttpResponse::Ok().json(json!({
        "name": format!("users/{}/settings", call.path_user),
        "timeZone": profile.timezone,
        "utcOffset": wire::duration_text(offset),
    })))
}

/// `GET v4/users/{user}/identity`: the `healthUserId` and, for a Fitbit-era user, the
/// `legacyUserId` that links them to their Fitbit history.
pub(crate) async fn identity(
    store: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, GoogleApiError> {
    let call = begin_user_call(&store, &req, &path, GoogleEndpoint::Identity, &IDENTITY).await?;
    let profile = store.google_profile(&call.user_id).map_err(gone)?;
    let mut body = json!({
        "name": format!("users/{}/identity", call.path_user),
        "healthUserId": profile.health_user_id,
    });
    if let Some(legacy) = profile.legacy_user_id {
        body["legacyUserId"] = json!(legacy);
    }
    Ok(HttpResponse::Ok().json(body))
}
