//! A spoofed client address: a forger sends `X-Forwarded-For` (and `Forwarded`, `X-Real-IP`)
//! naming someone else, hoping the log blames them. The subscriber logs the socket's peer, and
//! believes a forwarding header only from a configured proxy (`http.trusted_proxies`), and then
//! only for the hop that proxy added. The log is captured with the services' own subscriber
//! (`fitex_common::telemetry::subscriber`, JSON as in production).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use fitex_common::client_address::TrustedProxies;
use fitex_common::telemetry::LogFormat;

use crate::helpers::*;

const FORGED: &str = "203.0.113.66";

fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    fitex_testkit::log_capture::captured_log(LogFormat::Json)
}

/// A `traceparent` with a fresh trace id, and the id (what the request's span carries).
fn fresh_trace() -> (String, String) {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    (format!("00-{trace_id}-00f067aa0ba902b7-01"), trace_id)
}

/// The logged lines of the request whose span carries `trace_id`, as JSON.
fn lines_of(log: &Mutex<Vec<u8>>, trace_id: &str) -> Vec<serde_json::Value> {
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    text.lines()
        .filter(|line| line.contains(trace_id))
        .map(|line| serde_json::from_str(line).expect("a JSON log line"))
        .collect()
}

/// The rejection's log line: (peer, client) from its span.
fn logged_addresses(log: &Mutex<Vec<u8>>, trace_id: &str, message: &str) -> (SocketAddr, String) {
    let lines = lines_of(log, trace_id);
    let line = lines
        .iter()
        .find(|line| line["message"] == message)
        .unwrap_or_else(|| panic!("no {message:?} logged for the request: {lines:#?}"));
    let span = &line["span"];
    let peer = span["peer"].as_str().expect("the span names the peer");
    let client = span["client"].as_str().expect("the span names the client");
    (peer.parse().expect("the peer is a socket address"), client.to_string())
}

#[tokio::test]
async fn a_forged_forwarding_header_from_an_untrusted_peer_is_not_logged_as_the_client() {
    let log = captured_log();
    let app = spawn_app().await;
    let (traceparent, trace_id) = fresh_trace();
    let response = app
        .client
        .post(app.webhook_url())
        .header("Content-Type", "application/json")
        .header("X-Fitbit-Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .header("traceparent", traceparent)
        .header("X-Forwarded-For", FORGED)
        .header("Forwarded", format!("for={FORGED}"))
        .header("X-Real-IP", FORGED)
        .body(BODY_1)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404, "a forged signature is refused");

    let (peer, client) =
        logged_addresses(&log, &trace_id, "rejected a fitbit notification with a bad signature");
    assert_eq!(peer.ip().to_string(), "127.0.0.1", "the socket's peer");
    assert_ne!(peer.port(), 0);
    assert_eq!(client, "127.0.0.1", "not the forged address");
    let ours = lines_of(&log, &trace_id);
    assert!(ours.iter().all(|line| !line.to_string().contains(FORGED)), "{ours:#?}");
}

#[tokio::test]
async fn google_health_rejections_log_the_socket_peer_too() {
    let log = captured_log();
    let signing = key();
    let google = spawn_google(&[(1, &signing)], 300).await;
    let (traceparent, trace_id) = fresh_trace();
    let body = notification("u1", "UPSERT", vec![interval((27, 23, 58), (28, 0, 3))]);
    let status = google
        .post(
            &body,
            &[
                ("traceparent", traceparent),
                ("X-Forwarded-For", FORGED.to_string()),
                ("X-Healthapi-Signature", "forged".to_string()),
            ],
        )
        .await;
    assert!(status == 401 || status == 403, "refused: {status}");
    let (peer, client) = logged_addresses(&log, &trace_id, "rejected a google health notification");
    assert_eq!((peer.ip().to_string(), client.as_str()), ("127.0.0.1".to_string(), "127.0.0.1"));
    let ours = lines_of(&log, &trace_id);
    assert!(ours.iter().all(|line| !line.to_string().contains(FORGED)), "{ours:#?}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_hop_the_proxy_added() {
    let log = captured_log();
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database);
    // This test is the proxy: it connects from 127.0.0.1.
    settings.http.proxies.trusted_proxies = TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
    let app = spawn_with(settings).await;
    let (traceparent, trace_id) = fresh_trace();
    let response = app
        .client
        .post(app.webhook_url())
        .header("Content-Type", "application/json")
        .header("X-Fitbit-Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .header("traceparent", traceparent)
        // The client forged the first entry; the proxy appended the address it saw.
        .header("X-Forwarded-For", format!("{FORGED}, 198.51.100.23"))
        .body(BODY_1)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let (peer, client) =
        logged_addresses(&log, &trace_id, "rejected a fitbit notification with a bad signature");
    assert_eq!(peer.ip().to_string(), "127.0.0.1", "the peer is still logged as it is");
    assert_eq!(client, "198.51.100.23", "the right-most hop that is not a trusted proxy");
}
