//! Response bodies of the data endpoints, shaped like Fitbit's, as pure functions of the data.

use chrono::{Months, NaiveDate, TimeDelta};
use serde_json::{json, Value};

use crate::model::DayData;

/// Fitbit's longest activity time-series range (steps, distance, minutes…).
pub const MAX_RANGE_DAYS: i64 = 1_095;
/// Fitbit's longest heart-rate time-series range: one year.
pub const MAX_HEART_RANGE_DAYS: i64 = 366;
/// The activity time-series resources served by date range, as in
/// `…/activities/{resource}/date/{start}/{end}.json`.
pub const ACTIVITY_RESOURCES: [&str; 6] = [
    "steps",
    "distance",
    "minutesSedentary",
    "minutesLightlyActive",
    "minutesFairlyActive",
    "minutesVeryActive",
];
/// Fitbit's default heart-rate zones: name, lowest and highest bpm, calories per minute in the zone.
const ZONES: [(&str, u32, u32, f64); 4] = [
    ("Out of Range", 30, 94, 1.25),
    ("Fat Burn", 94, 132, 5.4),
    ("Cardio", 132, 160, 8.9),
    ("Peak", 160, 220, 11.3),
];
/// When a default wearer's day starts (07:00), for placing heart-rate minutes.
const WAKE_MINUTE: u32 = 7 * 60;
const MINUTES_PER_DAY: u32 = 24 * 60;
/// A default goal, as Fitbit sets for new accounts.
const STEP_GOAL: u32 = 10_000;

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// `GET /1/user/{id}/activities/date/{date}.json`; a day without data is all zeros.
pub fn activities_day_body(day: Option<&DayData>) -> Value {
    let day = day.copied().unwrap_or_default();
    let has_data = day.steps > 0 || day.worn_minutes > 0;
    // Basal calories only on days with data, so a day without data is zeros throughout.
    let bmr = if has_data { 1_650 } else { 0 };
    let activity_calories = (day.steps as f64 * 0.04) as u32
        + day.very_active_minutes * 6
        + day.fairly_active_minutes * 3;
    let very_km = round2(day.very_active_minutes as f64 * 0.12);
    let moderately_km = round2(day.fairly_active_minutes as f64 * 0.09);
    let lightly_km = round2((day.distance_km - very_km - moderately_km).max(0.0));
    let mut summary = json!({
        "activeScore": -1,
        "activityCalories": activity_calories,
        "caloriesBMR": bmr,
        "caloriesOut": bmr + activity_calories,
        "distances": [
            {"activity": "total", "distance": round2(day.distance_km)},
            {"activity": "tracker", "distance": round2(day.distance_km)},
            {"activity": "loggedActivities", "distance": 0},
            {"activity": "veryActive", "distance": very_km.min(day.distance_km)},
            {"activity": "moderatelyActive", "distance": moderately_km.min(day.distance_km)},
            {"activity": "lightlyActive", "distance": lightly_km},
            {"activity": "sedentaryActive", "distance": 0},
        ],
        "elevation": 0,
        "fairlyActiveMinutes": day.fairly_active_minutes,
        "floors": 0,
        "lightlyActiveMinutes": day.lightly_active_minutes,
        "marginalCalories": activity_calories / 2,
        "sedentaryMinutes": day.sedentary_minutes,
        "steps": day.steps,
        "veryActiveMinutes": day.very_active_minutes,
    });
    // A day without heart-rate signal (not worn, or no sensor) has neither zones nor resting rate.
    if day.worn_minutes > 0 {
        summary["heartRateZones"] = Value::Array(heart_rate_zones(&day));
        if let Some(resting) = day.resting_heart_rate {
            summary["restingHeartRate"] = json!(resting);
        }
    }
    json!({
        "activities": [],
        "goals": {"activeMinutes": 30, "caloriesOut": 2_184, "distance": 8.05, "floors": 10,
                  "steps": STEP_GOAL},
        "summary": summary,
    })
}

/// The minutes of the day's heart-rate signal per zone (Out of Range, Fat Burn, Cardio, Peak),
/// summing to `worn_minutes`: mostly Out of Range, more in the upper zones the more active
/// minutes the day has, and never more than 40 % above Out of Range.
pub fn zone_minutes(day: &DayData) -> [u32; 4] {
    // In u64 so that any admin-set values add up without overflow.
    let worn = u64::from(day.worn_minutes);
    let very = u64::from(day.very_active_minutes);
    let fairly = u64::from(day.fairly_active_minutes);
    let lightly = u64::from(day.lightly_active_minutes);
    let mut budget = worn * 2 / 5;
    let mut take = |wanted: u64| {
        let taken = wanted.min(budget);
        budget -= taken;
        taken
    };
    let peak = take(very / 5);
    let cardio = take(very * 2 / 5 + fairly / 4);
    let fat_burn = take(very * 2 / 5 + fairly * 3 / 4 + lightly / 8 + worn / 25);
    // Every part is at most `worn`, which came from a u32.
    [worn - peak - cardio - fat_burn, fat_burn, cardio, peak].map(|m| m as u32)
}

/// Fitbit's `heartRateZones` array for a day (empty when it was not worn).
pub fn heart_rate_zones(day: &DayData) -> Vec<Value> {
    if day.worn_minutes == 0 {
        return Vec::new();
    }
    ZONES
        .iter()
        .zip(zone_minutes(day))
        .map(|(&(name, min, max, per_minute), minutes)| {
            json!({
                "caloriesOut": round2(minutes as f64 * per_minute),
                "max": max,
                "min": min,
                "minutes": minutes,
                "name": name,
            })
        })
        .collect()
}

/// The end of a time series: a date, or a period (`1d`, `7d`, `30d`, `1w`, `1m`, `3m`, `6m`,
/// `1y`) counted back from the start date, as Fitbit's `…/date/{date}/{period}.json` form.
/// Date ranges are limited to [`MAX_RANGE_DAYS`].
pub fn resolve_range(
    base: NaiveDate,
    end_or_period: &str,
) -> Result<(NaiveDate, NaiveDate), String> {
    resolve_range_within(base, end_or_period, MAX_RANGE_DAYS)
}

/// [`resolve_range`] with a date range of at most `max_days` days.
pub fn resolve_range_within(
    base: NaiveDate,
    end_or_period: &str,
    max_days: i64,
) -> Result<(NaiveDate, NaiveDate), String> {
    if let Ok(end) = NaiveDate::parse_from_str(end_or_period, "%Y-%m-%d") {
        if end < base {
            return Err(format!("End date {end} is before start date {base}"));
        }
        if (end - base).num_days() + 1 > max_days {
            return Err(format!("Invalid date range: more than {max_days} days"));
        }
        return Ok((base, end));
    }
    let days_back = |n: i64| base - TimeDelta::days(n - 1);
    let months_back =
        |n: u32| base.checked_sub_months(Months::new(n)).map(|d| d + TimeDelta::days(1));
    let first = match end_or_period {
        "1d" => Some(days_back(1)),
        "7d" | "1w" => Some(days_back(7)),
        "30d" => Some(days_back(30)),
        "1m" => months_back(1),
        "3m" => months_back(3),
        "6m" => months_back(6),
        "1y" => months_back(12),
        _ => None,
    };
    first
        .map(|first| (first, base))
        .ok_or_else(|| format!("Invalid period or date: {end_or_period}"))
}

/// `{"activities-steps":[{"dateTime":…,"value":"8123"},…]}`: every date, values as strings.
pub fn steps_series_body(
    first: NaiveDate,
    last: NaiveDate,
    steps_on: impl Fn(NaiveDate) -> u32,
) -> Value {
    series_body("steps", first, last, |d| steps_on(d).to_string())
}

/// `{"activities-{resource}":[{"dateTime":…,"value":"…"},…]}`: every date, values as strings.
pub fn series_body(
    resource: &str,
    first: NaiveDate,
    last: NaiveDate,
    value_on: impl Fn(NaiveDate) -> String,
) -> Value {
    let series: Vec<Value> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| json!({"dateTime": d.format("%Y-%m-%d").to_string(), "value": value_on(d)}))
        .collect();
    json!({ format!("activities-{resource}"): series })
}

/// One day's value of an activity time-series resource, as Fitbit's string (`"8123"`, `"5.81"`);
/// a day without data is `"0"`; None for a resource not in [`ACTIVITY_RESOURCES`].
pub fn resource_value(resource: &str, day: Option<&DayData>) -> Option<String> {
    let day = day.copied().unwrap_or_default();
    let minutes = match resource {
        "steps" => day.steps,
        "distance" => return Some(round2(day.distance_km.max(0.0)).to_string()),
        "minutesSedentary" => day.sedentary_minutes,
        "minutesLightlyActive" => day.lightly_active_minutes,
        "minutesFairlyActive" => day.fairly_active_minutes,
        "minutesVeryActive" => day.very_active_minutes,
        _ => return None,
    };
    Some(minutes.to_string())
}

/// The `value` of one day in the heart-rate series: zones, and the resting rate when worn.
fn heart_day_value(day: Option<&DayData>) -> Value {
    let day = day.copied().unwrap_or_default();
    let mut value = json!({"customHeartRateZones": [], "heartRateZones": heart_rate_zones(&day)});
    if let (true, Some(resting)) = (day.worn_minutes > 0, day.resting_heart_rate) {
        value["restingHeartRate"] = json!(resting);
    }
    value
}

/// `GET …/activities/heart/date/{start}/{end}.json`: one entry per date; a day without a
/// heart-rate signal has empty zones and no resting rate.
pub fn heart_range_body<'a>(
    first: NaiveDate,
    last: NaiveDate,
    day_on: impl Fn(NaiveDate) -> Option<&'a DayData>,
) -> Value {
    let series: Vec<Value> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| {
            json!({"dateTime": d.format("%Y-%m-%d").to_string(), "value": heart_day_value(day_on(d))})
        })
        .collect();
    json!({"activities-heart": series})
}

/// The minutes of the day (0–1439) that have a heart-rate reading: one contiguous wear period of
/// `worn_minutes`, starting at 07:00 when it fits.
pub fn worn_minute_range(worn_minutes: u32) -> std::ops::Range<u32> {
    let worn = worn_minutes.min(MINUTES_PER_DAY);
    let start = WAKE_MINUTE.min(MINUTES_PER_DAY - worn);
    start..start + worn
}

/// `GET …/activities/heart/date/{date}/1d/1min.json`.
pub fn heart_intraday_body(date: NaiveDate, day: Option<&DayData>) -> Value {
    let day = day.copied().unwrap_or_default();
    let resting = day.resting_heart_rate.unwrap_or(68);
    let dataset: Vec<Value> = worn_minute_range(day.worn_minutes)
        .map(|minute| {
            // A deterministic wiggle above resting: the same request always gives the same data.
            let bpm = resting + 6 + (minute * 37 % 23) + if minute % 97 < 12 { 25 } else { 0 };
            json!({"time": format!("{:02}:{:02}:00", minute / 60, minute % 60), "value": bpm})
        })
        .collect();
    json!({
        "activities-heart": [
            {"dateTime": date.format("%Y-%m-%d").to_string(), "value": heart_day_value(Some(&day))}
        ],
        "activities-heart-intraday": {
            "dataset": dataset,
            "datasetInterval": 1,
            "datasetType": "minute",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn ranges_accept_dates_and_periods_within_limits() {
        // (start, end or period) → (first, last)
        let accepted = [
            ("2026-11-01", "2026-11-20", "2026-11-01", "2026-11-20"),
            ("2026-11-20", "7d", "2026-11-14", "2026-11-20"),
            ("2026-11-20", "1d", "2026-11-20", "2026-11-20"),
            ("2026-11-20", "1m", "2026-10-21", "2026-11-20"),
        ];
        for (base, end, first, last) in accepted {
            assert_eq!(resolve_range(date(base), end), Ok((date(first), date(last))), "{end}");
        }
        assert!(resolve_range(date("2026-11-20"), "2026-11-19").is_err());
        assert!(resolve_range(date("2026-11-20"), "2d").is_err());
        let first = date("2024-01-01");
        let last_allowed = first + TimeDelta::days(MAX_RANGE_DAYS - 1);
        assert!(resolve_range(first, &last_allowed.to_string()).is_ok());
        assert!(resolve_range(first, &(last_allowed + TimeDelta::days(1)).to_string()).is_err());
    }

    #[test]
    fn the_series_lists_every_date_with_string_values() {
        let body = steps_series_body(date("2026-11-18"), date("2026-11-20"), |d| {
            if d == date("2026-11-19") {
                0
            } else {
                8_123
            }
        });
        assert_eq!(
            body,
            json!({"activities-steps": [
                {"dateTime": "2026-11-18", "value": "8123"},
                {"dateTime": "2026-11-19", "value": "0"},
                {"dateTime": "2026-11-20", "value": "8123"},
            ]})
        );
    }

    #[test]
    fn heart_minutes_match_the_worn_minutes_and_stay_within_the_day() {
        assert_eq!(worn_minute_range(900), 420..1_320);
        assert_eq!(worn_minute_range(1_440), 0..1_440);
        assert_eq!(worn_minute_range(1_200), 240..1_440);
        let day = DayData { worn_minutes: 3, resting_heart_rate: Some(60), ..DayData::default() };
        let body = heart_intraday_body(date("2026-11-20"), Some(&day));
        let dataset = body["activities-heart-intraday"]["dataset"].as_array().unwrap();
        let times: Vec<&str> = dataset.iter().map(|e| e["time"].as_str().unwrap()).collect();
        assert_eq!(times, ["07:00:00", "07:01:00", "07:02:00"]);
        assert!(dataset.iter().all(|e| e["value"].as_u64().unwrap() > 60));
    }

    fn day(worn: u32, very: u32, fairly: u32, lightly: u32) -> DayData {
        DayData {
            worn_minutes: worn,
            very_active_minutes: very,
            fairly_active_minutes: fairly,
            lightly_active_minutes: lightly,
            resting_heart_rate: Some(60),
            ..DayData::default()
        }
    }

    /// The minutes of a `heartRateZones` array, added up.
    fn zone_minutes_total(zones: &Value) -> u64 {
        zones.as_array().unwrap().iter().map(|z| z["minutes"].as_u64().unwrap()).sum()
    }

    /// A worn day with every field set; only the distance differs between the tests.
    fn worn_day(distance_km: f64) -> DayData {
        DayData {
            steps: 8_123,
            distance_km,
            sedentary_minutes: 600,
            lightly_active_minutes: 200,
            fairly_active_minutes: 20,
            very_active_minutes: 18,
            worn_minutes: 838,
            resting_heart_rate: Some(61),
        }
    }

    #[test]
    fn zone_minutes_sum_to_the_worn_minutes_mostly_out_of_range() {
        for (worn, very, fairly, lightly) in [
            (838, 18, 20, 200),
            (900, 0, 0, 50),
            (700, 120, 60, 300),
            (3, 50, 50, 50),
            (1, 0, 0, 0),
            (1_440, 200, 100, 400),
            (u32::MAX, u32::MAX, u32::MAX, u32::MAX),
        ] {
            let zones = zone_minutes(&day(worn, very, fairly, lightly));
            assert_eq!(zones.iter().map(|&m| u64::from(m)).sum::<u64>(), u64::from(worn));
            assert!(zones[0] >= zones[1] + zones[2] + zones[3], "{zones:?}");
        }
        let quiet = zone_minutes(&day(900, 0, 5, 100));
        let active = zone_minutes(&day(900, 60, 40, 300));
        assert!(active[1] + active[2] + active[3] > quiet[1] + quiet[2] + quiet[3]);
        assert!(active[2] > quiet[2]);
        assert!(heart_rate_zones(&day(0, 10, 10, 10)).is_empty());
        let zones = heart_rate_zones(&day(838, 18, 20, 200));
        let names: Vec<&str> = zones.iter().map(|z| z["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Out of Range", "Fat Burn", "Cardio", "Peak"]);
        assert_eq!((zones[0]["min"].as_u64(), zones[0]["max"].as_u64()), (Some(30), Some(94)));
        assert!(zones.iter().all(|z| z["caloriesOut"].is_f64()));
    }

    #[test]
    fn resource_values_are_strings_and_unknown_resources_have_none() {
        let d = worn_day(5.8123);
        let values: Vec<String> =
            ACTIVITY_RESOURCES.iter().map(|r| resource_value(r, Some(&d)).unwrap()).collect();
        assert_eq!(values, ["8123", "5.81", "600", "200", "20", "18"]);
        assert!(ACTIVITY_RESOURCES.iter().all(|r| resource_value(r, None).unwrap() == "0"));
        assert_eq!(resource_value("floors", Some(&d)), None);
        let body =
            series_body("distance", date("2026-11-20"), date("2026-11-20"), |_| "1.5".into());
        assert_eq!(
            body,
            json!({"activities-distance": [{"dateTime": "2026-11-20", "value": "1.5"}]})
        );
    }

    #[test]
    fn the_heart_range_has_every_date_with_zones_only_when_worn() {
        let worn = day(838, 18, 20, 200);
        let not_worn = DayData { steps: 300, resting_heart_rate: Some(60), ..DayData::default() };
        let body = heart_range_body(date("2026-11-18"), date("2026-11-20"), |d| {
            if d == date("2026-11-18") {
                Some(&worn)
            } else if d == date("2026-11-19") {
                Some(&not_worn)
            } else {
                None
            }
        });
        let days = body["activities-heart"].as_array().unwrap();
        assert_eq!(days.len(), 3);
        assert_eq!(zone_minutes_total(&days[0]["value"]["heartRateZones"]), 838);
        assert_eq!(days[0]["value"]["restingHeartRate"], 60);
        assert_eq!(days[0]["value"]["customHeartRateZones"], json!([]));
        for day in &days[1..] {
            assert_eq!(day["value"]["heartRateZones"], json!([]));
            assert!(day["value"].get("restingHeartRate").is_none());
        }
        assert_eq!(days[2]["dateTime"], "2026-11-20");
        let first = date("2025-01-01");
        let last_allowed = first + TimeDelta::days(MAX_HEART_RANGE_DAYS - 1);
        let within = |end: NaiveDate| resolve_range_within(first, &end.to_string(), 366);
        assert!(within(last_allowed).is_ok());
        assert!(within(last_allowed + TimeDelta::days(1)).is_err());
        assert!(resolve_range_within(date("2026-11-20"), "1y", MAX_HEART_RANGE_DAYS).is_ok());
    }

    #[test]
    fn a_day_without_data_is_zeros_and_a_day_with_data_carries_it() {
        let empty = activities_day_body(None);
        assert_eq!(empty["summary"]["steps"], 0);
        assert_eq!(empty["summary"]["caloriesOut"], 0);
        assert_eq!(empty["summary"]["distances"][0], json!({"activity": "total", "distance": 0.0}));
        assert!(empty["summary"].get("restingHeartRate").is_none());
        assert!(empty["summary"].get("heartRateZones").is_none());
        let unworn = DayData { steps: 500, resting_heart_rate: Some(60), ..DayData::default() };
        let unworn = activities_day_body(Some(&unworn));
        assert!(unworn["summary"].get("heartRateZones").is_none());
        assert!(unworn["summary"].get("restingHeartRate").is_none());
        let day = worn_day(6.09);
        let body = activities_day_body(Some(&day));
        assert_eq!(body["summary"]["steps"], 8_123);
        assert_eq!(body["summary"]["distances"][0]["distance"], 6.09);
        assert_eq!(body["summary"]["veryActiveMinutes"], 18);
        assert_eq!(body["summary"]["restingHeartRate"], 61);
        assert_eq!(zone_minutes_total(&body["summary"]["heartRateZones"]), 838);
        assert_eq!(body["goals"]["steps"], 10_000);
        assert!(body["summary"]["caloriesOut"].as_u64().unwrap() > 1_650);
    }
}
