//! An activity event continues the trace of the notification that asked for its day, also when
//! the day waited in `pending_fetches` first (settling after a fetch moments ago, or a quiet
//! period) and the pending loop fetched it.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_proto::{ActivityDayChanged, Message, Provider, ProviderNotification, TraceContext};

use crate::helpers::*;

const FIRST: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SECOND: &str = "0af7651916cd43dd8448eb211c80319c";

/// A notification of `user`'s `date` accepted now, sent in trace `trace_id`.
fn traced_notification(user: &str, date: NaiveDate, trace_id: &str) -> ProviderNotification {
    let now = Utc::now();
    ProviderNotification {
        event_id: uuid::Uuid::now_v7().to_string(),
        provider: Provider::Fitbit as i32,
        collection_type: "activities".into(),
        owner_id: user.into(),
        owner_type: "user".into(),
        date: date.to_string(),
        subscription_id: format!("{user}-all"),
        received_at: Some(fitex_proto::Timestamp {
            seconds: now.timestamp(),
            nanos: now.timestamp_subsec_nanos() as i32,
        }),
        trace_context: Some(TraceContext {
            traceparent: format!("00-{trace_id}-00f067aa0ba902b7-01"),
            tracestate: String::new(),
        }),
        operation: String::new(),
        change_kind: fitex_fitbit::notice_kind("activities").to_proto() as i32,
    }
}

/// The trace id of the activity event that published `steps`, once it is on the topic.
async fn trace_of_event_with(app: &TestFetcher, steps: i32, events: usize) -> String {
    let records =
        app.topic_records(&app.kafka.topics.activity_days, events, Duration::from_secs(20)).await;
    let record = records
        .iter()
        .find(|r| ActivityDayChanged::decode(r.payload.as_slice()).unwrap().steps == steps)
        .unwrap_or_else(|| panic!("an activity event with {steps} steps"));
    let traceparent = &record.headers["traceparent"];
    let event = ActivityDayChanged::decode(record.payload.as_slice()).unwrap();
    assert_eq!(event.trace_context.unwrap().traceparent, *traceparent, "payload and header agree");
    traceparent.split('-').nth(1).unwrap().to_string()
}

#[tokio::test]
async fn a_day_deferred_to_settle_keeps_the_trace_of_the_notification_that_deferred_it() {
    let sim = fitex_provider_simulator::Simulator::spawn(Default::default()).await.unwrap();
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database, &sim);
    // Long enough for the second notification to arrive within it.
    settings.fetcher.settle = Duration::from_millis(5_000);
    // The second notification is a new sync, not a repeat of the first.
    settings.fetcher.repeat_window = Duration::ZERO;
    let app = spawn_with(settings, sim, pool).await;
    let connection = app.connect_user("TRACED1").await;
    let participant = app.participant_of(connection).await;
    let date = day("2026-11-20");

    app.sim().set_day("TRACED1", date, day_data(3_000, 800)).await.unwrap();
    app.publish_notification(&traced_notification("TRACED1", date, FIRST)).await;
    wait_for("the first value", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&date) == Some(&3_000)
    })
    .await;
    // Moments after that fetch: the day waits for the settle period, then the pending loop
    // fetches it, in the trace of the notification that deferred it.
    app.sim().set_day("TRACED1", date, day_data(4_000, 800)).await.unwrap();
    app.publish_notification(&traced_notification("TRACED1", date, SECOND)).await;
    assert_eq!(trace_of_event_with(&app, 3_000, 1).await, FIRST);
    wait_for("the second value", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&date) == Some(&4_000)
    })
    .await;
    assert!(
        app.metrics().await.contains("fitex_fetcher_deferred_total{reason=\"settling\"} 1"),
        "the day waited to settle"
    );
    assert_eq!(trace_of_event_with(&app, 4_000, 2).await, SECOND);
}

#[tokio::test]
async fn with_a_quiet_period_the_pending_fetch_continues_the_notifications_trace() {
    let sim = fitex_provider_simulator::Simulator::spawn(Default::default()).await.unwrap();
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database, &sim);
    settings.fetcher.quiet = Duration::from_millis(500);
    let app = spawn_with(settings, sim, pool).await;
    let connection = app.connect_user("TRACED2").await;
    let participant = app.participant_of(connection).await;
    let date = day("2026-11-21");

    app.sim().set_day("TRACED2", date, day_data(6_500, 800)).await.unwrap();
    app.publish_notification(&traced_notification("TRACED2", date, FIRST)).await;
    wait_for("the day", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&date) == Some(&6_500)
    })
    .await;
    assert!(app.metrics().await.contains("fitex_fetcher_deferred_total{reason=\"quiet\"} 1"));
    assert_eq!(trace_of_event_with(&app, 6_500, 1).await, FIRST);
}
