//! The service account: its key file works with `gcp_auth`, and the `jwt-bearer` grant checks
//! the assertion like Google's token endpoint.

use gcp_auth::TokenProvider;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{json, Value};

use crate::google_helpers::*;
use crate::helpers::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[tokio::test]
async fn gcp_auth_gets_a_project_token_from_the_key_file_and_lists_subscribers() {
    let app = spawn_sim().await;
    let key_file = app.admin.google_service_account_json().await.unwrap();
    let parsed: Value = serde_json::from_str(&key_file).unwrap();
    assert_eq!(parsed["type"], "service_account");
    assert_eq!(parsed["project_id"], "fitex-sim");
    assert_eq!(parsed["client_email"], "fitex-sync@fitex-sim.iam.gserviceaccount.com");
    assert_eq!(parsed["token_uri"], app.url("/google/token"));
    assert_eq!(parsed["auth_uri"], app.url("/google/o/oauth2/v2/auth"));

    let account = gcp_auth::CustomServiceAccount::from_json(&key_file).unwrap();
    let token = account.token(&[CLOUD_PLATFORM_SCOPE]).await.unwrap();
    let (status, body) = app.google_get("/v4/projects/fitex-sim/subscribers", token.as_str()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"subscribers": [], "totalSize": 0}));
    // The key is made once: the file stays the same.
    assert_eq!(app.admin.google_service_account_json().await.unwrap(), key_file);
}

/// An assertion signed with the simulator's service-account key, claims as given.
fn assertion(key_file: &Value, claims: &Value) -> String {
    let key =
        rsa::RsaPrivateKey::from_pkcs8_pem(key_file["private_key"].as_str().unwrap()).unwrap();
    let der = key.to_pkcs1_der().unwrap();
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_der(der.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn the_jwt_bearer_grant_checks_signature_claims_and_scope() {
    let app = spawn_sim().await;
    let key_file: Value =
        serde_json::from_str(&app.admin.google_service_account_json().await.unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |scope: &str| {
        json!({"iss": key_file["client_email"], "aud": key_file["token_uri"], "iat": now,
            "exp": now + 3_600, "scope": scope})
    };
    let grant = |assertion: String| {
        let app = &app;
        async move {
            let response = app
                .http
                .post(app.url("/google/token"))
                .form(&[("grant_type", JWT_BEARER), ("assertion", assertion.as_str())])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (status, body) = grant(assertion(&key_file, &claims(CLOUD_PLATFORM_SCOPE))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let project_token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.google_get("/v4/projects/fitex-sim/subscribers", &project_token).await.0, 200);
    // A project token cannot read a user's data.
    let (status, body) = app.google_get("/v4/users/me/identity", &project_token).await;
    assert_eq!((status, google_status(&body)), (403, "PERMISSION_DENIED"));

    // Without cloud-platform, subscribers are out of reach.
    let (status, body) = grant(assertion(&key_file, &claims(ACTIVITY_SCOPE))).await;
    assert_eq!(status, 200);
    let narrow = body["access_token"].as_str().unwrap();
    let (status, body) = app.google_get("/v4/projects/fitex-sim/subscribers", narrow).await;
    assert_eq!((status, google_status(&body)), (403, "PERMISSION_DENIED"));

    // A tampered signature, another audience, too long a life, an unknown scope.
    let good = assertion(&key_file, &claims(CLOUD_PLATFORM_SCOPE));
    let (head, signature) = good.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let (status, body) = grant(format!("{head}.{flipped}{}", &signature[1..])).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let mut other_audience = claims(CLOUD_PLATFORM_SCOPE);
    other_audience["aud"] = json!("https://example.com/token");
    let (status, body) = grant(assertion(&key_file, &other_audience)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let mut too_long = claims(CLOUD_PLATFORM_SCOPE);
    too_long["exp"] = json!(now + 7_200);
    let (status, body) = grant(assertion(&key_file, &too_long)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (status, body) =
        grant(assertion(&key_file, &claims("https://www.googleapis.com/auth/unknown"))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "{body}");
}

#[tokio::test]
async fn a_users_token_cannot_manage_subscribers() {
    let app = spawn_sim().await;
    app.create("ALICE1").await;
    let tokens = app.admin.google_grant("ALICE1").await.unwrap();
    let (status, body) =
        app.google_get("/v4/projects/fitex-sim/subscribers", &tokens.access_token).await;
    assert_eq!((status, google_status(&body)), (403, "PERMISSION_DENIED"));
    let (status, _) = app.google_get("/v4/projects/fitex-sim/subscribers", "garbage").await;
    assert_eq!(status, 401);
    let project = app.project_token().await;
    let (status, body) = app.google_get("/v4/projects/another/subscribers", &project).await;
    assert_eq!((status, google_status(&body)), (403, "PERMISSION_DENIED"));
}
