//! FitEx Sync's event schemas. The `.proto` files under `proto/` are the source of truth.

pub mod fitex {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/fitex.v1.rs"));
    }
}

pub use fitex::v1::*;
pub use prost::Message;
pub use prost_types::Timestamp;

/// The value of the `content-type` Kafka header for each schema, so a reader can tell payloads apart.
pub mod content_type {
    pub const PROVIDER_NOTIFICATION: &str =
        "application/x-protobuf; schema=fitex.v1.ProviderNotification";
    pub const ACTIVITY_DAY_CHANGED: &str =
        "application/x-protobuf; schema=fitex.v1.ActivityDayChanged";
    pub const DEAD_LETTER: &str = "application/x-protobuf; schema=fitex.v1.DeadLetter";
    pub const GOAL_CHANGED: &str = "application/x-protobuf; schema=fitex.v1.GoalChanged";
    pub const TEAM_PROGRESS_CHANGED: &str =
        "application/x-protobuf; schema=fitex.v1.TeamProgressChanged";
    pub const SEASON_CLOSED: &str = "application/x-protobuf; schema=fitex.v1.SeasonClosed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_notification_round_trips() {
        let event = ProviderNotification {
            event_id: "e1".into(),
            provider: Provider::Fitbit as i32,
            collection_type: "activities".into(),
            owner_id: "184X36".into(),
            owner_type: "user".into(),
            date: "2010-03-01".into(),
            subscription_id: "2345".into(),
            received_at: Some(Timestamp { seconds: 1, nanos: 2 }),
            trace_context: Some(TraceContext {
                traceparent: "00-x".into(),
                tracestate: String::new(),
            }),
            operation: String::new(),
            change_kind: ChangeKind::ActivityDayChanged as i32,
        };
        let bytes = event.encode_to_vec();
        assert_eq!(ProviderNotification::decode(bytes.as_slice()).unwrap(), event);
    }
}
