//! `fitex_fitbit::parse_notifications` on arbitrary bytes: what it accepts is a JSON array with
//! one valid notification per element, whose ids are bounded and whose date survives the trip
//! through Kafka as text.
#![no_main]

use fitex_fitbit::notification::MAX_ID_LEN;
use fitex_fitbit::{parse_notifications, NotificationParseError};
use fitex_fuzz::assert_date_round_trips;
use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;

fn assert_valid_id(what: &str, id: &str) {
    assert!(!id.is_empty(), "{what} is empty");
    assert!(id.len() <= MAX_ID_LEN, "{what} is {} bytes long", id.len());
    assert!(!id.chars().any(char::is_control), "{what} {id:?} has control characters");
}

fn array_len(data: &[u8]) -> usize {
    serde_json::from_slice::<Vec<IgnoredAny>>(data).expect("a JSON array").len()
}

fuzz_target!(|data: &[u8]| {
    match parse_notifications(data) {
        Ok(notifications) => {
            assert_eq!(notifications.len(), array_len(data), "one notification per element");
            for n in &notifications {
                assert_valid_id("ownerId", &n.owner_id);
                assert_valid_id("collectionType", &n.collection_type);
                if let Some(id) = &n.subscription_id {
                    assert_valid_id("subscriptionId", id);
                }
                match n.date {
                    Some(date) => {
                        assert_date_round_trips(date);
                        assert_eq!(n.date_string().parse().ok(), Some(date));
                    }
                    None => assert_eq!(n.date_string(), ""),
                }
            }
        }
        Err(NotificationParseError::InvalidNotification { index, .. }) => {
            assert!(index < array_len(data), "the index names an element");
        }
        Err(NotificationParseError::NotAnArrayOfNotifications(_)) => {}
    }
});
