use fitex_connections::store;
use reqwest::StatusCode;
use secrecy::ExposeSecret;

use crate::helpers::{location, spawn_portal};

#[tokio::test]
async fn the_connect_flow_signs_in_and_stores_an_encrypted_connection_with_a_backfill() {
    let portal = spawn_portal().await;

    let start = portal.client.get(portal.url("/connect/fitbit")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let authorize = location(&start);
    assert!(authorize.starts_with(&format!("{}/oauth2/authorize?", portal.sim.base_url())));
    for part in [
        "response_type=code",
        "client_id=SIMCLIENT",
        "scope=activity%20heartrate%20profile%20settings",
        "code_challenge_method=S256",
        "state=",
        "code_challenge=",
    ] {
        assert!(authorize.contains(part), "{part} missing from {authorize}");
    }
    let redirect_uri = format!("{}/connect/fitbit/callback", portal.base);
    let encoded: String = serde_urlencoded::to_string([("redirect_uri", &redirect_uri)]).unwrap();
    assert!(authorize.contains(&encoded), "{authorize}");
    let set_cookie = start.headers().get("set-cookie").unwrap().to_str().unwrap().to_lowercase();
    for attribute in ["httponly", "secure", "samesite=lax"] {
        assert!(set_cookie.contains(attribute), "{attribute} missing from {set_cookie}");
    }

    let approved = portal.client.get(format!("{authorize}&sim_user=PORTAL1")).send().await.unwrap();
    assert_eq!(approved.status(), StatusCode::FOUND);
    let callback = location(&approved);
    assert!(callback.starts_with(&format!("{redirect_uri}?code=")), "{callback}");
    let done = portal.client.get(callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/status");

    let (status, html) = portal.get_text("/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("PORTAL1"), "{html}");
    assert!(html.contains("Syncing"), "{html}");
    assert!(html.contains("Renewed automatically"), "{html}");
    assert!(!html.contains("Reconnect"), "{html}");
    assert!(!html.contains("may arrive late"), "the subscription was created: {html}");
    // Signed in: the start page now leads to the status page.
    let home = portal.client.get(portal.url("/")).send().await.unwrap();
    assert_eq!(location(&home), "/status");

    let (connection_id, participant_id, kind, sync_status) = portal.connection("PORTAL1").await;
    assert_eq!(kind.as_deref(), Some("authorization_code"));
    assert_eq!(sync_status, "active");
    let stored = store::connection_by_id(&portal.pool, connection_id).await.unwrap().unwrap();
    let (access, refresh, zone) =
        (stored.access_token.unwrap(), stored.refresh_token, stored.time_zone);
    assert!(refresh.is_some());
    assert_eq!(zone, "America/New_York");
    let dir = fitex_common::config::config_dir().unwrap();
    let settings = fitex_portal::Settings::load_from(&dir, "test").unwrap();
    let cipher =
        fitex_common::token_cipher::TokenCipher::from_config(&settings.base.tokens.encryption_keys)
            .unwrap();
    let plain = cipher.decrypt(&access, &store::access_context(connection_id)).unwrap();
    assert!(plain.expose_secret().starts_with("eyJ"), "a JWT, stored encrypted");
    assert!(!String::from_utf8_lossy(&access).contains(plain.expose_secret()));
    let (backfill,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pending_fetches WHERE connection_id = $1 AND reason = 'backfill'",
    )
    .bind(connection_id)
    .fetch_one(&portal.pool)
    .await
    .unwrap();
    assert_eq!(backfill, settings.base.fetcher.backfill_days as i64);
    assert!(participant_id > 0);

    // The provider subscription was created under the participant's id.
    let stats = portal.sim().stats().await.unwrap();
    assert_eq!(stats.api_calls_by_endpoint.get("subscriptions").copied(), Some(1));
}

#[tokio::test]
async fn a_wrong_or_missing_state_is_refused() {
    let portal = spawn_portal().await;
    // No OAuth round trip started in this session.
    let (status, html) = portal.get_text("/connect/fitbit/callback?code=abc&state=xyz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("expired"), "{html}");

    // A real code, but a state that is not the session's.
    let callback = portal.consent("PORTAL2").await;
    let forged =
        callback
            .split('&')
            .map(|part| {
                if part.starts_with("state=") {
                    "state=forged".to_string()
                } else {
                    part.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("&");
    assert_ne!(forged, callback);
    let refused = portal.client.get(forged).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    // Nothing was connected, nobody is signed in.
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM provider_connections")
        .fetch_one(&portal.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    let status = portal.client.get(portal.url("/status")).send().await.unwrap();
    assert_eq!(location(&status), "/");
}

#[tokio::test]
async fn a_declined_consent_gets_a_plain_page() {
    let portal = spawn_portal().await;
    let _ = portal.client.get(portal.url("/connect/fitbit")).send().await.unwrap();
    let (status, html) =
        portal.get_text("/connect/fitbit/callback?error=access_denied&state=whatever").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You chose not to let FitEx read your Fitbit data"), "{html}");
}

#[tokio::test]
async fn status_without_a_session_goes_to_the_start_page() {
    let portal = spawn_portal().await;
    let response = portal.client.get(portal.url("/status")).send().await.unwrap();
    assert!(response.status().is_redirection());
    assert_eq!(location(&response), "/");
    let (status, html) = portal.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/connect/fitbit\""), "{html}");
    assert!(html.contains("Connect your Fitbit"));
    assert!(html.contains("action=\"/token\""));
    assert!(!crate::helpers::csrf_in(&html).is_empty());
}

#[tokio::test]
async fn ops_endpoints_answer() {
    let portal = spawn_portal().await;
    assert_eq!(portal.get_text("/healthz").await.0, StatusCode::OK);
    let (status, body) = portal.get_text("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(portal.get_text("/metrics").await.0, StatusCode::OK);
}
