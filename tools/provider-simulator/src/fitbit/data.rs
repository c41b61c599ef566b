//! Fitbit's data endpoints FitEx reads: a day's activity summary, the activity and heart-rate
//! time series by date range, a day's intraday heart rate, and the profile (time zone).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::fitbit::call::answer_call;
use crate::scope::Scope;
use crate::state::{EndpointKind, Store};
use crate::{timezone, wire};

type Data = web::Data<Store>;

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

/// Answers a data call: 200 with the body `answer` makes for the caller's user id, or its error.
async fn serve(
    store: &Store,
    req: &HttpRequest,
    path_user: &str,
    kind: EndpointKind,
    needs: Scope,
    answer: impl FnOnce(&str) -> Result<Value, ApiError>,
) -> HttpResponse {
    answer_call(store, req, path_user, kind, Some(needs), |call| {
        call.reply(StatusCode::OK, answer(&call.caller.user_id))
    })
    .await
}

pub(super) async fn activities_day(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (path_user, date) = path.into_inner();
    serve(&store, &req, &path_user, EndpointKind::ActivitiesDay, Scope::Activity, |user_id| {
        let day = parse_date(&store, user_id, &date).and_then(|d| store.day(user_id, d))?;
        Ok(wire::activities_day_body(day.as_ref()))
    })
    .await
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
pub(super) async fn activity_series(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
) -> HttpResponse {
    let (path_user, resource, date, end) = path.into_inner();
    let kind =
        if resource == "steps" { EndpointKind::StepsRange } else { EndpointKind::ActivityRange };
    serve(&store, &req, &path_user, kind, Scope::Activity, |user_id| {
        let (first, last) = parse_range(&store, user_id, &date, end, wire::MAX_RANGE_DAYS)?;
        let days = store.days(user_id, first, last)?;
        let value_on = |d| wire::resource_value(&resource, days.get(&d)).unwrap_or_default();
        Ok(wire::series_body(&resource, first, last, value_on))
    })
    .await
}

/// `GET /1/user/{id}/activities/heart/date/{date}/{end}.json`: zones per date, a year at most.
pub(super) async fn heart_series(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (path_user, date, end) = path.into_inner();
    serve(&store, &req, &path_user, EndpointKind::HeartRange, Scope::Heartrate, |user_id| {
        let (first, last) = parse_range(&store, user_id, &date, end, wire::MAX_HEART_RANGE_DAYS)?;
        let days = store.days(user_id, first, last)?;
        Ok(wire::heart_range_body(first, last, |d| days.get(&d)))
    })
    .await
}

pub(super) async fn heart_intraday(
    store: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (path_user, date) = path.into_inner();
    serve(&store, &req, &path_user, EndpointKind::HeartIntraday, Scope::Heartrate, |user_id| {
        let date = parse_date(&store, user_id, &date)?;
        let day = store.day(user_id, date)?;
        Ok(wire::heart_intraday_body(date, day.as_ref()))
    })
    .await
}

pub(super) async fn profile(
    store: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    serve(&store, &req, &path, EndpointKind::Profile, Scope::Profile, |user_id| {
        let zone = store.timezone(user_id)?;
        let offset_millis =
            timezone::utc_offset(&zone, Utc::now()).map_or(0, |offset| offset.num_milliseconds());
        Ok(json!({"user": {
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
        }}))
    })
    .await
}
