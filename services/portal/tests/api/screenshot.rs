//! Renders the reconnect-required status page, exactly as served to a signed-in participant, in
//! headless Chromium (found on PATH, or `CHROMIUM`; without it the test fails under `CI=true` and,
//! elsewhere, returns early with a warning that it did not run: `fitex_testkit::tools`). Chromium
//! cannot take the session cookie on its command line, so the served HTML is saved and rendered
//! from a file: same markup and styles, no test-only route in the portal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fitex_connections::reconnect_reason;
use fitex_connections::store::{self, SyncStatus};
use fitex_provider::TokenProblem;

use crate::helpers::spawn_portal;
use fitex_testkit::tools::{self, CHROMIUM};

async fn chromium(chromium: &Path, profile: &Path, args: &[String]) -> std::process::Output {
    let mut command = tokio::process::Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("chromium finished within 90 s")
        .unwrap_or_else(|e| panic!("run {}: {e}", chromium.display()))
}

#[tokio::test]
async fn chromium_renders_the_reconnect_required_page() {
    let Some(found) = tools::require("chromium_renders_the_reconnect_required_page", &[&CHROMIUM])
    else {
        return;
    };
    let browser = &found[0];
    let portal = spawn_portal().await;
    portal.connect_with_oauth("SHOT1").await;
    let (connection_id, _, _, _) = portal.connection("SHOT1").await;
    let reason = reconnect_reason(TokenProblem::Invalid, "fitbit");
    store::set_status(&portal.pool, connection_id, SyncStatus::ReconnectRequired, &reason)
        .await
        .unwrap();
    let (_, html) = portal.get_text("/status").await;

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("portal-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("status.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());
    let shot = dir.join("reconnect-required.png");

    let dom =
        chromium(browser, &dir.join("profile-dom"), &["--dump-dom".into(), url.clone()]).await;
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom_text.contains("Reconnect Fitbit") && dom_text.contains("expired or was revoked"),
        "rendered DOM: {dom_text}\nstderr: {}",
        String::from_utf8_lossy(&dom.stderr)
    );

    let output = chromium(
        browser,
        &dir.join("profile-shot"),
        &[format!("--screenshot={}", shot.display()), "--window-size=1000,900".into(), url],
    )
    .await;
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!("no screenshot ({e}); stderr: {}", String::from_utf8_lossy(&output.stderr))
    });
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(png.len() > 5_000, "a page, not a blank image ({} bytes)", png.len());
    eprintln!("screenshot: {}", shot.display());
}
