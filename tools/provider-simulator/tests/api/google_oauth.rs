//! Google OAuth: authorization code + PKCE, offline access, non-rotating refresh, revocation.

use serde_json::Value;

use crate::google_helpers::*;
use crate::helpers::*;

const IDENTITY: &str = "/v4/users/me/identity";

#[tokio::test]
async fn the_code_flow_with_pkce_and_offline_access_gives_a_refresh_token() {
    let app = spawn_sim().await;
    app.create("ALICE1").await;
    let location = app
        .google_authorize(&[
            ("sim_user", "ALICE1"),
            ("access_type", "offline"),
            ("prompt", "consent"),
        ])
        .await
        .expect("a redirect");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(
        param(&location, "scope").as_deref(),
        Some(format!("{ACTIVITY_SCOPE} {SETTINGS_SCOPE}").as_str())
    );
    let code = param(&location, "code").unwrap();

    let (status, body) = app.google_exchange(&code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3_599);
    assert_eq!(body["scope"], format!("{ACTIVITY_SCOPE} {SETTINGS_SCOPE}"));
    assert!(body["refresh_token"].as_str().is_some_and(|t| !t.is_empty()));
    let access = body["access_token"].as_str().unwrap();
    let (status, identity) = app.google_get(IDENTITY, access).await;
    assert_eq!(status, 200, "{identity}");
    assert_eq!(identity["legacyUserId"], "ALICE1");
    assert_eq!(app.admin.stats().await.unwrap().authorization_code_exchanges, 1);
}

#[tokio::test]
async fn client_credentials_may_come_as_form_fields() {
    let app = spawn_sim().await;
    let code = app.google_code("ALICE1", &[]).await;
    let response = app
        .http
        .post(app.url("/google/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", app.config.google_client_id.as_str()),
            ("client_secret", app.config.google_client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn without_offline_access_there_is_no_refresh_token() {
    let app = spawn_sim().await;
    let code = app.google_code("ALICE1", &[("access_type", "online")]).await;
    let (status, body) = app.google_exchange(&code).await;
    assert_eq!(status, 200);
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].as_str().is_some());
}

#[tokio::test]
async fn each_refusal_of_the_token_endpoint() {
    let app = spawn_sim().await;
    let invalid_grant = |(status, body): (u16, Value)| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    };

    // A wrong verifier.
    let code = app.google_code("ALICE1", &[]).await;
    let other_verifier = "x".repeat(43);
    invalid_grant(
        app.google_token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &other_verifier),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await,
    );

    // A code used twice.
    let code = app.google_code("ALICE1", &[]).await;
    assert_eq!(app.google_exchange(&code).await.0, 200);
    let (status, body) = app.google_exchange(&code).await;
    assert_eq!((status, body["error_description"].as_str()), (400, Some("Bad Request")));
    invalid_grant((status, body));

    // Another redirect URI.
    let code = app.google_code("ALICE1", &[]).await;
    let (status, body) = app
        .google_token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
        ])
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("redirect_uri_mismatch")));

    // A wrong client secret.
    let code = app.google_code("ALICE1", &[]).await;
    let response = app
        .http
        .post(app.url("/google/token"))
        .basic_auth(&app.config.google_client_id, Some("not-the-secret"))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    // An unknown grant type.
    let (status, body) = app.google_token(&[("grant_type", "password")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
}

#[tokio::test]
async fn the_user_can_decline_and_bad_requests_get_an_error_page() {
    let app = spawn_sim().await;
    let location =
        app.google_authorize(&[("sim_user", "ALICE1"), ("sim_deny", "1")]).await.unwrap();
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&location, "code"), None);

    let (status, page) = app
        .google_authorize(&[("sim_user", "ALICE1"), ("client_id", "someone-else")])
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(page.contains("invalid_client"), "{page}");

    let (status, page) =
        app.google_authorize(&[("sim_user", "ALICE1"), ("redirect_uri", "")]).await.unwrap_err();
    assert_eq!(status, 400);
    assert!(page.contains("redirect_uri"), "{page}");

    let (status, page) = app
        .google_authorize(&[
            ("sim_user", "ALICE1"),
            ("scope", "https://www.googleapis.com/auth/fitness.activity.read"),
        ])
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(page.contains("invalid_scope"), "{page}");
}

#[tokio::test]
async fn refresh_tokens_do_not_rotate() {
    let app = spawn_sim().await;
    let code = app.google_code("ALICE1", &[]).await;
    let (_, first) = app.google_exchange(&code).await;
    let refresh = first["refresh_token"].as_str().unwrap();
    for _ in 0..2 {
        let (status, body) = app.google_refresh(refresh).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert_eq!(body["expires_in"], 3_599);
        let access = body["access_token"].as_str().unwrap();
        assert_ne!(access, first["access_token"].as_str().unwrap());
        assert_eq!(app.google_get(IDENTITY, access).await.0, 200);
    }
    // The first access token still works too.
    assert_eq!(app.google_get(IDENTITY, first["access_token"].as_str().unwrap()).await.0, 200);
    assert_eq!(app.admin.stats().await.unwrap().token_refreshes, 2);
}

#[tokio::test]
async fn revoking_ends_the_consent_refresh_and_api_calls() {
    let app = spawn_sim().await;
    let code = app.google_code("ALICE1", &[]).await;
    let (_, tokens) = app.google_exchange(&code).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let response =
        app.http.post(app.url("/google/revoke")).form(&[("token", refresh)]).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), serde_json::json!({}));

    let (status, body) = app.google_refresh(refresh).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "Token has been expired or revoked.");
    let response = app.get(IDENTITY, access).await;
    assert_eq!(response.status().as_u16(), 401);
    assert!(header(&response, "www-authenticate").starts_with("Bearer"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": 401,
            "message": "Request had invalid authentication credentials.",
            "status": "UNAUTHENTICATED"}})
    );

    // Unknown (or already revoked) tokens; the token may also come in the query.
    let response =
        app.http.post(app.url(&format!("/google/revoke?token={refresh}"))).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        serde_json::json!({"error": "invalid_token"})
    );
}

#[tokio::test]
async fn revoking_an_access_token_revokes_its_consent() {
    let app = spawn_sim().await;
    let code = app.google_code("ALICE1", &[]).await;
    let (_, tokens) = app.google_exchange(&code).await;
    let response = app
        .http
        .post(app.url("/google/revoke"))
        .form(&[("token", tokens["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.google_refresh(tokens["refresh_token"].as_str().unwrap()).await.0, 400);
}

#[tokio::test]
async fn admin_expiry_needs_a_refresh_and_admin_revocation_ends_it() {
    let app = spawn_sim().await;
    app.create("ALICE1").await;
    let tokens = app.admin.google_grant("ALICE1").await.unwrap();
    assert_eq!(app.google_get(IDENTITY, &tokens.access_token).await.0, 200);

    app.admin.google_expire_tokens("ALICE1").await.unwrap();
    let (status, body) = app.google_get(IDENTITY, &tokens.access_token).await;
    assert_eq!((status, google_status(&body)), (401, "UNAUTHENTICATED"));
    let (status, fresh) = app.google_refresh(&tokens.refresh_token).await;
    assert_eq!(status, 200);
    let fresh_access = fresh["access_token"].as_str().unwrap();
    assert_eq!(app.google_get(IDENTITY, fresh_access).await.0, 200);

    app.admin.google_revoke("ALICE1").await.unwrap();
    assert_eq!(app.google_get(IDENTITY, fresh_access).await.0, 401);
    let (status, body) = app.google_refresh(&tokens.refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(app.admin.google_revoke("NOBODY").await.is_err());
}
