//! The broker's outages: notifications accepted into the PostgreSQL outbox and relayed later.

use std::time::{Duration, Instant};

use fitex_proto::{Message, ProviderNotification};
use fitex_testkit::PrivateBroker;

use crate::helpers::*;

/// Sends one notification while the broker is up and waits until nothing is left in the outbox
/// (a fresh producer's first record can miss the deadline while it meets the broker; then the
/// relay delivers it).
async fn warm_up(app: &TestApp) {
    assert_eq!(app.post_notification(BODY_1, Some(SIG_1)).await.status().as_u16(), 204);
    wait_for("the warm-up record to leave the outbox", Duration::from_secs(30), || async {
        app.outbox_depth().await == 0
    })
    .await;
}

#[tokio::test]
async fn a_stopped_broker_means_204_through_the_outbox_and_the_record_arrives_after_restart() {
    let mut broker = PrivateBroker::start();
    let kafka = fitex_testkit::test_kafka_on(&broker.address(), 1).await;
    let (database, _) = fitex_testkit::test_database().await;
    let app = spawn_with(settings_for(kafka, database)).await;

    warm_up(&app).await;

    broker.kill();
    let started = Instant::now();
    let response = app.post_notification(BODY_2, Some(SIG_2)).await;
    assert_eq!(response.status().as_u16(), 204, "accepted through the outbox");
    assert!(started.elapsed() < Duration::from_secs(5), "answered within Fitbit's 5 s");
    assert_eq!(app.outbox_depth().await, 3, "the three notifications wait in the outbox");

    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["checks"]["database"], "ok");

    broker.restart();
    // The private broker restarts empty: recreate the topic.
    fitex_common::kafka::ensure_topics(&app.kafka, &app.kafka.topics.all()).await.unwrap();
    wait_for("the relay to empty the outbox", Duration::from_secs(60), || async {
        app.outbox_depth().await == 0
    })
    .await;
    let records = app.records(3, Duration::from_secs(30)).await;
    let mut users: Vec<String> = records
        .iter()
        .map(|r| ProviderNotification::decode(r.payload.as_slice()).unwrap().owner_id)
        .collect();
    users.sort();
    assert_eq!(users, vec!["22AAAA", "B4TZHW", "B4TZHW"], "nothing accepted is lost");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("delivery=\"outbox\""), "{metrics}");
}

#[tokio::test]
async fn no_broker_and_no_database_means_503_so_the_provider_retries() {
    let kafka = fitex_common::kafka::KafkaSettings {
        brokers: format!("127.0.0.1:{}", fitex_testkit::free_port()),
        ..fitex_testkit::test_kafka().await
    };
    let mut database = fitex_testkit::database_settings("fitex_database_that_does_not_exist");
    database.acquire_timeout = Duration::from_millis(500);
    let app = spawn_with(settings_for(kafka, database)).await;
    let response = app.post_notification(BODY_1, Some(SIG_1)).await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status().as_u16(), 503);
}

#[tokio::test]
async fn shutdown_drains_a_request_in_flight() {
    let mut broker = PrivateBroker::start();
    let kafka = fitex_testkit::test_kafka_on(&broker.address(), 1).await;
    let (database, _) = fitex_testkit::test_database().await;
    let mut app = spawn_with(settings_for(kafka, database)).await;
    warm_up(&app).await;

    // With the broker gone the request waits out the publish deadline: stop the server meanwhile.
    broker.kill();
    let in_flight = {
        let (client, url) = (app.client.clone(), app.webhook_url());
        tokio::spawn(async move {
            client
                .post(url)
                .header("X-Fitbit-Signature", SIG_2)
                .body(BODY_2)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.handle.stop(true).await;
    assert_eq!(in_flight.await.unwrap().unwrap(), 204, "the in-flight request finished");
    (&mut app.stopped).await.unwrap().unwrap();
    assert_eq!(app.outbox_depth().await, 3, "its notifications are safe in the outbox");
    // A new request is refused: the server no longer listens.
    assert!(app.client.get(format!("{}/healthz", app.base_url)).send().await.is_err());
}
