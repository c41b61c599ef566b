use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fitex_connections::reconnect_reason;
use fitex_connections::store::{self, SyncStatus};
use fitex_fitbit::oauth::read_access_token_claims;
use fitex_provider::{ProviderId, TokenProblem};
use reqwest::StatusCode;

use crate::helpers::{browser, csrf_in, location, spawn_portal, TestPortal};

const YEAR: u64 = 31_536_000;

#[tokio::test]
async fn a_valid_pasted_token_connects_and_signs_in() {
    let portal = spawn_portal().await;
    portal.create_sim_user("PASTE1", &["activity", "heartrate", "profile"]).await;
    let token = portal.sim().issue_implicit_token("PASTE1", YEAR).await.unwrap();
    // Pasted with surrounding whitespace and a line break, as copied from a page.
    let pasted = format!("  {}\n{}  ", &token[..20], &token[20..]);
    let response = portal.paste(&pasted).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), "/status");

    let (_, _, kind, status) = portal.connection("PASTE1").await;
    assert_eq!(kind.as_deref(), Some("implicit"));
    assert_eq!(status, "active");
    let (status, html) = portal.get_text("/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("PASTE1"), "{html}");
    assert!(html.contains("Your pasted token expires"), "{html}");
    assert!(!html.contains("Reconnect"), "a year-long token is not about to expire: {html}");
}

#[tokio::test]
async fn a_pasted_token_that_expires_soon_is_announced() {
    let portal = spawn_portal().await;
    portal.create_sim_user("PASTE2", &["activity", "profile"]).await;
    let token = portal.sim().issue_implicit_token("PASTE2", 86_400).await.unwrap();
    assert_eq!(portal.paste(&token).await.status(), StatusCode::SEE_OTHER);
    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains("Your Fitbit access expires on"), "{html}");
    assert!(html.contains("Reconnect before then"), "{html}");
    assert!(html.contains("Reconnect Fitbit"), "{html}");
}

#[tokio::test]
async fn a_token_without_the_activity_scope_is_explained() {
    let portal = spawn_portal().await;
    portal.create_sim_user("PASTE3", &["heartrate", "profile"]).await;
    let token = portal.sim().issue_implicit_token("PASTE3", YEAR).await.unwrap();
    let response = portal.paste(&token).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("doesn&#39;t allow FitEx to read your activity")
            || html.contains("doesn't allow FitEx to read your activity"),
        "{html}"
    );
    assert!(html.contains("Activity permission"), "{html}");
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM provider_connections")
        .fetch_one(&portal.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn garbage_and_revoked_tokens_are_explained() {
    let portal = spawn_portal().await;
    for garbage in ["hello", "not.a.jwt", "<script>alert(1)</script>"] {
        let response = portal.paste(garbage).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let html = response.text().await.unwrap();
        assert!(html.contains("look like a Fitbit access token"), "{html}");
        assert!(!html.contains("<script>alert"), "never echoed unescaped");
    }

    // Readable, but expired (checked before asking Fitbit).
    let expired = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"OLD1","scopes":"wact wpro","exp":1767225600}"#)
    );
    let html = portal.paste(&expired).await.text().await.unwrap();
    assert!(html.contains("This token expired on 1 January 2026 at 00:00 (UTC)"), "{html}");

    portal.create_sim_user("PASTE4", &["activity", "profile"]).await;
    let token = portal.sim().issue_implicit_token("PASTE4", YEAR).await.unwrap();
    portal.sim().revoke("PASTE4").await.unwrap();
    let response = portal.paste(&token).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(html.contains("Fitbit says this token has expired or was revoked"), "{html}");
    assert!(portal
        .client
        .get(portal.url("/status"))
        .send()
        .await
        .unwrap()
        .status()
        .is_redirection());
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_are_refused() {
    let portal = spawn_portal().await;
    portal.create_sim_user("PASTE5", &["activity", "profile"]).await;
    let token = portal.sim().issue_implicit_token("PASTE5", YEAR).await.unwrap();
    let _ = portal.csrf().await;
    let missing =
        portal.client.post(portal.url("/token")).form(&[("token", token.as_str())]).send().await;
    assert_eq!(missing.unwrap().status(), StatusCode::FORBIDDEN);
    let wrong = portal
        .client
        .post(portal.url("/token"))
        .form(&[("token", token.as_str()), ("csrf", "guessed")])
        .send()
        .await;
    assert_eq!(wrong.unwrap().status(), StatusCode::FORBIDDEN);
    // Another browser's valid token does not work with this session.
    let other = browser();
    let other_html = other.get(portal.url("/")).send().await.unwrap().text().await.unwrap();
    let other_csrf = csrf_in(&other_html);
    let cross = portal
        .client
        .post(portal.url("/token"))
        .form(&[("token", token.as_str()), ("csrf", other_csrf.as_str())])
        .send()
        .await;
    assert_eq!(cross.unwrap().status(), StatusCode::FORBIDDEN);
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM provider_connections")
        .fetch_one(&portal.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);

    // Signing out needs the token too; with it the session ends.
    assert_eq!(portal.paste(&token).await.status(), StatusCode::SEE_OTHER);
    let forged = portal.client.post(portal.url("/signout")).form(&[("csrf", "x")]).send().await;
    assert_eq!(forged.unwrap().status(), StatusCode::FORBIDDEN);
    let (_, html) = portal.get_text("/status").await;
    let csrf = csrf_in(&html);
    let out = portal.client.post(portal.url("/signout")).form(&[("csrf", csrf)]).send().await;
    assert_eq!(location(&out.unwrap()), "/");
    assert_eq!(location(&portal.client.get(portal.url("/status")).send().await.unwrap()), "/");
}

/// What a connection's renewal rests on: (token kind, the access and refresh ciphertexts, token
/// version).
type Tokens = (Option<String>, Option<Vec<u8>>, Option<Vec<u8>>, i64);

async fn tokens_of(portal: &TestPortal, user: &str) -> Tokens {
    let found = store::find_connection(&portal.pool, ProviderId::Fitbit, user).await.unwrap();
    let c = found.expect("a Fitbit connection");
    (c.token_kind.map(|k| k.as_str().to_string()), c.access_token, c.refresh_token, c.token_version)
}

/// The participant connected through "Connect your Fitbit" (renewed automatically), then signed
/// out; returns their connection's tokens and a year-long token of the same account to paste.
async fn renewing_connection_and_a_token(portal: &TestPortal, user: &str) -> (Tokens, String) {
    assert_eq!(portal.connect_with_oauth(user).await.status(), StatusCode::SEE_OTHER);
    portal.sign_out().await;
    let before = tokens_of(portal, user).await;
    assert_eq!(before.0.as_deref(), Some("authorization_code"));
    assert!(before.2.is_some(), "a refresh token");
    let token = portal.sim().issue_implicit_token(user, YEAR).await.unwrap();
    (before, token)
}

async fn choose(
    portal: &TestPortal,
    browser: &reqwest::Client,
    csrf: &str,
    choice: &str,
) -> reqwest::Response {
    browser
        .post(portal.url("/token"))
        .form(&[("choice", choice), ("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pasted_token_does_not_replace_a_renewing_connection_unless_confirmed() {
    let portal = spawn_portal().await;
    let (before, token) = renewing_connection_and_a_token(&portal, "DOWN1").await;

    let response = portal.paste(&token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    // What the participant would lose, in plain words, with the token's own expiry date.
    let expires = read_access_token_claims(&token).unwrap().expires_at;
    let date = fitex_portal::pages::day(expires, &"America/New_York".parse().unwrap());
    for words in [
        "Your Fitbit is already connected",
        "FitEx renews that connection automatically",
        "FitEx can no longer renew your access automatically.",
        &format!("The pasted token expires on <strong>{date}</strong>"),
        "After that, your steps stop syncing until you reconnect.",
        "Keep my current connection",
        "Use the pasted token instead",
    ] {
        assert!(html.contains(words), "{words:?} missing: {html}");
    }
    assert!(!html.contains(&token), "the token is not put in the page");
    assert_eq!(tokens_of(&portal, "DOWN1").await, before, "nothing replaced by pasting");
    assert_eq!(location(&portal.client.get(portal.url("/status")).send().await.unwrap()), "/");
    let csrf = csrf_in(&html);

    // A forged confirmation (no CSRF token), and one from a browser with nothing pending.
    let forged =
        portal.client.post(portal.url("/token")).form(&[("choice", "replace")]).send().await;
    assert_eq!(forged.unwrap().status(), StatusCode::FORBIDDEN);
    let other = browser();
    let other_csrf =
        csrf_in(&other.get(portal.url("/")).send().await.unwrap().text().await.unwrap());
    let elsewhere = choose(&portal, &other, &other_csrf, "replace").await;
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST);
    assert!(elsewhere.text().await.unwrap().contains("nothing was changed"));
    assert_eq!(tokens_of(&portal, "DOWN1").await, before);

    // Keeping it signs the participant in with the connection they had.
    let kept = choose(&portal, &portal.client, &csrf, "keep").await;
    assert_eq!(kept.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&kept), "/status");
    assert_eq!(tokens_of(&portal, "DOWN1").await, before);
    let (status, html) = portal.get_text("/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("DOWN1") && html.contains("Renewed automatically"), "{html}");

    // The choice was used up: replaying the confirmation replaces nothing.
    let (_, html) = portal.get_text("/status").await;
    let replayed = choose(&portal, &portal.client, &csrf_in(&html), "replace").await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(tokens_of(&portal, "DOWN1").await, before);
}

#[tokio::test]
async fn confirming_replaces_a_renewing_connection_with_the_pasted_token() {
    let portal = spawn_portal().await;
    let (before, token) = renewing_connection_and_a_token(&portal, "DOWN2").await;
    let html = portal.paste(&token).await.text().await.unwrap();
    assert_eq!(tokens_of(&portal, "DOWN2").await, before);

    let replaced = choose(&portal, &portal.client, &csrf_in(&html), "replace").await;
    assert_eq!(replaced.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replaced), "/status");
    let (kind, _, refresh, version) = tokens_of(&portal, "DOWN2").await;
    assert_eq!(kind.as_deref(), Some("implicit"));
    assert_eq!(refresh, None);
    assert!(version > before.3);
    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains("Your pasted token expires"), "{html}");
}

#[tokio::test]
async fn a_pasted_token_repairs_a_connection_that_must_be_reconnected_without_asking() {
    let portal = spawn_portal().await;
    let (_, token) = renewing_connection_and_a_token(&portal, "DOWN3").await;
    // Fitbit refused the refresh token: there is no automatic renewal left to lose.
    let (connection_id, ..) = portal.connection("DOWN3").await;
    let reason = reconnect_reason(TokenProblem::Invalid, ProviderId::Fitbit);
    store::set_status(&portal.pool, connection_id, SyncStatus::ReconnectRequired, &reason)
        .await
        .unwrap();
    let response = portal.paste(&token).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (kind, _, _, _) = tokens_of(&portal, "DOWN3").await;
    assert_eq!(kind.as_deref(), Some("implicit"));
    let (_, _, _, status) = portal.connection("DOWN3").await;
    assert_eq!(status, "active");
}
