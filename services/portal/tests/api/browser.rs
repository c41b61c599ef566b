//! The connect flows in a real browser: Chromium (found on PATH, or `CHROMIUM`) driven by
//! playwright-core (npm) under Node.js. A participant signs in through "Connect your Fitbit"; their
//! access is then refused (as after a 401); the status page explains it in plain words with a
//! Reconnect button; clicking it goes to Fitbit and back, and the page is active again. And a
//! Fitbit participant comes back through "Connect with Google" and continues as themselves. And
//! "My season" and "My team" (tests/browser/season.cjs): the chart's days and the leaderboard as
//! the browser sees them against the database, axe-core (npm) on every page at 1280 and 360 px,
//! no horizontal scrolling, and screenshots of each. The helpers here also run "Log activity" in
//! the browser (`activity.rs`, tests/browser/activity.cjs).
//! Screenshots are kept under `target/tmp`. `scripts/test.sh` installs Chromium, Node.js and
//! playwright-core; without one of them these tests fail under `CI=true` and, elsewhere, return
//! early with a warning that they did not run (`fitex_testkit::tools`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::*;
use crate::season;
use fitex_connections::store::{self, SyncStatus};
use fitex_goals_store::store as goals_store;
use fitex_provider_simulator::google::health_user_id;
use fitex_testkit::tools::{self, AXE_CORE, CHROMIUM, NODE, PLAYWRIGHT_CORE};

/// Where the browser step finds its tools.
pub struct Browser {
    chromium: PathBuf,
    node: PathBuf,
    playwright: PathBuf,
}

fn browser_tools(test: &str) -> Option<Browser> {
    let mut found = tools::require(test, &[&CHROMIUM, &NODE, &PLAYWRIGHT_CORE])?.into_iter();
    let mut next = || found.next().expect("one path per tool");
    Some(Browser { chromium: next(), node: next(), playwright: next() })
}

/// The browser's tools and axe-core (for scripts that check pages with it, `AXE_CORE`).
pub fn browser_tools_with_axe(test: &str) -> Option<(Browser, PathBuf)> {
    let found = tools::require(test, &[&CHROMIUM, &NODE, &PLAYWRIGHT_CORE, &AXE_CORE])?;
    let mut found = found.into_iter();
    let mut next = || found.next().expect("one path per tool");
    Some((Browser { chromium: next(), node: next(), playwright: next() }, next()))
}

/// Runs one browser step off the test's runtime, which must keep serving the portal meanwhile.
pub async fn drive(browser: &Browser, args: &[&str]) -> String {
    run_script(browser, "reconnect.cjs", args, &[]).await
}

/// Runs `tests/browser/{script}` under Node.js with the browser's tools and `env`; its output.
pub async fn run_script(
    browser: &Browser,
    script: &str,
    args: &[&str],
    env: &[(&str, &Path)],
) -> String {
    let script = format!("{}/tests/browser/{script}", env!("CARGO_MANIFEST_DIR"));
    let node = browser.node.clone();
    let mut command = Command::new(&node);
    command
        .arg(script)
        .args(args)
        .env("PLAYWRIGHT_CORE", &browser.playwright)
        .env("CHROMIUM", &browser.chromium);
    for (name, value) in env {
        command.env(name, value);
    }
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
    let dir = shots_dir("browser");
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
    assert_screenshots(&dir, ["reconnect-required.png", "reconnected.png"]);
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
    let dir = shots_dir("browser");
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
    assert_screenshots(&dir, ["start.png", "google-connected.png"]);
    eprintln!("screenshots in {}", dir.display());
}

/// A participant in a running season (`season::seed_season`), signed in through "Connect your
/// Fitbit" in the browser as the simulator's `user`. Returns a directory of the test's own,
/// `{name}-…`, under the target directory like the others, for screenshots a reviewer can open
/// (its `state.json` holds the browser's cookies), the participant and the season.
pub async fn in_a_season_in_the_browser(
    browser: &Browser,
    portal: &TestPortal,
    user: &str,
    name: &str,
) -> (PathBuf, i64, season::Seeded) {
    portal.create_sim_user(user, &["activity", "heartrate", "profile", "settings"]).await;
    let dir = shots_dir(name);
    let state = dir.join("state.json");
    let (state, shots) = (state.to_str().unwrap(), dir.to_str().unwrap());
    drive(browser, &["connect", &portal.base, user, state, shots]).await;
    let (_, me, _, _) = portal.connection(user).await;
    let seeded = season::seed_season(&portal.pool, me, "Spring season").await;
    (dir, me, seeded)
}

/// The pages a script checked (report.cjs `checkPage`; `pages` of them): no serious or critical
/// axe-core violation, and no horizontal scrolling at any width.
pub fn assert_accessible_and_readable(output: &str, pages: usize) {
    let checks = reported(output, "AXE");
    assert_eq!(checks.len(), pages, "{output}");
    for check in &checks {
        let bad: Vec<&serde_json::Value> = check["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(bad.is_empty(), "{} at {} px: {bad:#?}", check["page"], check["width"]);
    }
    let widths = reported(output, "WIDTH");
    assert_eq!(widths.len(), pages, "{output}");
    for width in widths {
        let (viewport, page) = (width["width"].as_i64().unwrap(), width["scrollWidth"].as_i64());
        assert!(page.unwrap() <= viewport, "{width}");
    }
}

/// A new directory of the test's own, `{name}-…` under the target directory, for screenshots a
/// reviewer can open.
pub fn shots_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Each of `shots` in `dir` is a PNG of a page, not a blank image.
pub fn assert_screenshots<S: AsRef<str>>(dir: &Path, shots: impl IntoIterator<Item = S>) {
    for shot in shots {
        let shot = shot.as_ref();
        let png = std::fs::read(dir.join(shot)).unwrap_or_else(|e| panic!("{shot}: {e}"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000, "{shot}");
    }
}

/// The lines of a browser step's output named `name`, each one JSON value.
pub fn reported(output: &str, name: &str) -> Vec<serde_json::Value> {
    let prefix = format!("{name} ");
    output
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|json| serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}: {json}")))
        .collect()
}

#[tokio::test]
async fn the_season_pages_in_the_browser_match_the_database_and_pass_axe() {
    let test = "the_season_pages_in_the_browser_match_the_database_and_pass_axe";
    let Some((browser, axe)) = browser_tools_with_axe(test) else { return };
    let portal = spawn_portal_plain_http().await;
    let (dir, me, seeded) =
        in_a_season_in_the_browser(&browser, &portal, "BROWSE3", "season").await;
    let state = dir.join("state.json");
    let (state, shots) = (state.to_str().unwrap(), dir.to_str().unwrap());

    let output =
        run_script(&browser, "season.cjs", &[&portal.base, state, shots], &[("AXE_CORE", &axe)])
            .await;

    // The chart's days, as the browser reads them, are the database's.
    let points: Vec<season::ChartPoint> =
        serde_json::from_value(reported(&output, "POINTS").pop().expect("POINTS")).unwrap();
    let expected = season::expected_points(
        &portal.pool,
        me,
        seeded.program_id,
        seeded.start,
        &season::MY_KINDS,
    )
    .await;
    assert_eq!(points, expected);
    // The leaderboard in the goals store's order, the participant's team marked.
    let (_, standings) =
        goals_store::program_leaderboard(&portal.pool, seeded.program_id, None).await.unwrap();
    let rows = reported(&output, "LEADERBOARD").pop().expect("LEADERBOARD");
    let shown: Vec<(String, bool)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["team"].as_str().unwrap().to_string(), r["current"].as_bool().unwrap()))
        .collect();
    let wanted: Vec<(String, bool)> =
        standings.iter().map(|s| (s.name.clone(), s.entry.team_id == seeded.walkers)).collect();
    assert_eq!(shown, wanted);
    // No serious or critical accessibility violation on either page at either width; readable
    // at 360 px: no horizontal scrolling, and the chart fits.
    assert_accessible_and_readable(&output, 4);
    for chart in reported(&output, "CHART_WIDTH") {
        assert!(chart["chart"].as_f64().unwrap() <= chart["width"].as_f64().unwrap(), "{chart}");
    }
    assert_screenshots(
        &dir,
        ["season-1280.png", "season-360.png", "team-1280.png", "team-360.png"],
    );
    eprintln!("screenshots in {}", dir.display());
}
