//! Every participant page besides "My season", "My team" and "Log activity" (they have their own
//! scripts) in Chromium, with axe-core (tests/browser/pages.cjs): the start page, the sync status
//! page in each of its states (syncing, reconnect required, access revoked, a pasted token about
//! to expire, in a season, continued through Google), the pasted-token pages, the signed-out note,
//! an entry's edit page and each error page a participant can meet. Each at 1280 and 360 px: the
//! browser reached the page meant (status, heading, words), no serious or critical axe-core
//! violation, no horizontal scrolling, and a screenshot. The states are made as they happen: the
//! consent flows, pasted tokens and sign-out in the browser; a token refused later, or access
//! revoked at Fitbit, recorded as the fetcher records them, on a sign-in the test hands to the
//! browser as its cookie.

use std::path::Path;

use fitex_connections::reconnect_reason;
use fitex_connections::store::{self, SyncStatus};
use fitex_provider::{ProviderId, TokenProblem};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::activity::{post, swim};
use crate::browser::{
    assert_accessible_and_readable, assert_screenshots, browser_tools_with_axe, reported,
    run_script, shots_dir, Browser,
};
use crate::helpers::{
    browser_with_jar, location, spawn_portal_plain_http, spawn_portal_with, PortalOptions,
    TestPortal,
};
use crate::season::{attribute, seed_season, signed_in, tags};

const WIDTHS: [u32; 2] = [1280, 360];
const DAY: u64 = 86_400;
const YEAR: u64 = 365 * DAY;
const SCOPES: [&str; 4] = ["activity", "heartrate", "profile", "settings"];

/// A page the browser is to reach, how, and what it must show there.
struct Visit {
    /// Names the page in the script's reports and screenshots (`{name}-{width}.png`).
    name: &'static str,
    path: String,
    /// The `Cookie` header of a sign-in the test made, when the visit starts signed in.
    cookie: Option<String>,
    /// What the browser does after opening `path` (see pages.cjs).
    steps: Vec<Value>,
    status: u16,
    heading: &'static str,
    says: &'static [&'static str],
}

/// Opens `path` and expects a page answered with `status`, headed `heading`, that says each of
/// `says`.
fn visit(
    name: &'static str,
    path: impl Into<String>,
    (status, heading): (u16, &'static str),
    says: &'static [&'static str],
) -> Visit {
    Visit { name, path: path.into(), cookie: None, steps: vec![], status, heading, says }
}

impl Visit {
    fn signed_in(self, cookie: &str) -> Self {
        Visit { cookie: Some(cookie.to_string()), ..self }
    }

    fn then(mut self, step: Value) -> Self {
        self.steps.push(step);
        self
    }
}

/// Runs `visits` in Chromium at each width (pages.cjs), and checks each page against its visit.
async fn check_pages(
    browser: &Browser,
    axe: &Path,
    portal: &TestPortal,
    name: &str,
    visits: &[Visit],
) {
    let dir = shots_dir(name);
    let each = || WIDTHS.into_iter().flat_map(|width| visits.iter().map(move |v| (width, v)));
    let plan: Vec<Value> = each()
        .map(|(width, v)| {
            json!({
                "name": v.name, "width": width, "path": v.path,
                "cookie": v.cookie, "steps": v.steps,
            })
        })
        .collect();
    let plan_file = dir.join("plan.json");
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    let args = [portal.base.as_str(), plan_file.to_str().unwrap(), dir.to_str().unwrap()];
    let output = run_script(browser, "pages.cjs", &args, &[("AXE_CORE", axe)]).await;

    let shown = reported(&output, "PAGE");
    assert_eq!(shown.len(), plan.len(), "{output}");
    for (page, (width, v)) in shown.iter().zip(each()) {
        assert_eq!(
            (page["page"].as_str(), page["width"].as_u64()),
            (Some(v.name), Some(width.into()))
        );
        let (status, heading) = (page["status"].as_u64(), page["heading"].as_str());
        assert_eq!((status, heading), (Some(v.status.into()), Some(v.heading)), "{page:#}");
        let text = page["text"].as_str().unwrap();
        for words in v.says {
            assert!(text.contains(words), "{} at {width} px says {words:?}: {text}", v.name);
        }
    }
    assert_accessible_and_readable(&output, plan.len());
    assert_screenshots(&dir, each().map(|(width, v)| format!("{}-{width}.png", v.name)));
    eprintln!("screenshots in {}", dir.display());
}

/// `user` signed in through the Fitbit consent in a browser of their own: that browser's
/// `Cookie` header (for Chromium) and the stored connection.
async fn signed_in_elsewhere(portal: &TestPortal, user: &str) -> (String, store::Connection) {
    portal.create_sim_user(user, &SCOPES).await;
    let (browser, jar) = browser_with_jar();
    assert_eq!(portal.connect_in(&browser, user).await.status(), StatusCode::SEE_OTHER);
    let found = store::find_connection(&portal.pool, ProviderId::Fitbit, user).await.unwrap();
    (portal.cookie_in(&jar), found.expect("the connection"))
}

/// A browser on its way to Fitbit's consent page: its `Cookie` header (the round trip's `state`
/// is in its session) and that `state`.
async fn on_the_way_to_fitbit(portal: &TestPortal) -> (String, String) {
    let (browser, jar) = browser_with_jar();
    let start = browser.get(portal.url("/connect/fitbit")).send().await.unwrap();
    let consent = reqwest::Url::parse(&location(&start)).unwrap();
    let state = consent.query_pairs().find(|(name, _)| name == "state").expect("a state").1;
    (portal.cookie_in(&jar), state.into_owned())
}

#[tokio::test]
async fn the_start_status_token_and_error_pages_pass_axe_at_1280_and_360_px() {
    let test = "the_start_status_token_and_error_pages_pass_axe_at_1280_and_360_px";
    let Some((browser, axe)) = browser_tools_with_axe(test) else { return };
    let portal = spawn_portal_plain_http().await;

    // Syncing, renewed by FitEx; a pasted token of theirs asks before replacing it.
    let (syncing, _) = signed_in_elsewhere(&portal, "PAGES1").await;
    let renewing_users_token = portal.sim().issue_implicit_token("PAGES1", YEAR).await.unwrap();
    // Fitbit refused the token (what the fetcher records after a 401).
    let (refused, connection) = signed_in_elsewhere(&portal, "PAGES2").await;
    let reason = reconnect_reason(TokenProblem::Invalid, "fitbit");
    store::set_status(&portal.pool, connection.id, SyncStatus::ReconnectRequired, &reason)
        .await
        .unwrap();
    // Access revoked at Fitbit (what the fetcher records once Fitbit confirms it).
    let (revoked, connection) = signed_in_elsewhere(&portal, "PAGES3").await;
    store::disconnect(&portal.pool, connection.id, connection.connected_at).await.unwrap();
    // A token that expires tomorrow, pasted in the browser.
    portal.create_sim_user("PAGES4", &["activity", "profile"]).await;
    let expiring = portal.sim().issue_implicit_token("PAGES4", DAY).await.unwrap();
    // In a running season, with one logged activity.
    let me = signed_in(&portal, "PAGES6").await;
    let seeded = seed_season(&portal.pool, me, "Spring season").await;
    let logged = post(&portal, "/activity", &swim(seeded.today - chrono::Duration::days(2))).await;
    assert_eq!(logged.0, StatusCode::SEE_OTHER, "{}", logged.2);
    let (_, html) = portal.get_text("/activity").await;
    let entry = tags(&html, "<li data-entry=").pop().expect("the entry listed");
    let entry: i64 = attribute(entry, "data-entry").unwrap().parse().unwrap();
    let in_a_season = portal.copied_cookie();
    // Fitbit's code refused at the exchange.
    let (on_the_way, state) = on_the_way_to_fitbit(&portal).await;

    let start = "Connect your Fitbit";
    let sync = "Your activity sync";
    let visits = [
        visit("start", "/", (200, start), &["Or paste a Fitbit access token"]),
        visit("token-refused", "/", (400, start), &["look like a Fitbit access token"])
            .then(json!({ "paste": "hello" })),
        visit(
            "token-keep-or-replace",
            "/",
            (200, "Your Fitbit is already connected"),
            &["(PAGES1)", "Most people should keep their current connection"],
        )
        .then(json!({ "paste": renewing_users_token })),
        visit("form-expired", "/", (403, "Please try that again"), &["This form had expired"])
            .then(json!({ "forget": true }))
            .then(json!({ "paste": "hello" })),
        visit("status-syncing", "/status", (200, sync), &["Syncing", "Renewed automatically"])
            .signed_in(&syncing),
        visit(
            "status-reconnect-required",
            "/status",
            (200, sync),
            &["Your Fitbit access has expired or was revoked.", "Reconnect Fitbit"],
        )
        .signed_in(&refused),
        visit(
            "status-access-revoked",
            "/status",
            (200, sync),
            &["FitEx no longer has access to your Fitbit account", "Reconnect Fitbit"],
        )
        .signed_in(&revoked),
        visit(
            "status-pasted-token",
            "/",
            (200, sync),
            &["Your Fitbit access expires on", "Reconnect Fitbit"],
        )
        .then(json!({ "paste": expiring })),
        visit(
            "status-in-a-season",
            "/status",
            (200, sync),
            &["Spring season — week", "See your whole season"],
        )
        .signed_in(&in_a_season),
        visit(
            "activity-edit",
            format!("/activity/{entry}/edit"),
            (200, "Change an entry"),
            &["Delete this entry"],
        )
        .signed_in(&in_a_season),
        visit(
            "not-found",
            format!("/activity/{}/edit", entry + 1),
            (404, "Page not found"),
            &["There is no page at this address."],
        )
        .signed_in(&in_a_season),
        visit("signed-out", "/", (200, start), &["You are signed out."])
            .then(json!({ "click": "Connect your Fitbit" }))
            .then(json!({ "consent": "sim_user=PAGES5" }))
            .then(json!({ "click": "Sign out" })),
        // Where Fitbit sends the browser of someone who chose Deny.
        visit(
            "declined",
            "/connect/fitbit/callback?error=access_denied",
            (200, "Fitbit was not connected"),
            &["You chose not to let FitEx read your Fitbit data", "Try again"],
        ),
        visit(
            "link-expired",
            "/connect/fitbit/callback?code=old&state=old",
            (400, "This sign-in link has expired"),
            &["already used"],
        ),
        visit(
            "provider-trouble",
            format!("/connect/fitbit/callback?code=not-a-code&state={state}"),
            (502, "Fitbit was not connected"),
            &["Please try again in a few minutes"],
        )
        .signed_in(&on_the_way),
    ];
    check_pages(&browser, &axe, &portal, "pages", &visits).await;
}

#[tokio::test]
async fn the_pages_with_google_pass_axe_at_1280_and_360_px() {
    let test = "the_pages_with_google_pass_axe_at_1280_and_360_px";
    let Some((browser, axe)) = browser_tools_with_axe(test) else { return };
    let portal = spawn_portal_with(PortalOptions { cookie_secure: false, google: true }).await;

    // A Fitbit participant who came back through Google.
    portal.create_sim_user("PAGESG1", &SCOPES).await;
    assert_eq!(portal.connect_with_oauth("PAGESG1").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(portal.connect_with_google("PAGESG1").await.status(), StatusCode::SEE_OTHER);
    let continued = portal.copied_cookie();
    // A Fitbit participant whose token Fitbit refused, once Fitbit accounts connect through Google.
    let (refused, connection) = signed_in_elsewhere(&portal, "PAGESG2").await;
    let reason = reconnect_reason(TokenProblem::Invalid, "fitbit");
    store::set_status(&portal.pool, connection.id, SyncStatus::ReconnectRequired, &reason)
        .await
        .unwrap();

    let sync = "Your activity sync";
    let visits = [
        visit(
            "start-google",
            "/",
            (200, "Connect your activity tracker"),
            &["Connect with Google", "Fitbit accounts now connect through Google"],
        ),
        visit(
            "status-through-google",
            "/status",
            (200, sync),
            &["Syncing", "replaced by your Google Health connection"],
        )
        .signed_in(&continued),
        visit(
            "status-reconnect-through-google",
            "/status",
            (200, sync),
            &["Your Fitbit access has expired or was revoked.", "Reconnect through Google"],
        )
        .signed_in(&refused),
        visit(
            "google-declined",
            "/",
            (200, "Your Google account was not connected"),
            &["You chose not to let FitEx read your Google Health data"],
        )
        .then(json!({ "click": "Connect with Google" }))
        .then(json!({ "consent": "sim_user=PAGESG3&sim_deny=1" })),
    ];
    check_pages(&browser, &axe, &portal, "pages-google", &visits).await;
}
