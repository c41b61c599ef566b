//! Google Health API answers, as the fetcher reads them: `merge_daily_rollup`,
//! `merge_manual_steps`, then `assemble_days` and `ranges` over the dates they name; and
//! `parse_identity`, `parse_time_zone`, `parse_error_body` / `classify_error` and
//! `parse_duration_seconds` on the whole input.
//!
//! The input is a sequence of answers separated by 0xFF (a byte that UTF-8 JSON never holds):
//! rollup answers at even positions, steps data-point pages at odd ones, at most 8.
//!
//! Invariants: merged totals and manual steps are never negative; `assemble_days` yields one day
//! per wanted date, in order, never with negative steps (or minutes), never with more measured
//! steps than the rollup counted, and a day without a steps point is `no_data`; `ranges` cover
//! every wanted date within the type's limit; a 403 marks a missing scope only for a scope reason.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::NaiveDate;
use fitex_google_health::api::{
    assemble_days, classify_error, classify_forbidden, max_range_days, merge_daily_rollup,
    merge_manual_steps, parse_duration_seconds, parse_error_body, parse_identity, parse_time_zone,
    ranges, DayTotals, Forbidden, DEFAULT_RATE_LIMIT_WAIT, LIST_RANGE_DAYS,
    PROJECT_REFUSAL_REASONS, ROLLUP_TYPES,
};
use fitex_provider::{ProviderError, TokenProblem};
use libfuzzer_sys::fuzz_target;

fn assert_not_negative(date: NaiveDate, t: &DayTotals) {
    assert!(t.steps.is_none_or(|s| s >= 0), "{date}: steps {:?}", t.steps);
    assert!(t.distance_mm.is_none_or(|d| d >= 0), "{date}: distance {:?}", t.distance_mm);
    assert!(t.light_minutes >= 0 && t.moderate_minutes >= 0 && t.vigorous_minutes >= 0);
    assert!(t.heart_zone_seconds.is_none_or(|s| s >= 0), "{date}: {:?}", t.heart_zone_seconds);
    assert!(t.sedentary_seconds >= 0, "{date}: sedentary {}", t.sedentary_seconds);
}

fn check_ranges(dates: &[NaiveDate], max_days: i64) {
    let covered = ranges(dates, max_days);
    for (start, end) in &covered {
        assert!(start < end && (*end - *start).num_days() <= max_days, "{start}..{end}");
    }
    for pair in covered.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "ranges overlap or are out of order: {pair:?}");
    }
    // Every wanted date is covered, but the last day a date can hold: no range can end after it.
    for date in dates.iter().filter(|d| **d != NaiveDate::MAX) {
        assert!(covered.iter().any(|(s, e)| s <= date && date < e), "{date} is not covered");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut totals = BTreeMap::new();
    let mut manual = BTreeMap::new();
    for (i, body) in data.split(|&b| b == 0xFF).take(8).enumerate() {
        if i % 2 == 0 {
            let _ = merge_daily_rollup(body, &mut totals);
        } else if let Ok(Some(token)) = merge_manual_steps(body, &mut manual) {
            assert!(!token.is_empty());
        }
    }
    for (date, t) in &totals {
        assert_not_negative(*date, t);
    }
    for (date, steps) in &manual {
        assert!(*steps >= 0, "{date}: manual steps {steps}");
    }

    let dates: Vec<NaiveDate> = totals.keys().chain(manual.keys()).copied().collect();
    let days = assemble_days(&dates, &totals, &manual);
    let wanted: Vec<NaiveDate> =
        dates.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
    assert_eq!(days.iter().map(|d| d.date).collect::<Vec<_>>(), wanted);
    for day in &days {
        assert!(day.steps >= 0, "{}: negative steps {}", day.date, day.steps);
        // No steps rollup point: no data (not worn, not synced), never a day of zero steps.
        let has_steps = totals.get(&day.date).is_some_and(|t| t.steps.is_some());
        assert_eq!(day.no_data, !has_steps, "{}: no_data", day.date);
        if day.no_data {
            assert_eq!(*day, fitex_provider::DayActivity::no_data(day.date));
            continue;
        }
        assert!(day.manual_steps.is_some_and(|m| m >= 0));
        assert!(day.sedentary_minutes >= 0 && day.lightly_active_minutes >= 0);
        assert!(day.fairly_active_minutes >= 0 && day.very_active_minutes >= 0);
        assert!(day.worn_minutes.is_none_or(|m| m >= 0));
        assert!(day.distance_km.is_finite() && day.distance_km >= 0.0);
        let counted = totals.get(&day.date).and_then(|t| t.steps).unwrap_or(0);
        assert!(i64::from(day.steps) <= counted, "{}: more steps than counted", day.date);
    }
    for data_type in ROLLUP_TYPES {
        check_ranges(&dates, max_range_days(data_type));
    }
    check_ranges(&dates, LIST_RANGE_DAYS);

    if let Ok(identity) = parse_identity(data) {
        assert!(!identity.health_user_id.is_empty());
        assert!(identity.legacy_user_id.is_none_or(|id| !id.is_empty()));
    }
    if let Ok(zone) = parse_time_zone(data) {
        assert!(!zone.is_empty());
    }
    // The error text is bounded: the JSON's own message, or at most 200 bytes of the body.
    let error = parse_error_body(data);
    assert!(error.message.len() <= data.len().max(600));
    assert!(matches!(
        classify_error(401, data, None),
        ProviderError::Unauthorized { problem: TokenProblem::Expired | TokenProblem::Invalid, .. }
    ));
    // A 403 is the participant's only when its reason is a scope problem; anything else is the
    // project's (or a per-user rate limit), and never asks a participant to reconnect.
    match classify_error(403, data, None) {
        ProviderError::Unauthorized { problem: TokenProblem::MissingScope, .. } => {
            assert_eq!(classify_forbidden(&error), Forbidden::MissingScope)
        }
        ProviderError::ProjectRefused { reason, .. } => {
            assert!(PROJECT_REFUSAL_REASONS.contains(&reason.as_str()), "{reason}");
            assert!(matches!(classify_forbidden(&error), Forbidden::Project(_)));
        }
        ProviderError::RateLimited { retry_after } => {
            assert_eq!(retry_after, DEFAULT_RATE_LIMIT_WAIT);
            assert_eq!(classify_forbidden(&error), Forbidden::UserRateLimited);
        }
        other => panic!("a 403 became {other:?}"),
    }
    assert_eq!(
        classify_error(429, data, None),
        ProviderError::RateLimited { retry_after: DEFAULT_RATE_LIMIT_WAIT }
    );
    assert_eq!(
        classify_error(429, data, Some(Duration::from_secs(7))),
        ProviderError::RateLimited { retry_after: Duration::from_secs(7) }
    );
    assert!(matches!(classify_error(503, data, None), ProviderError::Transient(_)));
    assert!(matches!(classify_error(400, data, None), ProviderError::Permanent(_)));
    if let Ok(Ok(seconds)) = std::str::from_utf8(data).map(parse_duration_seconds) {
        assert!(seconds >= 0, "a negative duration {seconds}");
    }
});
