//! UTC offsets for the few time zones the simulator's users live in. A full tz database would be a
//! heavy dependency for five zones; US daylight time follows one rule since 2007.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Utc, Weekday};

/// Zones the simulator accepts: (IANA name, standard offset in hours, observes US daylight time).
pub const SUPPORTED_TIMEZONES: [(&str, i64, bool); 6] = [
    ("America/New_York", -5, true),
    ("America/Chicago", -6, true),
    ("America/Denver", -7, true),
    ("America/Phoenix", -7, false),
    ("America/Los_Angeles", -8, true),
    ("UTC", 0, false),
];

pub fn is_supported(timezone: &str) -> bool {
    SUPPORTED_TIMEZONES.iter().any(|(name, _, _)| *name == timezone)
}

fn nth_sunday(year: i32, month: u32, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n).expect("valid nth Sunday")
}

/// The zone's offset from UTC at `instant`, or None for an unsupported zone. US daylight time runs
/// from 02:00 local standard time on the second Sunday of March to 02:00 local daylight time on the
/// first Sunday of November.
pub fn utc_offset(timezone: &str, instant: DateTime<Utc>) -> Option<TimeDelta> {
    let (_, standard_hours, has_dst) =
        SUPPORTED_TIMEZONES.iter().find(|(name, _, _)| *name == timezone)?;
    let standard = TimeDelta::hours(*standard_hours);
    if !has_dst {
        return Some(standard);
    }
    let year = (instant + standard).year();
    let starts = nth_sunday(year, 3, 2).and_hms_opt(2, 0, 0).unwrap().and_utc() - standard;
    let ends = nth_sunday(year, 11, 1).and_hms_opt(2, 0, 0).unwrap().and_utc()
        - (standard + TimeDelta::hours(1));
    let in_dst = instant >= starts && instant < ends;
    Some(if in_dst { standard + TimeDelta::hours(1) } else { standard })
}

/// The user's local calendar date at `instant` (Fitbit's dates are local).
pub fn local_date(timezone: &str, instant: DateTime<Utc>) -> Option<NaiveDate> {
    utc_offset(timezone, instant).map(|offset| (instant + offset).date_naive())
}

/// The instant a local wall-clock time names in the zone, and the zone's offset then. In the hour
/// that daylight time skips or repeats, the offset before the switch is used (good enough for
/// synthetic data).
pub fn local_to_utc(timezone: &str, local: NaiveDateTime) -> Option<(DateTime<Utc>, TimeDelta)> {
    // The offset at "local read as UTC" is at most a day off the right instant; a second look
    // from the candidate settles it except around the switch itself.
    let guess = utc_offset(timezone, local.and_utc())?;
    let offset = utc_offset(timezone, local.and_utc() - guess)?;
    Some((local.and_utc() - offset, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn new_york_switches_at_the_us_dst_boundaries() {
        let ny = "America/New_York";
        // 2026: DST from 8 March 07:00 UTC to 1 November 06:00 UTC.
        assert_eq!(utc_offset(ny, at("2026-03-08T06:59:59Z")), Some(TimeDelta::hours(-5)));
        assert_eq!(utc_offset(ny, at("2026-03-08T07:00:00Z")), Some(TimeDelta::hours(-4)));
        assert_eq!(utc_offset(ny, at("2026-11-01T05:59:59Z")), Some(TimeDelta::hours(-4)));
        assert_eq!(utc_offset(ny, at("2026-11-01T06:00:00Z")), Some(TimeDelta::hours(-5)));
    }

    #[test]
    fn phoenix_and_utc_never_shift_and_unknown_zones_are_refused() {
        assert_eq!(
            utc_offset("America/Phoenix", at("2026-07-01T12:00:00Z")),
            Some(TimeDelta::hours(-7))
        );
        assert_eq!(utc_offset("UTC", at("2026-07-01T12:00:00Z")), Some(TimeDelta::zero()));
        assert_eq!(utc_offset("Europe/Paris", at("2026-07-01T12:00:00Z")), None);
        assert!(!is_supported("Mars/Olympus_Mons"));
    }

    #[test]
    fn local_times_map_to_instants_with_the_offset_of_the_day() {
        let at_local = |text: &str| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").unwrap();
        let ny = "America/New_York";
        assert_eq!(
            local_to_utc(ny, at_local("2026-03-07T17:29")),
            Some((at("2026-03-07T22:29:00Z"), TimeDelta::hours(-5)))
        );
        assert_eq!(
            local_to_utc(ny, at_local("2026-07-01T23:58")),
            Some((at("2026-07-02T03:58:00Z"), TimeDelta::hours(-4)))
        );
        assert_eq!(local_to_utc("Mars/Base", at_local("2026-07-01T12:00")), None);
    }

    #[test]
    fn local_date_lags_utc_in_the_evening() {
        let la = "America/Los_Angeles";
        assert_eq!(
            local_date(la, at("2026-11-21T03:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 11, 20)
        );
        assert_eq!(
            local_date(la, at("2026-11-21T09:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 11, 21)
        );
    }
}
