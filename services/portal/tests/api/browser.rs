//! The connect flows in a real browser: Debian's Chromium driven by playwright-core (npm). A
//! participant signs in through "Connect your Fitbit"; their access is then refused (as after a
//! 401); the status page explains it in plain words with a Reconnect button; clicking it goes to
//! Fitbit and back, and the page is active again. And a Fitbit participant comes back through
//! "Connect with Google" and continues as themselves. Screenshots are kept under `target/tmp`.
//! `scripts/test.sh` installs chromium and playwright-core; without them this test says so and
//! passes (as `cargo test` alone on a developer machine).

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::*;
use fitex_fitbit_simulator::google::health_user_id;

fn playwright_core() -> Option<PathBuf> {
    let path = std::env::var("PLAYWRIGHT_CORE").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/fitex-sync/node/node_modules/playwright-core")
    });
    (path.exists() && PathBuf::from("/usr/bin/chromium").exists()).then_some(path)
}

/// Runs one browser step off the test's runtime, which must keep serving the portal meanwhile.
async fn drive(playwright: &PathBuf, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/reconnect.cjs");
    let mut command = Command::new("node");
    command.arg(script).args(args).env("PLAYWRIGHT_CORE", playwright);
    let output =
        tokio::task::spawn_blocking(move || command.output().expect("run node")).await.unwrap();
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
    let Some(playwright) = playwright_core() else {
        eprintln!(
            "skipped: chromium or playwright-core is not installed (scripts/test.sh installs both)"
        );
        return;
    };
    let portal = spawn_portal_plain_http().await;
    portal.create_sim_user("BROWSE1", &["activity", "heartrate", "profile", "settings"]).await;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("browser-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let (state, shots) = (state.to_str().unwrap(), dir.to_str().unwrap());

    let connected = drive(&playwright, &["connect", &portal.base, "BROWSE1", state, shots]).await;
    assert!(connected.contains("BROWSE1"), "{connected}");

    // Fitbit refuses the token now: what the fetcher records after a 401.
    let reason =
        fitex_fetcher::sync::reconnect_reason(fitex_provider::TokenProblem::Invalid, "fitbit");
    sqlx::query("UPDATE provider_connections SET sync_status = 'reconnect_required', status_reason = $1 WHERE provider_user_id = 'BROWSE1'")
        .bind(&reason)
        .execute(&portal.pool)
        .await
        .unwrap();

    let flow = drive(&playwright, &["reconnect", &portal.base, "BROWSE1", state, shots]).await;
    let before = flow.lines().find(|l| l.starts_with("BEFORE")).unwrap_or_default();
    let after = flow.lines().find(|l| l.starts_with("AFTER")).unwrap_or_default();
    assert!(
        before.contains("expired or was revoked") && before.contains("Reconnect Fitbit"),
        "{before}"
    );
    assert!(!before.contains("401"), "no error code shown: {before}");
    assert!(!after.contains("Reconnect Fitbit"), "active again: {after}");
    let status: String = sqlx::query_scalar(
        "SELECT sync_status FROM provider_connections WHERE provider_user_id = 'BROWSE1'",
    )
    .fetch_one(&portal.pool)
    .await
    .unwrap();
    assert_eq!(status, "active");
    for shot in ["reconnect-required.png", "reconnected.png"] {
        let png = std::fs::read(dir.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000, "{shot}");
    }
    eprintln!("screenshots in {}", dir.display());
}

#[tokio::test]
async fn a_fitbit_participant_comes_back_through_google_in_the_browser() {
    let Some(playwright) = playwright_core() else {
        eprintln!(
            "skipped: chromium or playwright-core is not installed (scripts/test.sh installs both)"
        );
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

    drive(&playwright, &["connect", &portal.base, "BROWSE2", fitbit_state, shots]).await;
    let (_, participant_id, _, _) = portal.connection("BROWSE2").await;

    // Another day, another browser: the start page's Google button, the same person at Google.
    let flow = drive(&playwright, &["google", &portal.base, "BROWSE2", google_state, shots]).await;
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
