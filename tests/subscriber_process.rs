//! The subscriber's real binary, configured only through `config/` and the environment as in a
//! deployment, with the shared broker and PostgreSQL: handshake, signed notifications to Kafka,
//! and a clean exit on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fitex_e2e::service_binary;
use fitex_proto::{Message, ProviderNotification};

#[tokio::test]
async fn the_subscriber_binary_publishes_signed_notifications_and_stops_cleanly_on_sigterm() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let port = fitex_testkit::free_port();
    let secret = "e2e-client-secret-0123456789abcdef";
    let config_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../config");

    let mut child = Command::new(service_binary("fitex-subscriber"))
        .env("FITEX_CONFIG_DIR", config_dir)
        .env("FITEX__SUBSCRIBER__PORT", port.to_string())
        .env("FITEX__KAFKA__BROKERS", &kafka.brokers)
        .env("FITEX__KAFKA__TOPICS__NOTIFICATIONS", &kafka.topics.notifications)
        .env("FITEX__DATABASE__DATABASE_NAME", &database.database_name)
        .env("FITEX__DATABASE__HOST", &database.host)
        .env("FITEX__DATABASE__PORT", database.port.to_string())
        .env("FITEX__FITBIT__CLIENT_SECRETS", format!("{secret},older-client-secret-0123"))
        .env("FITEX__FITBIT__VERIFICATION_CODE", "e2e-code")
        .env("FITEX__TELEMETRY__LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fitex-subscriber");

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "subscriber did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let verify =
        client.get(format!("{base}/webhooks/fitbit?verify=e2e-code")).send().await.unwrap();
    assert_eq!(verify.status().as_u16(), 204);

    let users = ["E2E001", "E2E002", "E2E003"];
    for user in users {
        let body = format!(
            r#"[{{"collectionType":"activities","date":"2026-11-24","ownerId":"{user}","ownerType":"user","subscriptionId":"{user}-activities"}}]"#
        );
        let response = client
            .post(format!("{base}/webhooks/fitbit"))
            .header("X-Fitbit-Signature", fitex_fitbit::sign(secret, body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204);
    }

    let (brokers, topic) = (kafka.brokers.clone(), kafka.topics.notifications.clone());
    let records = tokio::task::spawn_blocking(move || {
        fitex_testkit::read_records(&brokers, &topic, 3, Duration::from_secs(20))
    })
    .await
    .unwrap();
    let mut owners: Vec<String> = records
        .iter()
        .map(|r| ProviderNotification::decode(r.payload.as_slice()).unwrap().owner_id)
        .collect();
    owners.sort();
    assert_eq!(owners, users);

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "subscriber did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(exit.success(), "exit {exit:?}; logs:\n{logs}");
    assert!(logs.contains("subscriber stopped"), "{logs}");
    // Secrets never reach the logs.
    assert!(!logs.contains(secret), "client secret leaked into logs");
}
