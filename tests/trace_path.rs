//! One trace from a notification to its goal events, through the real subscriber, fetcher and
//! goals binaries, the broker and PostgreSQL: a signed Fitbit notification sent with a known
//! `traceparent` is published in that trace, the activity event of the day it names continues it,
//! and so do the goal and team-progress events its recomputation publishes. `fitexctl events tail
//! --trace` shows that path, and nothing of another trace.

use std::time::Duration;

use chrono::Utc;
use fitex_e2e::{
    connect_simulated_fitbit_user, eventually, infrastructure_env, simulated_day,
    simulated_fitbit_api_env, test_token_cipher, Fitexctl, PipelineProcesses,
};
use fitex_proto::{ActivityDayChanged, GoalChanged, Message, TeamProgressChanged, TraceContext};
use fitex_provider_simulator::{CreateUser, Simulator, SimulatorConfig};
use fitex_testkit::ReadRecord;

/// The trace the caller of the webhook starts (the W3C specification's example id).
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// Another caller's trace, which must not show up in the first one's path.
const OTHER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

/// Every event on `topic` (reading stops after a few seconds without the thousandth).
async fn read_topic(brokers: String, topic: String) -> Vec<ReadRecord> {
    fitex_testkit::read_records_async(&brokers, &topic, 1_000, Duration::from_secs(4)).await
}

/// The trace id of a `traceparent` value.
fn trace_id(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap_or_default()
}

/// The trace ids a record carries: its `traceparent` header's and its payload's.
fn traces_of(record: &ReadRecord, payload: Option<TraceContext>) -> (String, String) {
    let header = record.headers.get("traceparent").map(String::as_str).unwrap_or_default();
    let payload = payload.map(|t| t.traceparent).unwrap_or_default();
    (trace_id(header).to_string(), trace_id(&payload).to_string())
}

#[tokio::test]
async fn one_trace_links_a_notification_to_its_activity_and_goal_events() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let subscriber_port = fitex_testkit::free_port();
    let webhook_secret = "e2e-trace-client-secret-0123456789";
    // The simulator pushes nothing: the test sends the notifications, with their traces.
    let sim = Simulator::spawn(SimulatorConfig {
        client_secret: webhook_secret.into(),
        subscriber_url: None,
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();
    let mut common = infrastructure_env(&kafka, &database);
    common.extend(simulated_fitbit_api_env(&sim.base_url(), webhook_secret));
    let services =
        PipelineProcesses::start(&common, &kafka, subscriber_port, webhook_secret, Vec::new())
            .await;
    let logs = || services.logs();
    let ctl = Fitexctl { env: common.clone() };

    // TRACE01 is on a team of their own in a program; TRACE02 only syncs.
    let program = ctl.ok(&[
        "programs",
        "create",
        "--name",
        "Trace season",
        "--started-days-ago",
        "10",
        "--unit",
        "steps",
    ]);
    let program = program.split_whitespace().nth(1).unwrap().to_owned();
    let team = ctl.ok(&["teams", "create", "--program", &program, "--name", "Otter"]);
    let team_id: i64 = team.split_whitespace().nth(1).unwrap().parse().unwrap();
    let date = Utc::now().date_naive() - chrono::Duration::days(1);
    let mut participants = Vec::new();
    for (user, steps) in [("TRACE01", 8_400), ("TRACE02", 6_100)] {
        let create = CreateUser { user_id: Some(user.into()), ..CreateUser::default() };
        let connection =
            connect_simulated_fitbit_user(&pool, &sim.client(), &test_token_cipher(), create).await;
        participants.push(connection.participant_id);
        sim.client().set_day(user, date, simulated_day(steps)).await.unwrap();
    }
    let from = (Utc::now().date_naive() - chrono::Duration::days(10)).to_string();
    let team = team_id.to_string();
    ctl.ok(&["teams", "add", "--team", &team, "--user", "TRACE01", "--from", &from]);
    let (participant, other) = (participants[0], participants[1]);

    // Each device sync is one signed notification, sent in its caller's trace.
    let client = reqwest::Client::new();
    for (user, trace) in [("TRACE01", TRACE), ("TRACE02", OTHER_TRACE)] {
        let body = format!(
            r#"[{{"collectionType":"activities","date":"{date}","ownerId":"{user}","ownerType":"user","subscriptionId":"{user}-activities"}}]"#
        );
        let response = client
            .post(format!("http://127.0.0.1:{subscriber_port}/webhooks/fitbit"))
            .header("Content-Type", "application/json")
            .header("X-Fitbit-Signature", fitex_fitbit::sign(webhook_secret, body.as_bytes()))
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204, "{}", response.text().await.unwrap());
    }

    // Stored, recomputed, and every event relayed to the broker.
    eventually(
        "days stored, goals computed, events relayed",
        Duration::from_secs(60),
        logs,
        || {
            let pool = pool.clone();
            async move {
                let (days, goals, waiting): (i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM activity_days WHERE participant_id = ANY($1)),
                        (SELECT count(*) FROM goal_history WHERE participant_id = $2),
                        (SELECT count(*) FROM kafka_outbox)",
                )
                .bind(vec![participant, other])
                .bind(participant)
                .fetch_one(&pool)
                .await
                .unwrap();
                days == 2 && goals > 0 && waiting == 0
            }
        },
    )
    .await;

    let read = |topic: &String| read_topic(kafka.brokers.clone(), topic.clone());
    // The notification is published in its caller's trace.
    let notifications = read(&kafka.topics.notifications).await;
    let notification = notifications
        .iter()
        .find(|r| r.key.as_deref() == Some("TRACE01"))
        .expect("TRACE01's notification");
    let payload =
        fitex_proto::ProviderNotification::decode(notification.payload.as_slice()).unwrap();
    assert_eq!(traces_of(notification, payload.trace_context), (TRACE.into(), TRACE.into()));

    // Its day's activity event continues that trace.
    let activity: Vec<(ReadRecord, ActivityDayChanged)> = read(&kafka.topics.activity_days)
        .await
        .into_iter()
        .map(|r| {
            let event = ActivityDayChanged::decode(r.payload.as_slice()).unwrap();
            (r, event)
        })
        .collect();
    let (record, event) = activity
        .iter()
        .find(|(_, e)| e.participant_id == participant)
        .expect("TRACE01's activity event");
    assert_eq!((event.date.as_str(), event.steps), (date.to_string().as_str(), 8_400));
    assert_eq!(
        traces_of(record, event.trace_context.clone()),
        (TRACE.into(), TRACE.into()),
        "the activity event continues the notification's trace"
    );
    let (record, event) = activity.iter().find(|(_, e)| e.participant_id == other).unwrap();
    assert_eq!(traces_of(record, event.trace_context.clone()).0, OTHER_TRACE, "each its own");

    // And so do the goal events its recomputation published.
    let goal_events: Vec<(ReadRecord, GoalChanged)> = read(&kafka.topics.goals)
        .await
        .into_iter()
        .map(|r| {
            let event = GoalChanged::decode(r.payload.as_slice()).unwrap();
            (r, event)
        })
        .filter(|(_, e)| e.participant_id == participant)
        .collect();
    assert!(!goal_events.is_empty(), "TRACE01's goals were published");
    for (record, event) in &goal_events {
        assert_eq!(
            traces_of(record, event.trace_context.clone()),
            (TRACE.into(), TRACE.into()),
            "the goal event of {} continues the notification's trace",
            event.effective_date
        );
    }
    let team_events = read(&kafka.topics.team_progress).await;
    let team_traces: Vec<(String, String)> = team_events
        .iter()
        .map(|r| (r, TeamProgressChanged::decode(r.payload.as_slice()).unwrap()))
        .filter(|(_, e)| e.team_id == team_id)
        .map(|(r, e)| traces_of(r, e.trace_context))
        .collect();
    assert!(team_traces.contains(&(TRACE.into(), TRACE.into())), "{team_traces:?}");

    // The operator follows the change by its trace id: notification, activity, goals, in order.
    let path = ctl.ok(&["events", "tail", "--trace", TRACE]);
    let line_of = |topic: &str, key: &str| {
        let needle = format!("  {topic}  key={key}  ");
        path.lines()
            .position(|l| l.contains(&needle))
            .unwrap_or_else(|| panic!("no record of {topic} keyed {key} in:\n{path}"))
    };
    let notified = line_of(&kafka.topics.notifications, "TRACE01");
    let stored = line_of(&kafka.topics.activity_days, &participant.to_string());
    let goal = line_of(&kafka.topics.goals, &participant.to_string());
    let team_line = line_of(&kafka.topics.team_progress, &team);
    assert!(notified < stored && stored < goal && stored < team_line, "in time order:\n{path}");
    assert!(path.contains("notification activities"), "{path}");
    assert!(
        path.contains(&format!("ActivityDayChanged participant {participant} {date}: 8400 steps")),
        "{path}"
    );
    assert!(path.contains("GoalChanged participant"), "{path}");
    assert!(
        !path.contains("TRACE02") && !path.contains(&format!("participant {other} ")),
        "{path}"
    );
    assert!(path.contains(&format!("record(s) of trace {TRACE}")), "{path}");
    // Without --trace, the notifications as before.
    let tail = ctl.ok(&["events", "tail", "--count", "2"]);
    assert!(tail.contains("key=TRACE01") && tail.contains(TRACE), "{tail}");
    sim.stop().await;
}
