//! Log injection: a crafted OAuth `error` in the callback URL tries to write a line of its own
//! and terminal escape sequences into the portal's log. The log is captured with the services'
//! own subscriber (`fitex_common::telemetry::subscriber`, pretty format, as on this machine).

use std::sync::{Arc, Mutex};

use fitex_common::telemetry::LogFormat;
use reqwest::StatusCode;

use crate::helpers::spawn_portal;

fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    fitex_testkit::log_capture::captured_log(LogFormat::Pretty)
}

#[tokio::test]
async fn a_crafted_oauth_error_is_logged_escaped_on_its_own_line() {
    let log = captured_log();
    let portal = spawn_portal().await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let forged_line = format!("2026-12-02T09:00:00.000000Z  INFO participant connected {marker}");
    let crafted = format!("access_denied\n{forged_line}\r\n\x1b[2J\x1b]0;owned\x07");
    let query = serde_urlencoded::to_string([("error", crafted.as_str()), ("state", "x")]).unwrap();
    let _ = portal.client.get(portal.url("/connect/fitbit")).send().await.unwrap();
    let (status, html) = portal.get_text(&format!("/connect/fitbit/callback?{query}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Fitbit did not complete the connection"), "{html}");

    // A long value is cut short.
    let long = format!("{marker}-long-{}", "A".repeat(5_000));
    let query = serde_urlencoded::to_string([("error", long.as_str())]).unwrap();
    assert_eq!(
        portal.get_text(&format!("/connect/fitbit/callback?{query}")).await.0,
        StatusCode::OK
    );

    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    let ours: Vec<&str> = text.lines().filter(|line| line.contains(&marker)).collect();
    assert_eq!(ours.len(), 2, "one line per request, nothing forged on a line of its own:\n{text}");
    let crafted_line = ours[0];
    assert!(
        crafted_line.contains("the participant did not complete the consent"),
        "{crafted_line}"
    );
    assert!(
        crafted_line.contains(&format!("access_denied\\n{forged_line}\\r\\n\\u{{1b}}[2J")),
        "{crafted_line}"
    );
    assert!(!text.lines().any(|line| line.starts_with("2026-12-02T09:00:00.000000Z")), "{text}");
    assert!(!text.contains("\x1b[2J") && !text.contains("\x1b]0;owned"), "{text:?}");
    assert!(!text.contains('\x07'), "{text:?}");
    let long_line = ours[1];
    assert!(long_line.contains("…[4838 more characters]"), "{long_line}");
    assert!(long_line.len() < 600, "cut short: {} bytes", long_line.len());
}
