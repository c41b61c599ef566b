//! Google Health API answers and requests as plain data (pure functions): the daily rollups a
//! day is assembled from, the steps data points that show manual entries, settings, identity,
//! and errors mapped onto the provider seam.
//!
//! A day is read with one `dataPoints:dailyRollUp` per data type (a range of days per request):
//! steps (all sources, reconciled), distance, active minutes by level, time in heart-rate zones
//! (the wear-time signal: rollups leave out intervals when a wearable was not worn) and sedentary
//! time. Steps typed in by hand come only from the data-point list (`recordingMethod: MANUAL`):
//! they are subtracted from the rollup and kept apart.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use fitex_provider::{DayActivity, ProviderError, TokenProblem};
use serde::Deserialize;

use crate::civil::CivilDate;

pub const STEPS: &str = "steps";
pub const DISTANCE: &str = "distance";
pub const ACTIVE_MINUTES: &str = "active-minutes";
pub const HEART_RATE_ZONES: &str = "time-in-heart-rate-zone";
pub const SEDENTARY: &str = "sedentary-period";

/// The data types rolled up for every fetched range, in request order.
pub const ROLLUP_TYPES: [&str; 5] = [STEPS, DISTANCE, ACTIVE_MINUTES, HEART_RATE_ZONES, SEDENTARY];

/// The data types whose change notifications mean "fetch that day again".
pub const ACTIVITY_DATA_TYPES: [&str; 7] = [
    STEPS,
    DISTANCE,
    ACTIVE_MINUTES,
    HEART_RATE_ZONES,
    SEDENTARY,
    "heart-rate",
    "active-zone-minutes",
];

/// Largest page of data points the list method returns.
pub const MAX_PAGE_SIZE: u32 = 10_000;

/// Minute data: how many days of steps points one full page holds (1,440 a day).
const DAYS_PER_LIST_PAGE: usize = (MAX_PAGE_SIZE / 1_440) as usize;

/// The longest range one data-point listing covers, so that a few scattered dates do not drag
/// in the minute data of every day between them.
pub const LIST_RANGE_DAYS: i64 = DAYS_PER_LIST_PAGE as i64;

/// Longest range one `dailyRollUp` request may cover for `data_type`.
pub fn max_range_days(data_type: &str) -> i64 {
    match data_type {
        "active-minutes" | "heart-rate" | "calories-in-heart-rate-zone" | "total-calories" => 14,
        _ => 90,
    }
}

/// Closed-open ranges `[start, end)` that cover `dates` with as few requests as possible, each at
/// most `max_days` long. Dates need not be sorted or distinct; days between two wanted dates
/// cost nothing extra, so they ride along rather than split a range.
pub fn ranges(dates: &[NaiveDate], max_days: i64) -> Vec<(NaiveDate, NaiveDate)> {
    let mut sorted = dates.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut ranges: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for date in sorted {
        // The last day a date can hold (+262142-12-31) has no next day to end a range with; no
        // real day is that late, and it must not panic.
        let Some(next) = date.succ_opt() else { continue };
        match ranges.last_mut() {
            Some((start, end)) if (date - *start).num_days() < max_days => *end = next,
            _ => ranges.push((date, next)),
        }
    }
    ranges
}

/// How many requests fetching `dates` contiguous dates costs: one rollup per data type and
/// range, plus the pages of the steps data-point list.
pub fn request_cost(dates: usize) -> u32 {
    if dates == 0 {
        return 0;
    }
    let rollups: usize =
        ROLLUP_TYPES.iter().map(|t| dates.div_ceil(max_range_days(t) as usize)).sum();
    (rollups + dates.div_ceil(DAYS_PER_LIST_PAGE)) as u32
}

fn civil_date(date: NaiveDate) -> serde_json::Value {
    use chrono::Datelike;
    serde_json::json!({"date": {"year": date.year(), "month": date.month(), "day": date.day()}})
}

/// The `dataPoints:dailyRollUp` body for the civil days `[start, end)`, one window per day.
pub fn daily_rollup_request(start: NaiveDate, end: NaiveDate) -> serde_json::Value {
    serde_json::json!({
        "range": {"start": civil_date(start), "end": civil_date(end)},
        "windowSizeDays": 1,
    })
}

/// The `filter` of a steps data-point list for the civil days `[start, end)`.
pub fn steps_filter(start: NaiveDate, end: NaiveDate) -> String {
    format!(
        "steps.interval.civil_start_time >= \"{}\" AND steps.interval.civil_start_time < \"{}\"",
        start.format("%Y-%m-%d"),
        end.format("%Y-%m-%d")
    )
}

/// What the rollups said about one day, merged across data types.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayTotals {
    pub steps: Option<i64>,
    pub distance_mm: Option<i64>,
    pub light_minutes: i64,
    pub moderate_minutes: i64,
    pub vigorous_minutes: i64,
    /// Seconds in any heart-rate zone; `None` when the day had no heart-rate signal.
    pub heart_zone_seconds: Option<i64>,
    pub sedentary_seconds: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RollupResponse {
    #[serde(default)]
    rollup_data_points: Vec<RollupPoint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RollupPoint {
    civil_start_time: CivilDateTime,
    steps: Option<CountSum>,
    distance: Option<MillimetersSum>,
    active_minutes: Option<ActiveMinutesRollup>,
    time_in_heart_rate_zone: Option<HeartZonesRollup>,
    sedentary_period: Option<DurationSum>,
}

#[derive(Deserialize)]
struct CivilDateTime {
    date: CivilDate,
}

fn calendar_date(civil: CivilDate) -> Result<NaiveDate, ProviderError> {
    civil.to_date().ok_or_else(|| unreadable("civil date", civil))
}

/// int64 values arrive as JSON strings (and are tolerated as numbers).
#[derive(Deserialize)]
#[serde(untagged)]
enum Int64 {
    Text(String),
    Number(i64),
}

impl Int64 {
    fn value(&self) -> Result<i64, ProviderError> {
        match self {
            Int64::Number(n) => Ok(*n),
            Int64::Text(text) => text.parse().map_err(|_| unreadable("int64", text)),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountSum {
    count_sum: Option<Int64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MillimetersSum {
    millimeters_sum: Option<Int64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActiveMinutesRollup {
    #[serde(default)]
    active_minutes_rollup_by_activity_level: Vec<ActiveMinutesLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActiveMinutesLevel {
    #[serde(default)]
    activity_level: String,
    active_minutes_sum: Option<Int64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeartZonesRollup {
    #[serde(default)]
    time_in_heart_rate_zones: Vec<HeartZone>,
}

#[derive(Deserialize)]
struct HeartZone {
    duration: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DurationSum {
    duration_sum: Option<String>,
}

fn unreadable(what: &str, detail: impl std::fmt::Display) -> ProviderError {
    ProviderError::Permanent(format!("unreadable {what}: {detail}"))
}

/// A `google-duration` ("3600s", "1.5s") in whole seconds.
pub fn parse_duration_seconds(text: &str) -> Result<i64, ProviderError> {
    let number = text.strip_suffix('s').ok_or_else(|| unreadable("duration", text))?;
    let seconds: f64 = number.parse().map_err(|_| unreadable("duration", text))?;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(unreadable("duration", text));
    }
    Ok(seconds.floor() as i64)
}

/// Merges one `dailyRollUp` answer (of any of [`ROLLUP_TYPES`]) into `totals`.
pub fn merge_daily_rollup(
    body: &[u8],
    totals: &mut BTreeMap<NaiveDate, DayTotals>,
) -> Result<(), ProviderError> {
    let parsed: RollupResponse =
        serde_json::from_slice(body).map_err(|e| unreadable("daily rollup", e))?;
    for point in parsed.rollup_data_points {
        let day = totals.entry(calendar_date(point.civil_start_time.date)?).or_default();
        if let Some(steps) = point.steps.and_then(|s| s.count_sum) {
            day.steps = Some(steps.value()?.max(0));
        }
        if let Some(mm) = point.distance.and_then(|d| d.millimeters_sum) {
            day.distance_mm = Some(mm.value()?.max(0));
        }
        if let Some(active) = point.active_minutes {
            for level in active.active_minutes_rollup_by_activity_level {
                let minutes = level.active_minutes_sum.map(|m| m.value()).transpose()?;
                let minutes = minutes.unwrap_or(0).max(0);
                match level.activity_level.as_str() {
                    "LIGHT" => day.light_minutes = minutes,
                    "MODERATE" => day.moderate_minutes = minutes,
                    "VIGOROUS" => day.vigorous_minutes = minutes,
                    _ => {}
                }
            }
        }
        if let Some(zones) = point.time_in_heart_rate_zone {
            let mut seconds: i64 = 0;
            for zone in zones.time_in_heart_rate_zones {
                if let Some(duration) = zone.duration {
                    // Saturating: absurd durations must not overflow (a panic, or in release a
                    // negative wear time).
                    seconds = seconds.saturating_add(parse_duration_seconds(&duration)?);
                }
            }
            day.heart_zone_seconds = Some(seconds);
        }
        if let Some(duration) = point.sedentary_period.and_then(|s| s.duration_sum) {
            day.sedentary_seconds = parse_duration_seconds(&duration)?;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataPointsPage {
    #[serde(default)]
    data_points: Vec<DataPoint>,
    #[serde(default)]
    next_page_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataPoint {
    steps: Option<StepsPoint>,
    data_source: Option<DataSource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StepsPoint {
    count: Int64,
    interval: PointInterval,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PointInterval {
    civil_start_time: CivilDateTime,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataSource {
    #[serde(default)]
    recording_method: String,
}

/// Adds the hand-entered steps of one data-point page to `manual` (per civil date) and returns
/// the next page's token, if any.
pub fn merge_manual_steps(
    body: &[u8],
    manual: &mut BTreeMap<NaiveDate, i64>,
) -> Result<Option<String>, ProviderError> {
    let page: DataPointsPage =
        serde_json::from_slice(body).map_err(|e| unreadable("steps data points", e))?;
    for point in page.data_points {
        let is_manual = point.data_source.is_some_and(|s| s.recording_method == "MANUAL");
        let Some(steps) = point.steps.filter(|_| is_manual) else { continue };
        let date = calendar_date(steps.interval.civil_start_time.date)?;
        let count = steps.count.value()?.max(0);
        let total = manual.entry(date).or_default();
        // Saturating: absurd counts must not overflow (a panic, or in release a negative count).
        *total = total.saturating_add(count);
    }
    Ok(Some(page.next_page_token).filter(|t| !t.is_empty()))
}

fn clamp(value: i64) -> i32 {
    value.clamp(0, i32::MAX as i64) as i32
}

/// One [`DayActivity`] for every wanted date. A date the steps rollup has no point for is a day
/// the provider holds no data for — the device was not worn, or has not synced (Google's
/// data-presence rule: a genuine zero arrives as an explicit `0` point) — and becomes
/// [`DayActivity::no_data`], not a day of zero steps. Manual steps are taken out of the
/// (all-sources) rollup and reported apart.
pub fn assemble_days(
    dates: &[NaiveDate],
    totals: &BTreeMap<NaiveDate, DayTotals>,
    manual: &BTreeMap<NaiveDate, i64>,
) -> Vec<DayActivity> {
    let mut wanted = dates.to_vec();
    wanted.sort();
    wanted.dedup();
    wanted
        .into_iter()
        .map(|date| {
            let Some(day) = totals.get(&date).filter(|day| day.steps.is_some()) else {
                return DayActivity::no_data(date);
            };
            let manual_steps = manual.get(&date).copied().unwrap_or(0);
            DayActivity {
                date,
                steps: clamp(day.steps.unwrap_or(0).saturating_sub(manual_steps)),
                distance_km: day.distance_mm.unwrap_or(0) as f64 / 1_000_000.0,
                sedentary_minutes: clamp(day.sedentary_seconds / 60),
                lightly_active_minutes: clamp(day.light_minutes),
                fairly_active_minutes: clamp(day.moderate_minutes),
                very_active_minutes: clamp(day.vigorous_minutes),
                worn_minutes: day.heart_zone_seconds.map(|s| clamp(s / 60)),
                manual_steps: Some(clamp(manual_steps)),
                no_data: false,
            }
        })
        .collect()
}

/// `GET v4/users/me/settings` → the IANA time zone.
pub fn parse_time_zone(body: &[u8]) -> Result<String, ProviderError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Settings {
        #[serde(default)]
        time_zone: String,
    }
    let settings: Settings = serde_json::from_slice(body).map_err(|e| unreadable("settings", e))?;
    if settings.time_zone.is_empty() {
        return Err(unreadable("settings", "no timeZone"));
    }
    Ok(settings.time_zone)
}

/// `GET v4/users/me/identity`: the Google Health user id and, for a former Fitbit Web API user,
/// their legacy Fitbit user id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub health_user_id: String,
    #[serde(default)]
    pub legacy_user_id: Option<String>,
}

pub fn parse_identity(body: &[u8]) -> Result<Identity, ProviderError> {
    let mut identity: Identity =
        serde_json::from_slice(body).map_err(|e| unreadable("identity", e))?;
    if identity.health_user_id.is_empty() {
        return Err(unreadable("identity", "no healthUserId"));
    }
    identity.legacy_user_id = identity.legacy_user_id.filter(|id| !id.is_empty());
    Ok(identity)
}

/// Google's error body (the standard error model, AIP-193):
/// `{"error":{"code":403,"message":"…","status":"PERMISSION_DENIED","details":[{"@type":
/// "type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","domain":
/// "googleapis.com","metadata":{…}}]}}`. Older Google APIs also (or only) list
/// `"errors":[{"reason":"accessNotConfigured",…}]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiErrorBody {
    pub status: String,
    pub message: String,
    /// The `google.rpc.ErrorInfo` reason (`ACCESS_TOKEN_SCOPE_INSUFFICIENT`, `SERVICE_DISABLED`,
    /// …), else the first legacy `errors[].reason`; empty when the body names none.
    pub reason: String,
    /// The ErrorInfo's `metadata.quota_limit` (e.g. `…PerMinutePerUser`), when it has one.
    pub quota_limit: String,
}

pub fn parse_error_body(body: &[u8]) -> ApiErrorBody {
    #[derive(Deserialize)]
    struct Outer {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        status: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        details: Vec<serde_json::Value>,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";
    let text = |value: &serde_json::Value, key: &str| {
        value.get(key).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned()
    };
    match serde_json::from_slice::<Outer>(body) {
        Ok(Outer { error }) => {
            let info = error.details.iter().find(|detail| {
                detail.get("@type").and_then(serde_json::Value::as_str) == Some(ERROR_INFO)
                    && !text(detail, "reason").is_empty()
            });
            let (reason, quota_limit) = match info {
                Some(info) => (
                    text(info, "reason"),
                    info.get("metadata").map(|m| text(m, "quota_limit")).unwrap_or_default(),
                ),
                None => (
                    error
                        .errors
                        .iter()
                        .map(|e| text(e, "reason"))
                        .find(|r| !r.is_empty())
                        .unwrap_or_default(),
                    String::new(),
                ),
            };
            ApiErrorBody { status: error.status, message: error.message, reason, quota_limit }
        }
        Err(_) => ApiErrorBody {
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            ..ApiErrorBody::default()
        },
    }
}

/// How long to wait after a 429 that names no `Retry-After`: the per-user quota is per minute.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// What a 403 is about, from its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forbidden {
    /// The participant's consent lacks the data's scope: only they can fix it, by reconnecting.
    MissingScope,
    /// A per-user rate limit answered as 403 (older APIs' `userRateLimitExceeded`).
    UserRateLimited,
    /// Anything about our project (API disabled, billing, project-wide quota, a policy) or a
    /// reason we do not recognise: one of [`PROJECT_REFUSAL_REASONS`], or `OTHER`.
    Project(&'static str),
}

/// The project-level reasons told apart (metric labels); anything else is `OTHER`.
pub const PROJECT_REFUSAL_REASONS: [&str; 11] = [
    "SERVICE_DISABLED",
    "BILLING_DISABLED",
    "RATE_LIMIT_EXCEEDED",
    "RESOURCE_QUOTA_EXCEEDED",
    "CONSUMER_SUSPENDED",
    "CONSUMER_INVALID",
    "USER_PROJECT_DENIED",
    "SECURITY_POLICY_VIOLATED",
    "API_KEY_SERVICE_BLOCKED",
    "ACCOUNT_STATE_INVALID",
    "OTHER",
];

/// Reads a 403's reason. Only a scope problem (`ACCESS_TOKEN_SCOPE_INSUFFICIENT`; without an
/// ErrorInfo, the legacy `insufficientPermissions` or Google's "insufficient authentication
/// scopes" message) is the participant's; a 403 for the project — `SERVICE_DISABLED`,
/// `BILLING_DISABLED`, `RATE_LIMIT_EXCEEDED` / `RESOURCE_QUOTA_EXCEEDED` for the project, … — or
/// one whose reason we do not know is the operator's, and must not touch any connection.
pub fn classify_forbidden(error: &ApiErrorBody) -> Forbidden {
    let per_user = error.quota_limit.to_ascii_lowercase().contains("peruser");
    match error.reason.as_str() {
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT" | "insufficientPermissions" => Forbidden::MissingScope,
        "RATE_LIMIT_EXCEEDED" if per_user => Forbidden::UserRateLimited,
        "userRateLimitExceeded" => Forbidden::UserRateLimited,
        "accessNotConfigured" => Forbidden::Project("SERVICE_DISABLED"),
        "rateLimitExceeded" | "dailyLimitExceeded" | "quotaExceeded" => {
            Forbidden::Project("RATE_LIMIT_EXCEEDED")
        }
        "" if error.message.to_ascii_lowercase().contains("insufficient authentication scopes") => {
            Forbidden::MissingScope
        }
        reason => Forbidden::Project(
            PROJECT_REFUSAL_REASONS.into_iter().find(|known| *known == reason).unwrap_or("OTHER"),
        ),
    }
}

/// Maps a non-2xx API answer onto the seam's errors.
pub fn classify_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> ProviderError {
    let error = parse_error_body(body);
    let mut message = format!("HTTP {status}");
    for part in [&error.status, &error.reason] {
        if !part.is_empty() {
            message = format!("{message} {part}");
        }
    }
    let message = format!("{message}: {}", error.message);
    match status {
        401 => {
            let problem = if error.reason == "ACCESS_TOKEN_EXPIRED"
                || error.message.to_ascii_lowercase().contains("expired")
            {
                TokenProblem::Expired
            } else {
                TokenProblem::Invalid
            };
            ProviderError::Unauthorized { problem, message }
        }
        403 => match classify_forbidden(&error) {
            Forbidden::MissingScope => {
                ProviderError::Unauthorized { problem: TokenProblem::MissingScope, message }
            }
            Forbidden::UserRateLimited => ProviderError::RateLimited {
                retry_after: retry_after.unwrap_or(DEFAULT_RATE_LIMIT_WAIT),
            },
            Forbidden::Project(reason) => {
                ProviderError::ProjectRefused { reason: reason.to_owned(), message }
            }
        },
        429 => ProviderError::RateLimited {
            retry_after: retry_after.unwrap_or(DEFAULT_RATE_LIMIT_WAIT),
        },
        408 | 500..=599 => ProviderError::Transient(message),
        _ => ProviderError::Permanent(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_cover_dates_within_the_type_limit() {
        let dates = [d("2026-03-03"), d("2026-03-01"), d("2026-03-01"), d("2026-03-20")];
        assert_eq!(ranges(&dates, 90), vec![(d("2026-03-01"), d("2026-03-21"))]);
        assert_eq!(
            ranges(&dates, 14),
            vec![(d("2026-03-01"), d("2026-03-04")), (d("2026-03-20"), d("2026-03-21"))]
        );
        // 91 consecutive days need two steps rollups; each range stays within 90 days.
        let long: Vec<_> = d("2026-01-01").iter_days().take(91).collect();
        let split = ranges(&long, 90);
        assert_eq!(split.len(), 2);
        assert!(split.iter().all(|(s, e)| (*e - *s).num_days() <= 90));
        assert_eq!(split[1], (d("2026-04-01"), d("2026-04-02")));
        assert!(ranges(&[], 90).is_empty());
    }

    #[test]
    fn the_cost_counts_every_rollup_and_list_page() {
        assert_eq!(request_cost(0), 0);
        assert_eq!(request_cost(1), 6);
        // 28 days: 4 rollups of 90-day types, 2 of active minutes, 5 list pages.
        assert_eq!(request_cost(28), 4 + 2 + 5);
    }

    #[test]
    fn the_rollup_request_is_the_documented_shape() {
        assert_eq!(
            daily_rollup_request(d("2026-03-01"), d("2026-03-08")),
            serde_json::json!({"range":{"start":{"date":{"year":2026,"month":3,"day":1}},
                "end":{"date":{"year":2026,"month":3,"day":8}}},"windowSizeDays":1})
        );
        assert_eq!(
            steps_filter(d("2026-03-07"), d("2026-03-08")),
            r#"steps.interval.civil_start_time >= "2026-03-07" AND steps.interval.civil_start_time < "2026-03-08""#
        );
    }

    fn point(day: u32, value: serde_json::Value) -> serde_json::Value {
        let mut p = serde_json::json!({
            "civilStartTime":{"date":{"year":2026,"month":3,"day":day}},
            "civilEndTime":{"date":{"year":2026,"month":3,"day":day + 1}}});
        p.as_object_mut().unwrap().extend(value.as_object().unwrap().clone());
        p
    }

    fn merged(bodies: &[serde_json::Value]) -> BTreeMap<NaiveDate, DayTotals> {
        let mut totals = BTreeMap::new();
        for b in bodies {
            merge_daily_rollup(b.to_string().as_bytes(), &mut totals).unwrap();
        }
        totals
    }

    #[test]
    fn rollups_of_each_type_merge_into_days() {
        let totals = merged(&[
            serde_json::json!({"rollupDataPoints":[
                point(7, serde_json::json!({"steps":{"countSum":"10234"}})),
                point(8, serde_json::json!({"steps":{"countSum":512}}))]}),
            serde_json::json!({"rollupDataPoints":[
                point(7, serde_json::json!({"distance":{"millimetersSum":"7500000"}}))]}),
            serde_json::json!({"rollupDataPoints":[point(7, serde_json::json!({"activeMinutes":
                {"activeMinutesRollupByActivityLevel":[
                    {"activityLevel":"LIGHT","activeMinutesSum":"200"},
                    {"activityLevel":"MODERATE","activeMinutesSum":"25"},
                    {"activityLevel":"VIGOROUS","activeMinutesSum":"12"}]}}))]}),
            serde_json::json!({"rollupDataPoints":[point(7, serde_json::json!({"timeInHeartRateZone":
                {"timeInHeartRateZones":[{"heartRateZone":"LIGHT","duration":"36000s"},
                                         {"heartRateZone":"PEAK","duration":"630.5s"}]}}))]}),
            serde_json::json!({"rollupDataPoints":[point(7, serde_json::json!({"sedentaryPeriod":
                {"durationSum":"28800s"}}))]}),
        ]);
        let days = assemble_days(&[d("2026-03-07"), d("2026-03-08")], &totals, &BTreeMap::new());
        assert_eq!(
            days[0],
            DayActivity {
                date: d("2026-03-07"),
                steps: 10234,
                distance_km: 7.5,
                sedentary_minutes: 480,
                lightly_active_minutes: 200,
                fairly_active_minutes: 25,
                very_active_minutes: 12,
                worn_minutes: Some(610),
                manual_steps: Some(0),
                no_data: false,
            }
        );
        assert_eq!(days[1].steps, 512);
        assert_eq!(days[1].worn_minutes, None, "no heart-rate signal that day");
    }

    #[test]
    fn a_wanted_day_without_a_steps_point_is_no_data_and_an_explicit_zero_is_data() {
        // Google's data-presence rule: a genuine zero is an explicit 0 point; a gap is a day the
        // device was not worn or has not synced.
        let totals = merged(&[
            serde_json::json!({"rollupDataPoints":[
                point(7, serde_json::json!({"steps":{"countSum":"0"}}))]}),
            // Sedentary time alone does not make a day of data: the steps rollup has no point.
            serde_json::json!({"rollupDataPoints":[
                point(8, serde_json::json!({"sedentaryPeriod":{"durationSum":"3600s"}}))]}),
        ]);
        let days = assemble_days(
            &[d("2026-03-09"), d("2026-03-07"), d("2026-03-08")],
            &totals,
            &BTreeMap::new(),
        );
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].date, d("2026-03-07"));
        assert!(!days[0].no_data, "an explicit zero is a day of zero steps");
        assert_eq!((days[0].steps, days[0].manual_steps), (0, Some(0)));
        assert_eq!(days[1], DayActivity::no_data(d("2026-03-08")));
        assert_eq!(days[2], DayActivity::no_data(d("2026-03-09")));
        assert!(days[2].no_data && days[2].steps == 0 && days[2].worn_minutes.is_none());
    }

    #[test]
    fn manual_steps_are_kept_apart() {
        let page = serde_json::json!({"dataPoints":[
            {"steps":{"count":"3000","interval":{"civilStartTime":{"date":{"year":2026,"month":3,"day":7},"time":{"hours":12}}}},
             "dataSource":{"platform":"FITBIT","recordingMethod":"MANUAL"}},
            {"steps":{"count":"57","interval":{"civilStartTime":{"date":{"year":2026,"month":3,"day":7}}}},
             "dataSource":{"platform":"FITBIT","recordingMethod":"PASSIVELY_MEASURED"}},
            {"steps":{"count":"100","interval":{"civilStartTime":{"date":{"year":2026,"month":3,"day":7}}}},
             "dataSource":{"recordingMethod":"MANUAL"}}],
            "nextPageToken":"p2"});
        let mut manual = BTreeMap::new();
        let next = merge_manual_steps(page.to_string().as_bytes(), &mut manual).unwrap();
        assert_eq!(next.as_deref(), Some("p2"));
        assert_eq!(manual.get(&d("2026-03-07")), Some(&3100));
        let last = merge_manual_steps(br#"{"dataPoints":[]}"#, &mut manual).unwrap();
        assert_eq!(last, None);

        let totals = merged(&[serde_json::json!({"rollupDataPoints":[
            point(7, serde_json::json!({"steps":{"countSum":"9100"}}))]})]);
        let day = &assemble_days(&[d("2026-03-07")], &totals, &manual)[0];
        assert_eq!((day.steps, day.manual_steps), (6000, Some(3100)));
        // Reconciliation may have dropped overlapping manual steps: never below zero.
        let mut more = BTreeMap::new();
        more.insert(d("2026-03-07"), 20_000);
        assert_eq!(assemble_days(&[d("2026-03-07")], &totals, &more)[0].steps, 0);
    }

    #[test]
    fn absurd_answers_saturate_instead_of_overflowing() {
        // Inputs the google_api fuzz target's invariants reject (docs/fuzzing.md): each panicked
        // with "attempt to add with overflow" (or, in a release build, wrapped to negative).
        let mut totals = BTreeMap::new();
        let zones = br#"{"rollupDataPoints":[{"civilStartTime":{"date":{"year":2026,"month":3,"day":7}},"timeInHeartRateZone":{"timeInHeartRateZones":[{"duration":"9e18s"},{"duration":"9e18s"}]}}]}"#;
        merge_daily_rollup(zones, &mut totals).unwrap();
        let steps = br#"{"rollupDataPoints":[{"civilStartTime":{"date":{"year":2026,"month":3,"day":7}},"steps":{"countSum":"5"}}]}"#;
        merge_daily_rollup(steps, &mut totals).unwrap();
        assert_eq!(totals[&d("2026-03-07")].heart_zone_seconds, Some(i64::MAX));
        let mut manual = BTreeMap::new();
        let point = r#"{"steps":{"count":"9000000000000000000","interval":{"civilStartTime":{"date":{"year":2026,"month":3,"day":7}}}},"dataSource":{"recordingMethod":"MANUAL"}}"#;
        let page = format!(r#"{{"dataPoints":[{point},{point}]}}"#);
        merge_manual_steps(page.as_bytes(), &mut manual).unwrap();
        assert_eq!(manual[&d("2026-03-07")], i64::MAX);
        let day = &assemble_days(&[d("2026-03-07")], &totals, &manual)[0];
        assert_eq!(
            (day.steps, day.manual_steps, day.worn_minutes),
            (0, Some(i32::MAX), Some(i32::MAX))
        );
    }

    #[test]
    fn the_last_representable_day_does_not_panic_ranges() {
        // `NaiveDate + TimeDelta` overflowed for the day after +262142-12-31.
        let dates = [d("2026-03-07"), NaiveDate::MAX];
        assert_eq!(ranges(&dates, 90), vec![(d("2026-03-07"), d("2026-03-08"))]);
        assert!(ranges(&[NaiveDate::MAX], 14).is_empty());
    }

    #[test]
    fn unreadable_answers_are_permanent_errors() {
        let mut totals = BTreeMap::new();
        for body in [
            &b"nope"[..],
            br#"{"rollupDataPoints":[{"civilStartTime":{"date":{"year":2026,"month":2,"day":30}}}]}"#,
            br#"{"rollupDataPoints":[{"civilStartTime":{"date":{"year":2026,"month":2,"day":3}},"steps":{"countSum":"many"}}]}"#,
            br#"{"rollupDataPoints":[{"civilStartTime":{"date":{"year":2026,"month":2,"day":3}},"sedentaryPeriod":{"durationSum":"5m"}}]}"#,
        ] {
            assert!(
                matches!(merge_daily_rollup(body, &mut totals), Err(ProviderError::Permanent(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(parse_duration_seconds("0s").unwrap(), 0);
        assert!(parse_duration_seconds("-1s").is_err());
    }

    #[test]
    fn settings_and_identity() {
        assert_eq!(
            parse_time_zone(br#"{"name":"users/me/settings","timeZone":"America/Chicago","utcOffset":"-21600s"}"#)
                .unwrap(),
            "America/Chicago"
        );
        assert!(parse_time_zone(br#"{"name":"users/me/settings"}"#).is_err());
        let id = parse_identity(
            br#"{"name":"users/me/identity","healthUserId":"h-1","legacyUserId":"ABC123"}"#,
        )
        .unwrap();
        assert_eq!(id.legacy_user_id.as_deref(), Some("ABC123"));
        let new = parse_identity(br#"{"healthUserId":"h-2","legacyUserId":""}"#).unwrap();
        assert_eq!(new.legacy_user_id, None);
        assert!(parse_identity(br#"{"legacyUserId":"x"}"#).is_err());
    }

    /// A 403 in Google's standard error model, with one `google.rpc.ErrorInfo`.
    fn forbidden(reason: &str, message: &str, metadata: serde_json::Value) -> Vec<u8> {
        serde_json::json!({"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                "domain": "googleapis.com", "metadata": metadata}]}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_403_is_read_by_its_reason() {
        let project = serde_json::json!({"consumer": "projects/123456",
            "service": "health.googleapis.com"});
        let scope = forbidden(
            "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "Request had insufficient authentication scopes.",
            serde_json::json!({"service": "health.googleapis.com"}),
        );
        assert!(matches!(
            classify_error(403, &scope, None),
            ProviderError::Unauthorized { problem: TokenProblem::MissingScope, .. }
        ));
        let disabled = forbidden(
            "SERVICE_DISABLED",
            "Google Health API has not been used in project 123456 before or it is disabled.",
            project.clone(),
        );
        let ProviderError::ProjectRefused { reason, message } =
            classify_error(403, &disabled, None)
        else {
            panic!("a disabled API is the project's problem")
        };
        assert_eq!(reason, "SERVICE_DISABLED");
        assert!(message.contains("SERVICE_DISABLED") && message.contains("project 123456"));
        let mut quota = project.clone();
        quota["quota_limit"] = "DefaultRequestsPerMinutePerProject".into();
        for (reason, metadata) in [
            ("RATE_LIMIT_EXCEEDED", quota),
            ("RESOURCE_QUOTA_EXCEEDED", project.clone()),
            ("BILLING_DISABLED", project.clone()),
            ("CONSUMER_SUSPENDED", project.clone()),
        ] {
            assert_eq!(
                classify_error(403, &forbidden(reason, "refused", metadata), None),
                ProviderError::ProjectRefused {
                    reason: reason.into(),
                    message: format!("HTTP 403 PERMISSION_DENIED {reason}: refused")
                }
            );
        }
        // A per-user quota, answered as 403, waits like a 429.
        let mut per_user = project.clone();
        per_user["quota_limit"] = "ReadRequestsPerMinutePerUser".into();
        assert_eq!(
            classify_error(403, &forbidden("RATE_LIMIT_EXCEEDED", "slow down", per_user), None),
            ProviderError::RateLimited { retry_after: DEFAULT_RATE_LIMIT_WAIT }
        );
        // The legacy `errors[].reason` of older Google APIs.
        let legacy = |reason: &str| {
            serde_json::json!({"error": {"code": 403, "message": "legacy",
                "errors": [{"message": "legacy", "domain": "usageLimits", "reason": reason}],
                "status": "PERMISSION_DENIED"}})
            .to_string()
        };
        assert!(matches!(
            classify_error(403, legacy("accessNotConfigured").as_bytes(), None),
            ProviderError::ProjectRefused { reason, .. } if reason == "SERVICE_DISABLED"
        ));
        assert!(matches!(
            classify_error(403, legacy("dailyLimitExceeded").as_bytes(), None),
            ProviderError::ProjectRefused { reason, .. } if reason == "RATE_LIMIT_EXCEEDED"
        ));
        assert!(matches!(
            classify_error(403, legacy("insufficientPermissions").as_bytes(), None),
            ProviderError::Unauthorized { problem: TokenProblem::MissingScope, .. }
        ));
        // Without any reason: only Google's scope message is the participant's; anything else,
        // unknown reasons included, is for an operator and leaves the participant alone.
        let bare = |message: &str| {
            serde_json::json!({"error": {"code": 403, "message": message,
                "status": "PERMISSION_DENIED"}})
            .to_string()
        };
        assert!(matches!(
            classify_error(
                403,
                bare("Request had insufficient authentication scopes.").as_bytes(),
                None
            ),
            ProviderError::Unauthorized { problem: TokenProblem::MissingScope, .. }
        ));
        for body in [
            bare("The caller does not have permission").into_bytes(),
            forbidden("SOMETHING_NEW", "new", project).to_vec(),
            b"<html>403 Forbidden</html>".to_vec(),
        ] {
            assert!(matches!(
                classify_error(403, &body, None),
                ProviderError::ProjectRefused { reason, .. } if reason == "OTHER"
            ));
        }
    }

    #[test]
    fn errors_map_onto_the_seam() {
        let body = |status: &str, message: &str| {
            serde_json::json!({"error":{"code":0,"message":message,"status":status}}).to_string()
        };
        assert!(matches!(
            classify_error(
                401,
                body("UNAUTHENTICATED", "Request had invalid authentication credentials.")
                    .as_bytes(),
                None
            ),
            ProviderError::Unauthorized { problem: TokenProblem::Invalid, .. }
        ));
        assert!(matches!(
            classify_error(401, body("UNAUTHENTICATED", "Token expired").as_bytes(), None),
            ProviderError::Unauthorized { problem: TokenProblem::Expired, .. }
        ));

        assert_eq!(
            classify_error(429, body("RESOURCE_EXHAUSTED", "quota").as_bytes(), None),
            ProviderError::RateLimited { retry_after: DEFAULT_RATE_LIMIT_WAIT }
        );
        assert_eq!(
            classify_error(429, b"", Some(Duration::from_secs(7))),
            ProviderError::RateLimited { retry_after: Duration::from_secs(7) }
        );
        assert!(matches!(classify_error(503, b"<html>", None), ProviderError::Transient(_)));
        let ProviderError::Permanent(message) =
            classify_error(400, body("INVALID_ARGUMENT", "range too long").as_bytes(), None)
        else {
            panic!("400 is permanent")
        };
        assert!(message.contains("INVALID_ARGUMENT") && message.contains("range too long"));
    }
}
