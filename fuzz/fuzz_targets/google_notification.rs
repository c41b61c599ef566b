//! `fitex_google_health::parse_change_notices` on arbitrary bytes.
//!
//! Invariants: every notice has a non-empty owner (the Kafka key) and data type, is a user's,
//! appears once, and its date survives the trip through Kafka as text.
#![no_main]

use fitex_fuzz::assert_date_round_trips;
use fitex_google_health::parse_change_notices;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(notices) = parse_change_notices(data) else { return };
    for (i, notice) in notices.iter().enumerate() {
        assert!(!notice.owner_id.is_empty(), "a notice without an owner id");
        assert!(!notice.collection_type.is_empty(), "a notice without a data type");
        assert_eq!(notice.owner_type, "user");
        if let Some(date) = notice.date {
            assert_date_round_trips(date);
        }
        if notices.len() <= 512 {
            assert!(!notices[..i].contains(notice), "{notice:?} twice");
        }
    }
});
