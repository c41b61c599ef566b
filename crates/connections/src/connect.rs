//! The dates a newly connected participant's backfill asks for, in their own time zone (the
//! connecting itself is [`crate::Connections::connect`]; `fitexctl backfill` asks for the same
//! dates again).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// Today in `time_zone` (UTC when the zone is unknown).
pub fn today(time_zone: &str, now: DateTime<Utc>) -> NaiveDate {
    match time_zone.parse::<Tz>() {
        Ok(zone) => now.with_timezone(&zone).date_naive(),
        Err(_) => now.date_naive(),
    }
}

/// The `days` local dates before today in `time_zone` (today excluded: it is still changing and
/// its notifications will come), oldest first. An unknown zone counts as UTC.
pub fn backfill_dates(time_zone: &str, days: u32, now: DateTime<Utc>) -> Vec<NaiveDate> {
    let today = today(time_zone, now);
    (1..=days as i64).rev().map(|back| today - chrono::Duration::days(back)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn backfill_ends_yesterday_in_the_participants_zone() {
        // 03:00 UTC on the 25th is still the 24th in New York.
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap();
        let dates = backfill_dates("America/New_York", 3, now);
        let expected: Vec<NaiveDate> =
            ["2026-11-21", "2026-11-22", "2026-11-23"].iter().map(|d| d.parse().unwrap()).collect();
        assert_eq!(dates, expected);
        let utc = backfill_dates("UTC", 3, now);
        assert_eq!(utc.last().unwrap().to_string(), "2026-11-24");
        assert_eq!(backfill_dates("Not/AZone", 1, now), vec!["2026-11-24".parse().unwrap()]);
        assert!(backfill_dates("UTC", 0, now).is_empty());
    }
}
