//! Google Health API bodies as pure functions of the data: civil dates and times, daily
//! rollups, the steps data points with their filter and page tokens, and the change
//! notification. int64 values are JSON strings and durations `"<seconds>s"`, as in Google's JSON.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::model::DayRecord;
use crate::{timezone, wire as fitbit_wire};

/// The longest daily rollup range for most data types.
pub const MAX_ROLLUP_DAYS: i64 = 90;
/// The longest range for `active-minutes` (and `heart-rate`, `total-calories`,
/// `calories-in-heart-rate-zone`, which the simulator does not serve).
pub const MAX_SHORT_ROLLUP_DAYS: i64 = 14;
/// `dataPoints.list` page sizes: the default, and the most Google returns whatever is asked.
pub const DEFAULT_PAGE_SIZE: usize = 1_440;
pub const MAX_PAGE_SIZE: usize = 10_000;

/// The data types the simulator rolls up by day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupType {
    Steps,
    Distance,
    ActiveMinutes,
    TimeInHeartRateZone,
    SedentaryPeriod,
}

impl RollupType {
    pub const ALL: [RollupType; 5] = [
        RollupType::Steps,
        RollupType::Distance,
        RollupType::ActiveMinutes,
        RollupType::TimeInHeartRateZone,
        RollupType::SedentaryPeriod,
    ];

    /// From the kebab-case id in `users/{user}/dataTypes/{data_type}`.
    pub fn parse(name: &str) -> Option<RollupType> {
        RollupType::ALL.into_iter().find(|kind| kind.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            RollupType::Steps => "steps",
            RollupType::Distance => "distance",
            RollupType::ActiveMinutes => "active-minutes",
            RollupType::TimeInHeartRateZone => "time-in-heart-rate-zone",
            RollupType::SedentaryPeriod => "sedentary-period",
        }
    }

    pub fn max_range_days(self) -> i64 {
        match self {
            RollupType::ActiveMinutes => MAX_SHORT_ROLLUP_DAYS,
            _ => MAX_ROLLUP_DAYS,
        }
    }

    pub fn stats_label(self) -> &'static str {
        match self {
            RollupType::Steps => "google_rollup_steps",
            RollupType::Distance => "google_rollup_distance",
            RollupType::ActiveMinutes => "google_rollup_active_minutes",
            RollupType::TimeInHeartRateZone => "google_rollup_time_in_heart_rate_zone",
            RollupType::SedentaryPeriod => "google_rollup_sedentary_period",
        }
    }

    /// The rollup value of one day (its field name and JSON), or None when the day has nothing
    /// of this type (time in heart-rate zones of a day the tracker was not worn).
    pub fn value(self, record: &DayRecord) -> Option<(&'static str, Value)> {
        let day = &record.day;
        Some(match self {
            RollupType::Steps => {
                let total = u64::from(day.steps) + u64::from(record.manual_steps);
                ("steps", json!({"countSum": total.to_string()}))
            }
            RollupType::Distance => {
                let millimeters = (day.distance_km * 1_000_000.0).round().max(0.0) as u64;
                ("distance", json!({"millimetersSum": millimeters.to_string()}))
            }
            RollupType::ActiveMinutes => {
                let levels = [
                    ("LIGHT", day.lightly_active_minutes),
                    ("MODERATE", day.fairly_active_minutes),
                    ("VIGOROUS", day.very_active_minutes),
                ];
                let by_level: Vec<Value> = levels
                    .iter()
                    .map(|(level, minutes)| {
                        json!({"activityLevel": level, "activeMinutesSum": minutes.to_string()})
                    })
                    .collect();
                ("activeMinutes", json!({"activeMinutesRollupByActivityLevel": by_level}))
            }
            RollupType::TimeInHeartRateZone => {
                if day.worn_minutes == 0 {
                    return None;
                }
                // Fitbit's Out of Range, Fat Burn, Cardio and Peak, in Google's names.
                let names = ["LIGHT", "MODERATE", "VIGOROUS", "PEAK"];
                let zones: Vec<Value> = names
                    .iter()
                    .zip(fitbit_wire::zone_minutes(day))
                    .map(|(zone, minutes)| {
                        json!({"heartRateZone": zone,
                            "duration": duration_text(i64::from(minutes) * 60)})
                    })
                    .collect();
                ("timeInHeartRateZone", json!({"timeInHeartRateZones": zones}))
            }
            RollupType::SedentaryPeriod => (
                "sedentaryPeriod",
                json!({"durationSum": duration_text(i64::from(day.sedentary_minutes) * 60)}),
            ),
        })
    }
}

/// `{"year":2026,"month":3,"day":7}`.
pub fn date_json(date: NaiveDate) -> Value {
    json!({"year": date.year(), "month": date.month(), "day": date.day()})
}

/// `{"date":{…},"time":{"hours":17,"minutes":29}}`.
pub fn date_time_json(local: NaiveDateTime) -> Value {
    json!({"date": date_json(local.date()),
        "time": {"hours": local.hour(), "minutes": local.minute()}})
}

/// A google-duration: `"-18000s"`.
pub fn duration_text(seconds: i64) -> String {
    format!("{seconds}s")
}

/// A google-datetime in UTC: `"2026-03-07T22:29:00Z"`.
pub fn timestamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One day's rollup point, or None when the day has nothing of this type.
pub fn rollup_point(date: NaiveDate, kind: RollupType, record: &DayRecord) -> Option<Value> {
    let (field, value) = kind.value(record)?;
    let mut point = json!({
        "civilStartTime": {"date": date_json(date)},
        "civilEndTime": {"date": date_json(date.succ_opt()?)},
    });
    point[field] = value;
    Some(point)
}

/// `{"rollupDataPoints":[…]}`: one point per day with data, oldest first.
pub fn rollup_body(kind: RollupType, days: &BTreeMap<NaiveDate, DayRecord>) -> Value {
    let points: Vec<Value> =
        days.iter().filter_map(|(date, record)| rollup_point(*date, kind, record)).collect();
    json!({"rollupDataPoints": points})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RollupRequest {
    range: Option<CivilRange>,
    window_size_days: Option<i64>,
}

#[derive(Deserialize)]
struct CivilRange {
    start: Option<CivilDateTimeIn>,
    end: Option<CivilDateTimeIn>,
}

#[derive(Deserialize)]
struct CivilDateTimeIn {
    date: Option<CivilDateIn>,
    #[serde(default)]
    time: Option<TimeOfDayIn>,
}

#[derive(Deserialize)]
struct CivilDateIn {
    year: i32,
    month: u32,
    day: u32,
}

#[derive(Deserialize)]
struct TimeOfDayIn {
    #[serde(default)]
    hours: u32,
    #[serde(default)]
    minutes: u32,
    #[serde(default)]
    seconds: u32,
    #[serde(default)]
    nanos: u32,
}

fn range_end(end: Option<&CivilDateTimeIn>, name: &str) -> Result<NaiveDate, String> {
    let end = end.ok_or_else(|| format!("range.{name} is required"))?;
    let date = end.date.as_ref().ok_or_else(|| format!("range.{name}.date is required"))?;
    let parsed = NaiveDate::from_ymd_opt(date.year, date.month, date.day).ok_or_else(|| {
        format!("range.{name}.date {}-{}-{} is not a valid date", date.year, date.month, date.day)
    })?;
    if end.time.as_ref().is_some_and(|t| t.hours + t.minutes + t.seconds + t.nanos > 0) {
        return Err(format!(
            "range.{name} must be aligned with the aggregation window: a whole day, no time"
        ));
    }
    Ok(parsed)
}

/// The days of a `dataPoints:dailyRollUp` request: `[start, end)` in the user's civil dates.
/// The error says what is wrong (answered as 400 INVALID_ARGUMENT).
pub fn parse_rollup_range(body: &[u8], kind: RollupType) -> Result<(NaiveDate, NaiveDate), String> {
    let request: RollupRequest =
        serde_json::from_slice(body).map_err(|e| format!("Invalid JSON payload received. {e}"))?;
    let window = request.window_size_days.unwrap_or(1);
    if window != 1 {
        return Err(format!("windowSizeDays must be 1, not {window}"));
    }
    let range = request.range.ok_or("range is required")?;
    let start = range_end(range.start.as_ref(), "start")?;
    let end = range_end(range.end.as_ref(), "end")?;
    let days = (end - start).num_days();
    if days <= 0 {
        return Err("range.end must be after range.start".to_string());
    }
    if days > kind.max_range_days() {
        return Err(format!(
            "The maximum range for `{}` is {} days; {days} days were asked",
            kind.name(),
            kind.max_range_days()
        ));
    }
    Ok((start, end))
}

/// One steps data point, in the user's wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepsPoint {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub count: u32,
    /// Typed in by hand (`recordingMethod: MANUAL`) rather than measured by the tracker.
    pub manual: bool,
}

/// The tracker's steps are spread over the waking hours 07:00–22:00 with this profile (a morning
/// commute, a lunchtime walk, an evening peak).
const FIRST_WAKING_HOUR: u32 = 7;
const HOURLY_WEIGHTS: [u32; 15] = [4, 7, 5, 5, 6, 9, 6, 5, 6, 8, 10, 8, 6, 4, 2];
/// When hand-entered steps are logged: a 30-minute walk from noon.
const MANUAL_ENTRY_HOUR: u32 = 12;
const MANUAL_ENTRY_MINUTES: i64 = 30;

fn at(date: NaiveDate, hour: u32, minute: u32) -> NaiveDateTime {
    date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).expect("a valid wall-clock time"))
}

/// A day's steps as data points, oldest first: hourly PASSIVELY_MEASURED points that add up to
/// `day.steps` (hours without steps left out), then one MANUAL point with `manual_steps`.
pub fn day_steps_points(date: NaiveDate, record: &DayRecord) -> Vec<StepsPoint> {
    let total: u64 = HOURLY_WEIGHTS.iter().map(|w| u64::from(*w)).sum();
    let steps = u64::from(record.day.steps);
    let mut counts: Vec<u64> =
        HOURLY_WEIGHTS.iter().map(|w| steps * u64::from(*w) / total).collect();
    // Hand the rounding remainder to the first hours so the points add up exactly.
    let remainder = steps - counts.iter().sum::<u64>();
    for count in counts.iter_mut().take(remainder as usize) {
        *count += 1;
    }
    let mut points: Vec<StepsPoint> = counts
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(index, count)| {
            let start = at(date, FIRST_WAKING_HOUR + index as u32, 0);
            StepsPoint {
                start,
                end: start + TimeDelta::hours(1),
                count: *count as u32,
                manual: false,
            }
        })
        .collect();
    if record.manual_steps > 0 {
        let start = at(date, MANUAL_ENTRY_HOUR, 0);
        points.push(StepsPoint {
            start,
            end: start + TimeDelta::minutes(MANUAL_ENTRY_MINUTES),
            count: record.manual_steps,
            manual: true,
        });
    }
    points
}

/// A local time's instant and offset in the zone (UTC for a zone the simulator does not know,
/// which user validation rules out).
fn physical(zone: &str, local: NaiveDateTime) -> (DateTime<Utc>, TimeDelta) {
    timezone::local_to_utc(zone, local).unwrap_or((local.and_utc(), TimeDelta::zero()))
}

/// A steps `DataPoint`.
pub fn steps_point_json(point: &StepsPoint, zone: &str) -> Value {
    let (start, start_offset) = physical(zone, point.start);
    let (end, end_offset) = physical(zone, point.end);
    let method = if point.manual { "MANUAL" } else { "PASSIVELY_MEASURED" };
    json!({
        "steps": {
            "count": point.count.to_string(),
            "interval": {
                "startTime": timestamp(start),
                "startUtcOffset": duration_text(start_offset.num_seconds()),
                "endTime": timestamp(end),
                "endUtcOffset": duration_text(end_offset.num_seconds()),
                "civilStartTime": date_time_json(point.start),
                "civilEndTime": date_time_json(point.end),
            },
        },
        "dataSource": {"platform": "FITBIT", "recordingMethod": method},
    })
}

/// The civil-time bounds of a `dataPoints.list` filter: `from` inclusive, `until` exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CivilBounds {
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

impl CivilBounds {
    pub fn contains(&self, local: NaiveDateTime) -> bool {
        self.from.is_none_or(|from| local >= from) && self.until.is_none_or(|until| local < until)
    }
}

fn parse_civil_literal(literal: &str) -> Option<NaiveDateTime> {
    let text = literal.strip_prefix('"')?.strip_suffix('"')?;
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(at(date, 0, 0));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .ok()
}

/// Parses a `dataPoints.list` filter on civil start time, the form FitEx uses:
/// `steps.interval.civil_start_time >= "2026-03-07" AND steps.interval.civil_start_time < "2026-03-08"`
/// (either bound may be left out; literals are `YYYY-MM-DD[THH:mm[:ss]]` in double quotes).
pub fn parse_civil_filter(data_type: &str, filter: &str) -> Result<CivilBounds, String> {
    let field = format!("{}.interval.civil_start_time", data_type.replace('-', "_"));
    let mut bounds = CivilBounds::default();
    if filter.trim().is_empty() {
        return Ok(bounds);
    }
    for clause in filter.split(" AND ") {
        let mut words = clause.split_whitespace();
        let (Some(name), Some(operator), Some(literal), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(format!("Invalid filter: cannot parse {:?}", clause.trim()));
        };
        if name != field {
            return Err(format!("Invalid filter: unsupported field {name}; use {field}"));
        }
        let value = parse_civil_literal(literal).ok_or_else(|| {
            format!("Invalid filter: {literal} is not a quoted YYYY-MM-DD[THH:mm:ss] civil time")
        })?;
        let slot = match operator {
            ">=" => &mut bounds.from,
            "<" => &mut bounds.until,
            other => {
                return Err(format!("Invalid filter: operator {other} is not supported (>=, <)"))
            }
        };
        if slot.replace(value).is_some() {
            return Err(format!("Invalid filter: {operator} is given twice"));
        }
    }
    Ok(bounds)
}

fn filter_fingerprint(filter: &str) -> String {
    Sha256::digest(filter.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// An opaque page token: where the next page starts, bound to the filter it pages through.
pub fn page_token(offset: usize, filter: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}:{}", filter_fingerprint(filter)))
}

/// The offset a page token names, if it is one of ours for this filter.
pub fn parse_page_token(token: &str, filter: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (offset, fingerprint) = text.split_once(':')?;
    (fingerprint == filter_fingerprint(filter)).then_some(())?;
    offset.parse().ok()
}

/// A wall-clock interval a change notification reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalInterval {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl LocalInterval {
    /// The late-afternoon sync that uploads a day's steps: 17:29–17:34 on `date`.
    pub fn sync_on(date: NaiveDate) -> Self {
        let start = at(date, 17, 29);
        LocalInterval { start, end: start + TimeDelta::minutes(5) }
    }

    /// 23:58 on `date` to 00:03 the next day: one interval, two civil dates.
    pub fn across_midnight(date: NaiveDate) -> Self {
        let start = at(date, 23, 58);
        LocalInterval { start, end: start + TimeDelta::minutes(5) }
    }
}

// The notification is built from structs, not `json!`, so the keys keep Google's order.

#[derive(Serialize)]
struct NotificationBody<'a> {
    data: NotificationData<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationData<'a> {
    version: &'static str,
    client_provided_subscription_name: &'a str,
    health_user_id: &'a str,
    operation: &'a str,
    data_type: &'a str,
    intervals: Vec<NotificationInterval>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationInterval {
    physical_time_interval: TimeInterval,
    civil_date_time_interval: CivilDateTimeInterval,
    civil_iso8601_time_interval: TimeInterval,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TimeInterval {
    start_time: String,
    end_time: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CivilDateTimeInterval {
    start_date_time: CivilDateTimeOut,
    end_date_time: CivilDateTimeOut,
}

#[derive(Serialize)]
struct CivilDateTimeOut {
    date: CivilDateOut,
    time: TimeOut,
}

#[derive(Serialize)]
struct CivilDateOut {
    year: i32,
    month: u32,
    day: u32,
}

#[derive(Serialize)]
struct TimeOut {
    hours: u32,
    minutes: u32,
}

impl From<NaiveDateTime> for CivilDateTimeOut {
    fn from(local: NaiveDateTime) -> Self {
        CivilDateTimeOut {
            date: CivilDateOut { year: local.year(), month: local.month(), day: local.day() },
            time: TimeOut { hours: local.hour(), minutes: local.minute() },
        }
    }
}

/// What a change notification says, apart from its intervals.
#[derive(Debug, Clone, Copy)]
pub struct NotificationHead<'a> {
    /// The subscriber id (`clientProvidedSubscriptionName`).
    pub subscriber_id: &'a str,
    pub health_user_id: &'a str,
    pub operation: &'a str,
    pub data_type: &'a str,
}

/// A change notification body, exactly as sent (and signed): `{"data":{"version":"1",…}}`,
/// physical times from the user's zone.
pub fn notification_body(
    head: NotificationHead<'_>,
    zone: &str,
    intervals: &[LocalInterval],
) -> Vec<u8> {
    serde_json::to_vec(&notification(head, zone, intervals))
        .expect("a notification always serialises")
}

/// Several change notifications in one body, as a JSON array (`[{"data":{…}},…]`, how live
/// deliveries are reported to arrive): one notification per entry of `each`.
pub fn notification_array_body(
    head: NotificationHead<'_>,
    zone: &str,
    each: &[Vec<LocalInterval>],
) -> Vec<u8> {
    let notifications: Vec<NotificationBody<'_>> =
        each.iter().map(|intervals| notification(head, zone, intervals)).collect();
    serde_json::to_vec(&notifications).expect("notifications always serialise")
}

fn notification<'a>(
    head: NotificationHead<'a>,
    zone: &str,
    intervals: &[LocalInterval],
) -> NotificationBody<'a> {
    let iso = |local: NaiveDateTime| local.format("%Y-%m-%dT%H:%M:%S").to_string();
    NotificationBody {
        data: NotificationData {
            version: "1",
            client_provided_subscription_name: head.subscriber_id,
            health_user_id: head.health_user_id,
            operation: head.operation,
            data_type: head.data_type,
            intervals: intervals
                .iter()
                .map(|interval| NotificationInterval {
                    physical_time_interval: TimeInterval {
                        start_time: timestamp(physical(zone, interval.start).0),
                        end_time: timestamp(physical(zone, interval.end).0),
                    },
                    civil_date_time_interval: CivilDateTimeInterval {
                        start_date_time: interval.start.into(),
                        end_date_time: interval.end.into(),
                    },
                    civil_iso8601_time_interval: TimeInterval {
                        start_time: iso(interval.start),
                        end_time: iso(interval.end),
                    },
                })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DayData;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn record(steps: u32, manual_steps: u32) -> DayRecord {
        DayRecord {
            day: DayData {
                steps,
                distance_km: 5.81,
                sedentary_minutes: 600,
                lightly_active_minutes: 180,
                fairly_active_minutes: 25,
                very_active_minutes: 15,
                worn_minutes: 820,
                resting_heart_rate: Some(61),
            },
            manual_steps,
        }
    }

    #[test]
    fn rollup_values_follow_the_day() {
        let day = record(9_000, 1_200);
        let point = rollup_point(date("2026-03-07"), RollupType::Steps, &day).unwrap();
        assert_eq!(point["steps"]["countSum"], "10200");
        assert_eq!(point["civilStartTime"]["date"], json!({"year": 2026, "month": 3, "day": 7}));
        assert_eq!(point["civilEndTime"]["date"], json!({"year": 2026, "month": 3, "day": 8}));
        let distance = RollupType::Distance.value(&day).unwrap().1;
        assert_eq!(distance["millimetersSum"], "5810000");
        let active = RollupType::ActiveMinutes.value(&day).unwrap().1;
        assert_eq!(
            active["activeMinutesRollupByActivityLevel"][1],
            json!({"activityLevel": "MODERATE", "activeMinutesSum": "25"})
        );
        let zones = RollupType::TimeInHeartRateZone.value(&day).unwrap().1;
        let seconds: i64 = zones["timeInHeartRateZones"]
            .as_array()
            .unwrap()
            .iter()
            .map(|z| z["duration"].as_str().unwrap().trim_end_matches('s').parse::<i64>().unwrap())
            .sum();
        assert_eq!(seconds, 820 * 60);
        let unworn = DayRecord { day: DayData { worn_minutes: 0, ..day.day }, ..day };
        assert!(RollupType::TimeInHeartRateZone.value(&unworn).is_none());
        let sedentary = RollupType::SedentaryPeriod.value(&day).unwrap().1;
        assert_eq!(sedentary, json!({"durationSum": "36000s"}));
    }

    #[test]
    fn rollup_ranges_are_checked() {
        let body = |start: &str, end: &str, window: i64| {
            let (s, e) = (date(start), date(end));
            json!({"range": {"start": {"date": {"year": s.year(), "month": s.month(), "day": s.day()}},
                "end": {"date": {"year": e.year(), "month": e.month(), "day": e.day()}}},
                "windowSizeDays": window})
            .to_string()
        };
        let steps = RollupType::Steps;
        assert_eq!(
            parse_rollup_range(body("2026-03-01", "2026-03-08", 1).as_bytes(), steps),
            Ok((date("2026-03-01"), date("2026-03-08")))
        );
        assert!(parse_rollup_range(body("2026-01-01", "2026-04-02", 1).as_bytes(), steps)
            .unwrap_err()
            .contains("90 days"));
        assert!(parse_rollup_range(
            body("2026-03-01", "2026-03-16", 1).as_bytes(),
            RollupType::ActiveMinutes
        )
        .unwrap_err()
        .contains("14 days"));
        assert!(parse_rollup_range(
            body("2026-03-01", "2026-03-15", 1).as_bytes(),
            RollupType::ActiveMinutes
        )
        .is_ok());
        assert!(parse_rollup_range(body("2026-03-08", "2026-03-08", 1).as_bytes(), steps).is_err());
        assert!(parse_rollup_range(body("2026-03-01", "2026-03-08", 7).as_bytes(), steps)
            .unwrap_err()
            .contains("windowSizeDays"));
        assert!(parse_rollup_range(b"{}", steps).unwrap_err().contains("range"));
        assert!(parse_rollup_range(b"nope", steps).is_err());
    }

    #[test]
    fn a_days_points_add_up_and_mark_manual_steps() {
        let points = day_steps_points(date("2026-03-07"), &record(9_001, 500));
        let passive: u32 = points.iter().filter(|p| !p.manual).map(|p| p.count).sum();
        assert_eq!(passive, 9_001);
        let manual: Vec<_> = points.iter().filter(|p| p.manual).collect();
        assert_eq!(manual.len(), 1);
        assert_eq!(manual[0].count, 500);
        assert!(points.iter().all(|p| p.start.hour() >= 7 && p.end.hour() <= 22));
        assert_eq!(day_steps_points(date("2026-03-07"), &record(0, 0)), vec![]);

        let json = steps_point_json(&points[0], "America/New_York");
        assert_eq!(json["steps"]["count"], points[0].count.to_string());
        assert_eq!(json["steps"]["interval"]["startTime"], "2026-03-07T12:00:00Z");
        assert_eq!(json["steps"]["interval"]["startUtcOffset"], "-18000s");
        assert_eq!(
            json["steps"]["interval"]["civilStartTime"],
            json!({"date": {"year": 2026, "month": 3, "day": 7}, "time": {"hours": 7, "minutes": 0}})
        );
        assert_eq!(json["dataSource"]["recordingMethod"], "PASSIVELY_MEASURED");
    }

    #[test]
    fn filters_parse_or_say_what_is_wrong() {
        let both = r#"steps.interval.civil_start_time >= "2026-03-07" AND steps.interval.civil_start_time < "2026-03-08T12:00:00""#;
        let bounds = parse_civil_filter("steps", both).unwrap();
        assert_eq!(bounds.from, Some(at(date("2026-03-07"), 0, 0)));
        assert_eq!(bounds.until, Some(at(date("2026-03-08"), 12, 0)));
        assert!(bounds.contains(at(date("2026-03-08"), 11, 0)));
        assert!(!bounds.contains(at(date("2026-03-08"), 12, 0)));
        assert_eq!(parse_civil_filter("steps", ""), Ok(CivilBounds::default()));
        for bad in [
            r#"steps.interval.start_time >= "2026-03-07""#,
            r#"steps.interval.civil_start_time > "2026-03-07""#,
            r#"steps.interval.civil_start_time >= 2026-03-07"#,
            r#"steps.interval.civil_start_time >= "March 7""#,
            r#"steps.interval.civil_start_time >= "2026-03-07" AND steps.interval.civil_start_time >= "2026-03-08""#,
            "garbage",
        ] {
            assert!(parse_civil_filter("steps", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_tokens_are_bound_to_their_filter() {
        let token = page_token(40, "f");
        assert_eq!(parse_page_token(&token, "f"), Some(40));
        assert_eq!(parse_page_token(&token, "g"), None);
        assert_eq!(parse_page_token("not a token", "f"), None);
    }

    #[test]
    fn the_notification_has_googles_shape_and_key_order() {
        let head = NotificationHead {
            subscriber_id: "my-sub",
            health_user_id: "user-1",
            operation: "UPSERT",
            data_type: "steps",
        };
        let body = notification_body(
            head,
            "America/Los_Angeles",
            &[LocalInterval::sync_on(date("2026-03-07"))],
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"data":{"version":"1","clientProvidedSubscriptionName":"my-sub","healthUserId":"user-1","operation":"UPSERT","dataType":"steps","intervals":[{"physicalTimeInterval":{"startTime":"2026-03-08T01:29:00Z","endTime":"2026-03-08T01:34:00Z"},"civilDateTimeInterval":{"startDateTime":{"date":{"year":2026,"month":3,"day":7},"time":{"hours":17,"minutes":29}},"endDateTime":{"date":{"year":2026,"month":3,"day":7},"time":{"hours":17,"minutes":34}}},"civilIso8601TimeInterval":{"startTime":"2026-03-07T17:29:00","endTime":"2026-03-07T17:34:00"}}]}}"#
        );
        let array = notification_array_body(
            head,
            "America/New_York",
            &[
                vec![LocalInterval::sync_on(date("2026-03-07"))],
                vec![LocalInterval::sync_on(date("2026-03-09"))],
            ],
        );
        let array = String::from_utf8(array).unwrap();
        assert!(
            array.starts_with(
                r#"[{"data":{"version":"1","clientProvidedSubscriptionName":"my-sub""#
            ),
            "{array}"
        );
        let notices = fitex_google_health::parse_change_notices(array.as_bytes()).unwrap();
        let dates: Vec<_> = notices.iter().map(|n| n.date).collect();
        assert_eq!(dates, vec![Some(date("2026-03-07")), Some(date("2026-03-09"))]);
        let midnight =
            notification_body(head, "UTC", &[LocalInterval::across_midnight(date("2026-03-07"))]);
        let notices = fitex_google_health::parse_change_notices(&midnight).unwrap();
        let dates: Vec<_> = notices.iter().map(|n| n.date).collect();
        assert_eq!(dates, vec![Some(date("2026-03-07")), Some(date("2026-03-08"))]);
    }
}
