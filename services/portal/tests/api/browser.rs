//! The connect flows in a real browser: Chromium (found on PATH, or `CHROMIUM`) driven by
//! playwright-core (npm) under Node.js. A participant signs in through "Connect your Fitbit"; their
//! access is then refused (as after a 401); the status page explains it in plain words with a
//! Reconnect button; clicking it goes to Fitbit and back, and the page is active again. And a
//! Fitbit participant comes back through "Connect with Google" and continues as themselves.
//! Screenshots are kept under `target/tmp`. `scripts/test.sh` installs Chromium, Node.js and
//! playwright-core; without one of them these tests fail under `CI=true` and, elsewhere, return
//! early with a warning that they did not run (`fitex_testkit::tools`).

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::*;
use fitex_connections::store::{self, SyncStatus};
use fitex_provider_simulator::google::health_user_id;
use fitex_testkit::tools::{self, CHROMIUM, NODE, PLAYWRIGHT_CORE};

/// Where the browser step finds its tools.
struct Browser {
    chromium: PathBuf,
    node: PathBuf,
    playwright: PathBuf,
}

fn browser_tools(test: &str) -> Option<Browser> {
    let mut found = tools::require(test, &[&CHROMIUM, &NODE, &PLAYWRIGHT_CORE])?.into_iter();
    let mut next = || found.next().expect("one path per tool");
    Some(Browser { chromium: next(), node: next(), playwright: next() })
}

/// Runs one browser step off the test's runtime, which must keep serving the portal meanwhile.
async fn drive(browser: &Browser, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/reconnect.cjs");
    let node = browser.node.clone();
    let mut command = Command::new(&node);
    command
        .arg(script)
        .args(args)
        .env("PLAYWRIGHT_CORE", &browser.playwright)
        .env("CHROMIUM", &browser.chromium);
    let output = tokio::task::spawn_blocking(move || {
        command.output().unwrap_or_else(|e| panic!("run {}: {e}", node.display()))
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "browser step {:?} failed:\n{out}\n{}",
        args[0],
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

#[tokio::test]
async fn a_participant_reconnects_in_the_browser() {
    let Some(browser) = browser_tools("a_participant_reconnects_in_the_browser") else { return };
    let portal = spawn_portal_plain_http().await;
    portal.create_sim_user("BROWSE1", &["activity", "heartrate", "profile", "settings"]).await;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("browser-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let (state, shots) = (state.to_str().unwrap(), dir.to_str().unwrap());

    let connected = drive(&browser, &["connect", &portal.base, "BROWSE1", state, shots]).await;
    assert!(connected.contains("BROWSE1"), "{connected}");

    // Fitbit refuses the token now: what the fetcher records after a 401.
    let reason =
        fitex_connections::reconnect_reason(fitex_provider::TokenProblem::Invalid, "fitbit");
    let (connection_id, ..) = portal.connection("BROWSE1").await;
    store::set_status(&portal.pool, connection_id, SyncStatus::ReconnectRequired, &reason)
        .await
        .unwrap();

    let flow = drive(&browser, &["reconnect", &portal.base, "BROWSE1", state, shots]).await;
    let before = flow.lines().find(|l| l.starts_with("BEFORE")).unwrap_or_default();
    let after = flow.lines().find(|l| l.starts_with("AFTER")).unwrap_or_default();
    assert!(
        before.contains("expired or was revoked") && before.contains("Reconnect Fitbit"),
        "{before}"
    );
    assert!(!before.contains("401"), "no error code shown: {before}");
    assert!(!after.contains("Reconnect Fitbit"), "active again: {after}");
    let (_, _, _, status) = portal.connection("BROWSE1").await;
    assert_eq!(status, "active");
    for shot in ["reconnect-required.png", "reconnected.png"] {
        let png = std::fs::read(dir.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000, "{shot}");
    }
    eprintln!("screenshots in {}", dir.display());
}

#[tokio::test]
async fn a_fitbit_participant_comes_back_through_google_in_the_browser() {
    let Some(browser) =
        browser_tools("a_fitbit_participant_comes_back_through_google_in_the_browser")
    else {
        return;
    };
    let portal = spawn_portal_with(PortalOptions { cookie_secure: false, google: true }).await;
    portal.create_sim_user("BROWSE2", &["activity", "heartrate", "profile", "settings"]).await;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("browser-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (fitbit_state, google_state) = (dir.join("fitbit.json"), dir.join("google.json"));
    let (fitbit_state, google_state) =
        (fitbit_state.to_str().unwrap(), google_state.to_str().unwrap());
    let shots = dir.to_str().unwrap();

    drive(&browser, &["connect", &portal.base, "BROWSE2", fitbit_state, shots]).await;
    let (_, participant_id, _, _) = portal.connection("BROWSE2").await;

    // Another day, another browser: the start page's Google button, the same person at Google.
    let flow = drive(&browser, &["google", &portal.base, "BROWSE2", google_state, shots]).await;
    let connected = flow.lines().find(|l| l.starts_with("CONNECTED")).unwrap_or_default();
    assert!(connected.contains("Google Health") && connected.contains("Syncing"), "{connected}");
    assert!(connected.contains("replaced by your Google Health connection"), "{connected}");
    assert!(!connected.contains("Reconnect"), "{connected}");
    let (_, google_participant, _, _) =
        portal.connection_at("google_health", &health_user_id("BROWSE2")).await;
    assert_eq!(google_participant, participant_id, "the same participant continues");
    for shot in ["start.png", "google-connected.png"] {
        let png = std::fs::read(dir.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000, "{shot}");
    }
    eprintln!("screenshots in {}", dir.display());
}
