use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fitex_provider_simulator::pkce::s256_challenge;
use fitex_provider_simulator::SimulatorConfig;

use crate::helpers::*;

const VERIFIER: &str = "a-verifier-that-is-long-enough-0123456789-abcdefghijklmnop";

fn query_of(location: &str, separator: char) -> HashMap<String, String> {
    let (_, query) = location.split_once(separator).expect("parameters in the redirect");
    serde_urlencoded::from_str(query).unwrap()
}

async fn authorize(app: &TestSim, params: &[(&str, &str)]) -> reqwest::Response {
    app.http.get(app.url("/oauth2/authorize")).query(params).send().await.expect("authorize")
}

/// Runs the authorization step for `user` and returns the code.
async fn code_for(app: &TestSim, user: &str, scope: &str) -> String {
    let challenge = s256_challenge(VERIFIER);
    let response = authorize(
        app,
        &[
            ("response_type", "code"),
            ("client_id", "SIMCLIENT"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", "xyz 1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("sim_user", user),
        ],
    )
    .await;
    assert_eq!(response.status().as_u16(), 302);
    let location = header(&response, "location").to_string();
    assert!(location.starts_with(&format!("{REDIRECT_URI}?")), "{location}");
    let query = query_of(&location, '?');
    assert_eq!(query["state"], "xyz 1");
    query["code"].clone()
}

async fn exchange(app: &TestSim, code: &str, verifier: &str) -> (u16, serde_json::Value) {
    app.token(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", REDIRECT_URI),
    ])
    .await
}

#[tokio::test]
async fn authorization_code_with_pkce_gives_a_working_token_pair() {
    let app = spawn_sim().await;
    let code = code_for(&app, "ALICE1", "activity heartrate").await;
    let (status, body) = exchange(&app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user_id"], "ALICE1");
    assert_eq!(body["expires_in"], 28_800);
    assert_eq!(body["scope"], "activity heartrate");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 32);

    let access = body["access_token"].as_str().unwrap();
    let payload = access.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["sub"], "ALICE1");
    assert_eq!(claims["aud"], "SIMCLIENT");
    assert_eq!(claims["iss"], "Fitbit");
    assert_eq!(claims["typ"], "access_token");
    assert_eq!(claims["scopes"], "wact whr");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 28_800);

    let (status, _) = app.get_json("/1/user/-/activities/date/2026-11-20.json", access).await;
    assert_eq!(status, 200);
    // The code was used up.
    let (status, body) = exchange(&app, &code, VERIFIER).await;
    assert_eq!((status, error_type(&body)), (400, "invalid_grant"));
}

#[tokio::test]
async fn a_wrong_code_verifier_is_an_invalid_grant() {
    let app = spawn_sim().await;
    let code = code_for(&app, "ALICE1", "activity").await;
    let wrong = "another-verifier-that-is-long-enough-0123456789-abcdefghij";
    let (status, body) = exchange(&app, &code, wrong).await;
    assert_eq!((status, error_type(&body)), (400, "invalid_grant"), "{body}");
    assert_eq!(body["success"], false);
}

#[tokio::test]
async fn a_wrong_client_secret_is_an_invalid_client() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    let response = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth("SIMCLIENT", Some("wrong-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &tokens.refresh_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_type(&body), "invalid_client");
    // The refresh token was not spent by the rejected request.
    assert_eq!(app.refresh(&tokens.refresh_token).await.0, 200);
}

#[tokio::test]
async fn authorize_rejects_bad_requests_with_a_400_page() {
    let app = spawn_sim().await;
    let base = [
        ("response_type", "code"),
        ("client_id", "SIMCLIENT"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "activity"),
    ];
    // Without sim_user a person chooses who signs in (no cohort here: the page says how to name one).
    let without_user = authorize(&app, &base).await;
    assert_eq!(without_user.status().as_u16(), 200);
    assert!(without_user.text().await.unwrap().contains("sim_user"));
    let mut short_challenge = base.to_vec();
    short_challenge.extend([
        ("sim_user", "ALICE1"),
        ("code_challenge", "too-short"),
        ("code_challenge_method", "S256"),
    ]);
    assert_eq!(authorize(&app, &short_challenge).await.status().as_u16(), 400);
    let mut wrong_client = base.to_vec();
    wrong_client[1] = ("client_id", "OTHER");
    wrong_client.push(("sim_user", "ALICE1"));
    assert_eq!(authorize(&app, &wrong_client).await.status().as_u16(), 400);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_the_old_one_is_rejected() {
    let app = spawn_sim().await;
    let first = app.create("ALICE1").await;
    let (status, second) = app.refresh(&first.refresh_token).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first.refresh_token.as_str());
    assert_ne!(second["access_token"], first.access_token.as_str());

    let (status, body) = app.refresh(&first.refresh_token).await;
    assert_eq!((status, error_type(&body)), (400, "invalid_grant"));
    assert!(body["errors"][0]["message"].as_str().unwrap().starts_with("Refresh token invalid"));

    // Like Fitbit, the previous access token stays valid until it expires.
    let path = "/1/user/-/activities/date/2026-11-20.json";
    assert_eq!(app.get(path, &first.access_token).await.status().as_u16(), 200);
    assert_eq!(
        app.get(path, second["access_token"].as_str().unwrap()).await.status().as_u16(),
        200
    );
    let (status, _) = app.refresh(second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);

    let stats = app.admin.stats().await.unwrap();
    assert_eq!((stats.token_refreshes, stats.refresh_failures), (2, 1));
}

#[tokio::test]
async fn an_expired_token_is_401_expired_token_until_refreshed() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    app.admin.expire_tokens("ALICE1").await.unwrap();
    let (status, body) = app.get_json("/1/user/-/profile.json", &tokens.access_token).await;
    assert_eq!((status, error_type(&body)), (401, "expired_token"), "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().starts_with("Access token expired"));

    let (status, fresh) = app.refresh(&tokens.refresh_token).await;
    assert_eq!(status, 200);
    let (status, _) =
        app.get_json("/1/user/-/profile.json", fresh["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn tokens_really_expire_after_their_lifetime() {
    let config = SimulatorConfig { access_token_ttl: Duration::from_secs(1), ..Default::default() };
    let app = spawn_with(config).await;
    let tokens = app.create("ALICE1").await;
    assert_eq!(tokens.expires_in, 1);
    assert_eq!(
        app.get("/1/user/-/profile.json", &tokens.access_token).await.status().as_u16(),
        200
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, body) = app.get_json("/1/user/-/profile.json", &tokens.access_token).await;
    assert_eq!((status, error_type(&body)), (401, "expired_token"));
}

#[tokio::test]
async fn revoked_and_garbage_tokens_are_401_invalid_token() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    let response = app
        .http
        .post(app.url("/oauth2/revoke"))
        .header("Authorization", app.basic_auth())
        .form(&[("token", tokens.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, body) = app.get_json("/1/user/-/profile.json", &tokens.access_token).await;
    assert_eq!((status, error_type(&body)), (401, "invalid_token"));
    let (status, body) = app.refresh(&tokens.refresh_token).await;
    assert_eq!((status, error_type(&body)), (400, "invalid_grant"));

    let (status, body) = app.get_json("/1/user/-/profile.json", "not.a.jwt").await;
    assert_eq!((status, error_type(&body)), (401, "invalid_token"));
    let response = app.http.get(app.url("/1/user/-/profile.json")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn a_user_revoking_access_invalidates_every_token() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    let implicit = app.admin.issue_implicit_token("ALICE1", 31_536_000).await.unwrap();
    app.admin.revoke("ALICE1").await.unwrap();
    for token in [&tokens.access_token, &implicit] {
        let (status, body) = app.get_json("/1/user/-/profile.json", token).await;
        assert_eq!((status, error_type(&body)), (401, "invalid_token"));
    }
}

#[tokio::test]
async fn introspection_reports_active_and_inactive_tokens() {
    let app = spawn_sim().await;
    let alice = app.create("ALICE1").await;
    let bob = app.create("BOB001").await;
    let introspect = |token: String| {
        let request = app
            .http
            .post(app.url("/1.1/oauth2/introspect"))
            .bearer_auth(&alice.access_token)
            .form(&[("token", token)]);
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let active = introspect(bob.access_token.clone()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["user_id"], "BOB001");
    assert_eq!(active["client_id"], "SIMCLIENT");
    assert_eq!(active["token_type"], "access_token");
    assert!(active["scope"].as_str().unwrap().contains("ACTIVITY=READ_WRITE"));
    assert!(active["exp"].as_i64().unwrap() > active["iat"].as_i64().unwrap());
    app.admin.expire_tokens("BOB001").await.unwrap();
    assert_eq!(introspect(bob.access_token.clone()).await, serde_json::json!({"active": false}));
    assert_eq!(introspect("garbage".into()).await, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn the_implicit_grant_returns_the_token_in_the_fragment() {
    let app = spawn_sim().await;
    let params = |expires_in: &'static str| {
        [
            ("response_type", "token"),
            ("client_id", "SIMCLIENT"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "activity profile"),
            ("expires_in", expires_in),
            ("sim_user", "ALICE1"),
        ]
    };
    let response = authorize(&app, &params("604800")).await;
    assert_eq!(response.status().as_u16(), 302);
    let fragment = query_of(header(&response, "location"), '#');
    assert_eq!(fragment["user_id"], "ALICE1");
    assert_eq!(fragment["token_type"], "Bearer");
    assert_eq!(fragment["expires_in"], "604800");
    assert_eq!(fragment["scope"], "activity profile");
    assert!(!fragment.contains_key("refresh_token"));
    let (status, _) = app.get_json("/1/user/-/profile.json", &fragment["access_token"]).await;
    assert_eq!(status, 200);

    assert_eq!(authorize(&app, &params("3600")).await.status().as_u16(), 400);
}

#[tokio::test]
async fn a_missing_scope_is_403_insufficient_scope() {
    let app = spawn_sim().await;
    let create = fitex_provider_simulator::CreateUser {
        user_id: Some("NOACT1".into()),
        timezone: "America/Chicago".into(),
        scopes: vec!["profile".into()],
        ..Default::default()
    };
    let tokens = app.admin.create_user(create).await.unwrap();
    for path in [
        "/1/user/-/activities/date/2026-11-20.json",
        "/1/user/-/activities/steps/date/2026-11-01/2026-11-20.json",
        "/1/user/-/activities/heart/date/2026-11-20/1d/1min.json",
    ] {
        let (status, body) = app.get_json(path, &tokens.access_token).await;
        assert_eq!((status, error_type(&body)), (403, "insufficient_scope"), "{path}");
    }
    let (status, _) = app.get_json("/1/user/-/profile.json", &tokens.access_token).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn another_users_path_is_forbidden_and_the_own_id_works() {
    let app = spawn_sim().await;
    let alice = app.create("ALICE1").await;
    app.create("BOB001").await;
    let (status, _) = app.get_json("/1/user/BOB001/profile.json", &alice.access_token).await;
    assert_eq!(status, 403);
    let (status, body) = app.get_json("/1/user/ALICE1/profile.json", &alice.access_token).await;
    assert_eq!(status, 200);
    assert_eq!(body["user"]["encodedId"], "ALICE1");
}

#[tokio::test]
async fn without_sim_user_the_cohort_is_offered_to_sign_in_as() {
    let sim = fitex_provider_simulator::Simulator::spawn(SimulatorConfig {
        cohort_size: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    let url = format!(
        "{}/oauth2/authorize?response_type=code&client_id=SIMCLIENT&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=activity&state=s1",
        sim.base_url()
    );
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("sign in as"), "{page}");
    assert!(page.contains("state=s1&amp;sim_user=SIM0001"), "each link keeps the request: {page}");
    assert!(page.contains("sim_user=SIM0002"));
}
