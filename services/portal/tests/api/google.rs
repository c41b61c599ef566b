//! Connecting through Google (the Google Health API, where Fitbit accounts live since the Fitbit
//! Web API was switched off), against the simulator's Google mode.

use std::collections::HashMap;

use fitex_connections::reconnect_reason;
use fitex_connections::store::{self, SyncStatus};
use fitex_google_health::oauth::ACTIVITY_SCOPE;
use fitex_provider::TokenProblem;
use fitex_provider_simulator::google::health_user_id;
use fitex_provider_simulator::CreateUser;
use reqwest::StatusCode;
use secrecy::ExposeSecret;

use crate::helpers::{location, spawn_portal, spawn_portal_with_google, token_cipher};
use crate::helpers::{TestPortal, GOOGLE_CLIENT_ID};

const GOOGLE: &str = "google_health";
const REPLACED: &str = "replaced by your Google Health connection; your history and goals \
                        carried over";

/// The participant's connection rows: (id, provider, provider user id, sync status, superseded by).
async fn connections(
    portal: &TestPortal,
    participant_id: i64,
) -> Vec<(i64, String, String, String, Option<i64>)> {
    let views = store::connection_views(&portal.pool, participant_id).await.unwrap();
    views
        .into_iter()
        .map(|c| (c.id, c.provider, c.provider_user_id, c.sync_status, c.superseded_by))
        .collect()
}

/// `days` stored days of history for the participant (what the fetcher had stored from Fitbit).
async fn store_history(portal: &TestPortal, participant_id: i64, days: i64) {
    let today = "America/New_York"
        .parse::<fitex_common::zone::ParticipantZone>()
        .unwrap()
        .today(chrono::Utc::now());
    for back in 30..30 + days {
        sqlx::query(
            "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
                 lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
                 source, fetched_at)
             VALUES ($1, $2, 6500, 4.9, 600, 180, 20, 15, 900, 'fitbit', now())",
        )
        .bind(participant_id)
        .bind(today - chrono::Duration::days(back))
        .execute(&portal.pool)
        .await
        .unwrap();
    }
}

/// What a participant reads on the page: no styles, tags or attribute values (a CSRF token or a
/// CSS colour may contain digits that look like an error code).
fn visible_text(html: &str) -> String {
    let body = html.split("</style>").nth(1).unwrap_or(html);
    let mut text = String::with_capacity(body.len());
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

async fn days_stored(portal: &TestPortal, participant_id: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM activity_days WHERE participant_id = $1")
        .bind(participant_id)
        .fetch_one(&portal.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_consent_redirect_asks_google_for_offline_access_with_pkce() {
    let portal = spawn_portal_with_google().await;
    let start = portal.client.get(portal.url("/connect/google")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let authorize = location(&start);
    assert!(
        authorize.starts_with(&format!("{}/google/o/oauth2/v2/auth?", portal.sim.base_url())),
        "{authorize}"
    );
    let url = reqwest::Url::parse(&authorize).unwrap();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], GOOGLE_CLIENT_ID);
    assert_eq!(query["redirect_uri"], format!("{}/connect/google/callback", portal.base));
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["prompt"], "consent");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    assert!(query["state"].len() >= 16, "{authorize}");
    assert!(query["scope"].split(' ').any(|s| s == ACTIVITY_SCOPE), "{authorize}");
    let set_cookie = start.headers().get("set-cookie").unwrap().to_str().unwrap().to_lowercase();
    for attribute in ["httponly", "secure", "samesite=lax"] {
        assert!(set_cookie.contains(attribute), "{attribute} missing from {set_cookie}");
    }

    // Every round trip gets its own state.
    let again = portal.client.get(portal.url("/connect/google")).send().await.unwrap();
    let again = reqwest::Url::parse(&location(&again)).unwrap();
    let again: HashMap<String, String> = again.query_pairs().into_owned().collect();
    assert_ne!(again["state"], query["state"]);
    assert_ne!(again["code_challenge"], query["code_challenge"]);
}

#[tokio::test]
async fn connecting_through_google_signs_in_under_the_google_identity() {
    let portal = spawn_portal_with_google().await;
    portal.create_sim_user("GOOG1", &["activity", "heartrate", "profile", "settings"]).await;

    let done = portal.connect_with_google("GOOG1").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", done.text().await.unwrap());
    assert_eq!(location(&done), "/status");

    let health_id = health_user_id("GOOG1");
    assert_ne!(health_id, "GOOG1");
    let (connection_id, participant_id, kind, sync_status) =
        portal.connection_at(GOOGLE, &health_id).await;
    assert_eq!(kind.as_deref(), Some("authorization_code"));
    assert_eq!(sync_status, "active");
    assert!(participant_id > 0);
    assert_eq!(portal.count("provider_connections").await, 1, "no Fitbit connection made");

    // Both tokens stored, encrypted under the connection's own contexts.
    let stored = store::connection_by_id(&portal.pool, connection_id).await.unwrap().unwrap();
    let (access, refresh, zone) =
        (stored.access_token.unwrap(), stored.refresh_token, stored.time_zone);
    assert_eq!(zone, "America/New_York", "read from Google's settings");
    let cipher = token_cipher();
    let plain_access = cipher.decrypt(&access, &store::access_context(connection_id)).unwrap();
    assert!(plain_access.expose_secret().starts_with("ya29."), "a Google access token");
    assert!(!String::from_utf8_lossy(&access).contains(plain_access.expose_secret()));
    let refresh = refresh.expect("offline access stores a refresh token");
    let plain_refresh = cipher.decrypt(&refresh, &store::refresh_context(connection_id)).unwrap();
    assert!(plain_refresh.expose_secret().starts_with("1//"), "a Google refresh token");
    assert!(!String::from_utf8_lossy(&refresh).contains(plain_refresh.expose_secret()));

    let (status, html) = portal.get_text("/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Google Health"), "{html}");
    assert!(html.contains(&health_id), "{html}");
    assert!(html.contains("Syncing"), "{html}");
    assert!(html.contains("Renewed automatically"), "{html}");
    assert!(!html.contains("Reconnect") && !html.contains("role=\"alert\""), "{html}");
    // Signed in: the start page leads to the status page.
    let home = portal.client.get(portal.url("/")).send().await.unwrap();
    assert_eq!(location(&home), "/status");
    // Google's subscriber covers every consenting user: no per-user subscription call.
    let stats = portal.sim().stats().await.unwrap();
    assert_eq!(stats.api_calls_by_endpoint.get("subscriptions").copied().unwrap_or(0), 0);
}

#[tokio::test]
async fn a_fitbit_participant_continues_through_google_with_their_history() {
    let portal = spawn_portal_with_google().await;
    assert_eq!(portal.connect_with_oauth("MIGR1").await.status(), StatusCode::SEE_OTHER);
    let (fitbit_id, participant_id, _, _) = portal.connection("MIGR1").await;
    store_history(&portal, participant_id, 3).await;
    portal.sign_out().await;

    // The same person, now through Google (the simulator names MIGR1 as the legacy Fitbit id).
    let done = portal.connect_with_google("MIGR1").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", done.text().await.unwrap());
    let (google_id, google_participant, _, google_status) =
        portal.connection_at(GOOGLE, &health_user_id("MIGR1")).await;
    assert_eq!(google_participant, participant_id, "the same participant continues");
    assert_eq!(google_status, "active");
    assert_eq!(portal.count("participants").await, 1);
    assert_eq!(days_stored(&portal, participant_id).await, 3, "the history is kept");
    let rows = connections(&portal, participant_id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let fitbit = rows.iter().find(|r| r.0 == fitbit_id).unwrap();
    assert_eq!((fitbit.1.as_str(), fitbit.2.as_str()), ("fitbit", "MIGR1"));
    assert_eq!(fitbit.3, "disconnected");
    assert_eq!(fitbit.4, Some(google_id));

    // Signed in as that participant: their days, the Google connection, and a quiet line.
    let (status, html) = portal.get_text("/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<dt>Days stored</dt><dd>3</dd>"), "{html}");
    assert!(html.contains("Google Health") && html.contains("Syncing"), "{html}");
    assert!(html.contains("Fitbit (before "), "{html}");
    assert!(html.contains(REPLACED), "{html}");
    assert!(!html.contains("needs to be reconnected"), "{html}");
    assert!(!html.contains("role=\"alert\""), "{html}");
    assert!(!html.contains("No activity tracker is connected"), "{html}");
}

#[tokio::test]
async fn a_person_who_never_used_fitbit_becomes_a_new_participant() {
    let portal = spawn_portal_with_google().await;
    // Someone else already takes part through Fitbit.
    assert_eq!(portal.connect_with_oauth("FITB1").await.status(), StatusCode::SEE_OTHER);
    let (_, fitbit_participant, _, _) = portal.connection("FITB1").await;
    portal.sign_out().await;

    let tokens = portal
        .sim()
        .create_google_only_user(CreateUser {
            user_id: Some("GONLY1".into()),
            ..CreateUser::default()
        })
        .await
        .unwrap();
    let done = portal.connect_with_google("GONLY1").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", done.text().await.unwrap());
    let (_, participant_id, _, status) = portal.connection_at(GOOGLE, &tokens.health_user_id).await;
    assert_eq!(status, "active");
    assert_ne!(participant_id, fitbit_participant);
    assert_eq!(portal.count("participants").await, 2);
    assert_eq!(connections(&portal, participant_id).await.len(), 1);
    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains(&tokens.health_user_id) && html.contains("Syncing"), "{html}");
    assert!(!html.contains("replaced by"), "{html}");
    assert!(!html.contains("FITB1"), "another participant's connection: {html}");
}

#[tokio::test]
async fn a_declined_google_consent_gets_a_kind_page_and_connects_nothing() {
    let portal = spawn_portal_with_google().await;
    let callback = portal.google_consent("sim_user=DENY1&sim_deny=1").await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let (status, html) = {
        let response = portal.client.get(callback).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You chose not to let FitEx read your Google Health data"), "{html}");
    assert!(html.contains("nothing was connected"), "{html}");
    assert!(html.contains("needs access to your activity"), "{html}");
    assert!(html.contains("whenever you are ready"), "{html}");
    assert!(html.contains("href=\"/connect/google\""), "Try again goes to Google: {html}");
    assert!(!html.contains("/connect/fitbit"), "{html}");
    assert!(!visible_text(&html).contains("access_denied"), "no error codes: {html}");
    assert_eq!(portal.count("provider_connections").await, 0);
    let status = portal.client.get(portal.url("/status")).send().await.unwrap();
    assert_eq!(location(&status), "/");
}

#[tokio::test]
async fn a_tampered_or_reused_google_callback_is_refused() {
    let portal = spawn_portal_with_google().await;
    // No round trip started in this session.
    let (status, html) = portal.get_text("/connect/google/callback?code=abc&state=xyz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("This sign-in link has expired"), "{html}");
    assert!(html.contains("href=\"/connect/google\""), "{html}");

    // A real code, but a state that is not the session's.
    let callback = portal.google_consent("sim_user=TAMPER1").await;
    let mut url = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" { "forged".to_string() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    assert_ne!(url.as_str(), callback);
    let refused = portal.client.get(url.as_str()).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("expired"));
    assert_eq!(portal.count("provider_connections").await, 0);
    assert_eq!(location(&portal.client.get(portal.url("/status")).send().await.unwrap()), "/");

    // A good callback works once; the same URL again is refused and connects nothing more.
    let callback = portal.google_consent("sim_user=TAMPER1").await;
    let done = portal.client.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let replay = portal.client.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("expired or was already used"));
    assert_eq!(portal.count("provider_connections").await, 1);
}

#[tokio::test]
async fn a_refused_code_exchange_gets_the_provider_trouble_page() {
    let portal = spawn_portal_with_google().await;
    let callback = portal.google_consent("sim_user=REFUSE1").await;
    // A code Google does not know (expired, or already used elsewhere): invalid_grant.
    let mut url = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code" { "not-a-code".to_string() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let response = portal.client.get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let html = response.text().await.unwrap();
    assert!(html.contains("Google did not complete the connection"), "{html}");
    assert!(html.contains("href=\"/connect/google\""), "{html}");
    assert!(!visible_text(&html).contains("invalid_grant"), "{html}");
    assert_eq!(portal.count("provider_connections").await, 0);
}

#[tokio::test]
async fn a_google_connection_that_needs_reconnecting_is_explained_with_a_google_button() {
    let portal = spawn_portal_with_google().await;
    assert_eq!(portal.connect_with_google("RECON2").await.status(), StatusCode::SEE_OTHER);
    let (connection_id, _, _, _) = portal.connection_at(GOOGLE, &health_user_id("RECON2")).await;
    let reason = reconnect_reason(TokenProblem::Invalid, GOOGLE);
    store::set_status(&portal.pool, connection_id, SyncStatus::ReconnectRequired, &reason)
        .await
        .unwrap();

    let (status, html) = portal.get_text("/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your Google Health access has expired or was revoked."), "{html}");
    assert!(html.contains("Your Google Health needs to be reconnected"), "{html}");
    assert!(html.contains("Reconnect needed"), "{html}");
    assert!(html.contains("href=\"/connect/google\""), "{html}");
    assert!(html.contains("Reconnect Google Health"), "{html}");
    assert!(!html.contains("/connect/fitbit"), "{html}");
    for code in ["401", "invalid_grant", "UNAUTHENTICATED"] {
        assert!(!visible_text(&html).contains(code), "no error codes: {html}");
    }

    // Reconnecting through the button makes the same connection active again.
    assert_eq!(portal.connect_with_google("RECON2").await.status(), StatusCode::SEE_OTHER);
    let (again, _, _, sync_status) = portal.connection_at(GOOGLE, &health_user_id("RECON2")).await;
    assert_eq!((again, sync_status.as_str()), (connection_id, "active"));
    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains("Syncing") && !html.contains("Reconnect needed"), "{html}");
}

#[tokio::test]
async fn a_retired_fitbit_connection_is_reconnected_through_google() {
    let portal = spawn_portal_with_google().await;
    assert_eq!(portal.connect_with_oauth("RETIRE1").await.status(), StatusCode::SEE_OTHER);
    let (fitbit_id, participant_id, _, _) = portal.connection("RETIRE1").await;
    // What the fetcher records when Fitbit answers 410 Gone.
    let reason = reconnect_reason(TokenProblem::PlatformRetired, "fitbit");
    store::set_status(&portal.pool, fitbit_id, SyncStatus::ReconnectRequired, &reason)
        .await
        .unwrap();

    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains("Google switched off the old Fitbit connection"), "{html}");
    assert!(html.contains("Reconnect through Google"), "{html}");
    assert!(html.contains("href=\"/connect/google\""), "{html}");
    assert!(!html.contains("href=\"/connect/fitbit\""), "{html}");
    assert!(!visible_text(&html).contains("410"), "no error codes: {html}");

    // Following the button: the same participant, now through Google, nothing left to fix.
    assert_eq!(portal.connect_with_google("RETIRE1").await.status(), StatusCode::SEE_OTHER);
    let (_, google_participant, _, _) =
        portal.connection_at(GOOGLE, &health_user_id("RETIRE1")).await;
    assert_eq!(google_participant, participant_id);
    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains(REPLACED), "{html}");
    assert!(!html.contains("Reconnect"), "{html}");
    assert!(!html.contains("role=\"alert\""), "{html}");
}

#[tokio::test]
async fn the_start_page_leads_with_google() {
    let portal = spawn_portal_with_google().await;
    let (status, html) = portal.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    let google = html.find("href=\"/connect/google\"").expect("a Google button");
    let fitbit = html.find("href=\"/connect/fitbit\"").expect("Fitbit stays an option");
    assert!(google < fitbit, "Google first: {html}");
    assert!(html.contains("Connect with Google"), "{html}");
    assert!(html.contains("Fitbit accounts now connect through Google"), "{html}");
    assert!(html.contains("your history and goals carry over"), "{html}");
    assert!(html.contains("Connect your Fitbit"), "{html}");
    assert!(html.contains("action=\"/token\""), "{html}");

    // A participant left with no connection at all is offered Google too.
    assert_eq!(portal.connect_with_google("GONE1").await.status(), StatusCode::SEE_OTHER);
    sqlx::query("DELETE FROM provider_connections").execute(&portal.pool).await.unwrap();
    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains("No activity tracker is connected"), "{html}");
    assert!(html.contains("Connect with Google") && html.contains("href=\"/connect/google\""));
}

#[tokio::test]
async fn without_google_configured_there_is_no_google_route_or_button() {
    let portal = spawn_portal().await;
    let (status, _) = portal.get_text("/connect/google").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = portal.get_text("/connect/google/callback?code=abc&state=xyz").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, html) = portal.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("/connect/google") && !html.contains("Google"), "{html}");
    assert!(html.contains("href=\"/connect/fitbit\""), "{html}");

    // A Fitbit connection to fix is reconnected through Fitbit, as before.
    assert_eq!(portal.connect_with_oauth("NOGOOG1").await.status(), StatusCode::SEE_OTHER);
    let (connection_id, _, _, _) = portal.connection("NOGOOG1").await;
    let reason = reconnect_reason(TokenProblem::Invalid, "fitbit");
    store::set_status(&portal.pool, connection_id, SyncStatus::ReconnectRequired, &reason)
        .await
        .unwrap();
    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains("Reconnect Fitbit") && html.contains("href=\"/connect/fitbit\""));
    assert!(!html.contains("/connect/google"), "{html}");
}
