use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;

use crate::helpers::{browser, location, spawn_portal};

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
    let other_csrf = crate::helpers::csrf_in(&other_html);
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
    let csrf = crate::helpers::csrf_in(&html);
    let out = portal.client.post(portal.url("/signout")).form(&[("csrf", csrf)]).send().await;
    assert_eq!(location(&out.unwrap()), "/");
    assert_eq!(location(&portal.client.get(portal.url("/status")).send().await.unwrap()), "/");
}
