//! What connecting decides from the provider's answers: the participant's time zone as reported,
//! and the dates their backfill asks for in it (the connecting itself is
//! [`crate::Connections::connect`]; `fitexctl backfill` asks for the same dates again).

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::zone::ParticipantZone;
use fitex_provider::ProviderId;

/// The zone a provider reported, parsed where it arrives: `None` when it is not an IANA zone, and
/// then the participant keeps the zone they have (UTC for someone new). That decision is made
/// here only, logged and counted (`fitex_time_zones_refused_total`), never again by a reader.
pub fn reported_zone(provider: ProviderId, user: &str, reported: &str) -> Option<ParticipantZone> {
    match reported.parse::<ParticipantZone>() {
        Ok(zone) => Some(zone),
        Err(error) => {
            metrics::counter!("fitex_time_zones_refused_total", "provider" => provider.as_str())
                .increment(1);
            tracing::warn!(%user, provider = provider.as_str(), %error,
                "the provider reported a time zone we do not know; the participant keeps theirs (UTC when new)");
            None
        }
    }
}

/// The `days` local dates before today in `zone` (today excluded: it is still changing and its
/// notifications will come), oldest first.
pub fn backfill_dates(zone: &ParticipantZone, days: u32, now: DateTime<Utc>) -> Vec<NaiveDate> {
    let today = zone.today(now);
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
        let dates = backfill_dates(&"America/New_York".parse().unwrap(), 3, now);
        let expected: Vec<NaiveDate> =
            ["2026-11-21", "2026-11-22", "2026-11-23"].iter().map(|d| d.parse().unwrap()).collect();
        assert_eq!(dates, expected);
        let utc = backfill_dates(&ParticipantZone::UTC, 3, now);
        assert_eq!(utc.last().unwrap().to_string(), "2026-11-24");
        assert!(backfill_dates(&ParticipantZone::UTC, 0, now).is_empty());
    }

    #[test]
    fn a_reported_zone_is_parsed_once_and_an_unknown_one_refused() {
        let chicago = reported_zone(ProviderId::Fitbit, "U1", "America/Chicago");
        assert_eq!(chicago.map(|z| z.name()), Some("America/Chicago"));
        assert_eq!(reported_zone(ProviderId::GoogleHealth, "u2", "Not/AZone"), None);
        assert_eq!(reported_zone(ProviderId::Fitbit, "U3", ""), None);
    }
}
