//! Subscribers: endpoint verification on create and patch, listing, deletion, MANUAL
//! subscriptions.

use reqwest::Method;
use serde_json::{json, Value};

use crate::google_helpers::*;
use crate::helpers::*;

const SUBSCRIBERS: &str = "/v4/projects/fitex-sim/subscribers";

#[tokio::test]
async fn a_verified_endpoint_becomes_an_active_listed_subscriber() {
    let app = spawn_sim().await;
    let endpoint = spawn_endpoint(Behaviour::Correct).await;
    let token = app.project_token().await;
    let (status, operation) =
        app.create_subscriber(&token, "fitex-steps", &endpoint.url, "AUTOMATIC").await;
    assert_eq!(status, 200, "{operation}");
    assert_eq!(operation["done"], true);
    assert!(operation["name"].as_str().unwrap().starts_with("projects/fitex-sim/operations/"));
    let subscriber = &operation["response"];
    assert_eq!(
        subscriber["@type"],
        "type.googleapis.com/google.devicesandservices.health.v4.Subscriber"
    );
    assert_eq!(subscriber["name"], "projects/fitex-sim/subscribers/fitex-steps");
    assert_eq!(subscriber["state"], "ACTIVE");
    assert_eq!(subscriber["endpointUri"], endpoint.url.as_str());
    assert_eq!(subscriber["endpointAuthorization"], json!({"secretSet": true}));
    assert_eq!(
        subscriber["subscriberConfigs"],
        json!([{"dataTypes": ["steps"], "subscriptionCreatePolicy": "AUTOMATIC"}])
    );
    assert!(subscriber["createTime"].as_str().unwrap().ends_with('Z'));

    // The handshake, exactly as Google makes it.
    let calls = endpoint.received();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.body, br#"{"type": "verification"}"#);
        assert_eq!(call.content_type.as_deref(), Some("application/json"));
        assert_eq!(call.signature, None);
    }
    assert_eq!(calls[0].authorization.as_deref(), Some(ENDPOINT_SECRET));
    assert_eq!(calls[1].authorization, None);

    let (status, list) = app.google_get(SUBSCRIBERS, &token).await;
    assert_eq!(status, 200);
    assert_eq!(list["totalSize"], 1);
    let mut expected = subscriber.clone();
    expected.as_object_mut().unwrap().remove("@type");
    assert_eq!(list["subscribers"][0], expected);

    // The id is taken now.
    let (status, body) =
        app.create_subscriber(&token, "fitex-steps", &endpoint.url, "AUTOMATIC").await;
    assert_eq!((status, google_status(&body)), (409, "ALREADY_EXISTS"));
    let stats = app.admin.stats().await.unwrap();
    assert_eq!(stats.api_calls_by_endpoint["google_subscribers"], 3);
    endpoint.handle.stop(true).await;
}

#[tokio::test]
async fn an_endpoint_that_answers_204_to_both_calls_fails_verification() {
    let app = spawn_sim().await;
    let endpoint = spawn_endpoint(Behaviour::Always(204)).await;
    let token = app.project_token().await;
    let (status, operation) =
        app.create_subscriber(&token, "lazy-endpoint", &endpoint.url, "AUTOMATIC").await;
    assert_eq!(status, 200);
    assert_eq!(operation["done"], true);
    assert!(operation.get("response").is_none());
    assert_eq!(
        operation["error"],
        json!({"code": 9, "status": "FAILED_PRECONDITION",
            "message": "Endpoint verification failed: expected 201 with Authorization, got 204"})
    );
    let (_, list) = app.google_get(SUBSCRIBERS, &token).await;
    assert_eq!(list["totalSize"], 0);

    // The admin handshake says the same.
    let check = app.admin.google_verify_endpoint(&endpoint.url, ENDPOINT_SECRET).await.unwrap();
    assert_eq!(
        (check.with_authorization, check.without_authorization, check.passed),
        (Some(204), Some(204), false)
    );
    let good = spawn_endpoint(Behaviour::Correct).await;
    let check = app.admin.google_verify_endpoint(&good.url, ENDPOINT_SECRET).await.unwrap();
    assert_eq!(
        (check.with_authorization, check.without_authorization, check.passed),
        (Some(201), Some(401), true)
    );
    let check = app.admin.google_verify_endpoint(&good.url, "Bearer another").await.unwrap();
    assert_eq!((check.with_authorization, check.passed), (Some(403), false));
    endpoint.handle.stop(true).await;
    good.handle.stop(true).await;
}

#[tokio::test]
async fn bad_subscriber_requests_are_invalid_arguments() {
    let app = spawn_sim().await;
    let token = app.project_token().await;
    let (status, body) =
        app.create_subscriber(&token, "No_Caps", "http://127.0.0.1:9/x", "AUTOMATIC").await;
    assert_eq!((status, google_status(&body)), (400, "INVALID_ARGUMENT"));
    let (status, body) =
        app.create_subscriber(&token, "fitex-steps", "http://127.0.0.1:9/x", "SOMETIMES").await;
    assert_eq!((status, google_status(&body)), (400, "INVALID_ARGUMENT"));
    let no_secret = json!({"endpointUri": "http://127.0.0.1:9/x", "subscriberConfigs": []});
    let (status, body) = app.google_send(Method::POST, SUBSCRIBERS, &token, Some(no_secret)).await;
    assert_eq!((status, google_status(&body)), (400, "INVALID_ARGUMENT"));
    assert!(body["error"]["message"].as_str().unwrap().contains("secret"));
}

#[tokio::test]
async fn a_patch_re_verifies_a_new_endpoint_and_keeps_the_old_one_on_failure() {
    let app = spawn_sim().await;
    let first = spawn_endpoint(Behaviour::Correct).await;
    let broken = spawn_endpoint(Behaviour::Always(404)).await;
    let second = spawn_endpoint(Behaviour::Correct).await;
    let token = app.project_token().await;
    assert_eq!(app.create_subscriber(&token, "fitex-steps", &first.url, "AUTOMATIC").await.0, 200);
    let path = format!("{SUBSCRIBERS}/fitex-steps?updateMask=endpoint_uri");

    let (status, operation) = app
        .google_send(Method::PATCH, &path, &token, Some(json!({"endpointUri": broken.url})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        operation["error"]["message"],
        "Endpoint verification failed: expected 201 with Authorization, got 404"
    );
    assert_eq!(broken.received().len(), 2);
    let (_, list) = app.google_get(SUBSCRIBERS, &token).await;
    assert_eq!(list["subscribers"][0]["endpointUri"], first.url.as_str());

    let (status, operation) = app
        .google_send(Method::PATCH, &path, &token, Some(json!({"endpointUri": second.url})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(operation["response"]["endpointUri"], second.url.as_str());
    assert_eq!(second.received().len(), 2);

    // Only the configs: no verification, the endpoint stays.
    let configs = json!({"subscriberConfigs": [{"dataTypes": ["steps", "distance"],
        "subscriptionCreatePolicy": "MANUAL"}], "endpointUri": "http://ignored.example/"});
    let path = format!("{SUBSCRIBERS}/fitex-steps?updateMask=subscriber_configs");
    let (status, operation) = app.google_send(Method::PATCH, &path, &token, Some(configs)).await;
    assert_eq!(status, 200, "{operation}");
    assert_eq!(operation["response"]["endpointUri"], second.url.as_str());
    assert_eq!(operation["response"]["subscriberConfigs"][0]["subscriptionCreatePolicy"], "MANUAL");
    assert_eq!(second.received().len(), 2);

    let (status, body) = app
        .google_send(Method::PATCH, &format!("{SUBSCRIBERS}/fitex-steps"), &token, Some(json!({})))
        .await;
    assert_eq!((status, google_status(&body)), (400, "INVALID_ARGUMENT"));
    let (status, body) = app
        .google_send(
            Method::PATCH,
            &format!("{SUBSCRIBERS}/nobody-here?updateMask=endpoint_uri"),
            &token,
            Some(json!({})),
        )
        .await;
    assert_eq!((status, google_status(&body)), (404, "NOT_FOUND"));
    for endpoint in [first, broken, second] {
        endpoint.handle.stop(true).await;
    }
}

#[tokio::test]
async fn manual_subscriptions_and_deleting_with_and_without_force() {
    let app = spawn_sim().await;
    let endpoint = spawn_endpoint(Behaviour::Correct).await;
    let token = app.project_token().await;
    app.create("ALICE1").await;
    let alice = app.admin.google_grant("ALICE1").await.unwrap();
    assert_eq!(app.create_subscriber(&token, "manual-sub", &endpoint.url, "MANUAL").await.0, 200);
    assert_eq!(app.create_subscriber(&token, "auto-sub", &endpoint.url, "AUTOMATIC").await.0, 200);

    let subscriptions = format!("{SUBSCRIBERS}/manual-sub/subscriptions");
    let user = format!("users/{}", alice.health_user_id);
    let (status, created) = app
        .google_send(
            Method::POST,
            &format!("{subscriptions}?subscriptionId=alice-steps"),
            &token,
            Some(json!({"user": user, "dataTypes": ["steps"]})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created,
        json!({"name": "projects/fitex-sim/subscribers/manual-sub/subscriptions/alice-steps",
            "user": user, "dataTypes": ["steps"]})
    );
    let (status, list) = app.google_get(&subscriptions, &token).await;
    assert_eq!(status, 200);
    assert_eq!(list, json!({"subscriptions": [created]}));

    // Only MANUAL data types, only known users, ids once.
    let (status, body) = app
        .google_send(
            Method::POST,
            &format!("{SUBSCRIBERS}/auto-sub/subscriptions"),
            &token,
            Some(json!({"user": user, "dataTypes": ["steps"]})),
        )
        .await;
    assert_eq!((status, google_status(&body)), (400, "FAILED_PRECONDITION"));
    let (status, body) = app
        .google_send(
            Method::POST,
            &subscriptions,
            &token,
            Some(json!({"user": "users/0000000000000000dead", "dataTypes": ["steps"]})),
        )
        .await;
    assert_eq!((status, google_status(&body)), (404, "NOT_FOUND"));
    let (status, _) = app
        .google_send(
            Method::POST,
            &format!("{subscriptions}?subscriptionId=alice-steps"),
            &token,
            Some(json!({"user": user, "dataTypes": ["steps"]})),
        )
        .await;
    assert_eq!(status, 409);

    // A subscriber with subscriptions goes only with force.
    let (status, body) =
        app.google_send(Method::DELETE, &format!("{SUBSCRIBERS}/manual-sub"), &token, None).await;
    assert_eq!((status, google_status(&body)), (400, "FAILED_PRECONDITION"));
    let one = format!("{subscriptions}/alice-steps");
    let (status, body) = app.google_send(Method::DELETE, &one, &token, None).await;
    assert_eq!((status, body), (200, json!({})));
    let (status, _) = app.google_send(Method::DELETE, &one, &token, None).await;
    assert_eq!(status, 404);
    let (status, _) =
        app.google_send(Method::POST, &subscriptions, &token, Some(json!({"user": user}))).await;
    assert_eq!(status, 200);
    let (status, operation) = app
        .google_send(Method::DELETE, &format!("{SUBSCRIBERS}/manual-sub?force=true"), &token, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(operation["done"], true);
    assert_eq!(
        operation["response"],
        json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
    );
    // Without subscriptions, no force is needed.
    let (status, _) =
        app.google_send(Method::DELETE, &format!("{SUBSCRIBERS}/auto-sub"), &token, None).await;
    assert_eq!(status, 200);
    let (status, body): (u16, Value) =
        app.google_send(Method::DELETE, &format!("{SUBSCRIBERS}/auto-sub"), &token, None).await;
    assert_eq!((status, google_status(&body)), (404, "NOT_FOUND"));
    let (_, list) = app.google_get(SUBSCRIBERS, &token).await;
    assert_eq!(list["totalSize"], 0);
    endpoint.handle.stop(true).await;
}

#[tokio::test]
async fn subscriptions_are_listed_in_pages_and_the_client_reads_them_all() {
    use fitex_google_health::subscribers::ProjectSubscribers;
    use secrecy::SecretString;

    let app = spawn_sim().await;
    let endpoint = spawn_endpoint(Behaviour::Correct).await;
    let token = app.project_token().await;
    app.create("ALICE1").await;
    let alice = app.admin.google_grant("ALICE1").await.unwrap();
    assert_eq!(app.create_subscriber(&token, "manual-sub", &endpoint.url, "MANUAL").await.0, 200);
    let subscriptions = format!("{SUBSCRIBERS}/manual-sub/subscriptions");
    let body = json!({"user": format!("users/{}", alice.health_user_id), "dataTypes": ["steps"]});
    for n in 0..55 {
        let path = format!("{subscriptions}?subscriptionId=sub-{n:03}");
        let (status, created) =
            app.google_send(Method::POST, &path, &token, Some(body.clone())).await;
        assert_eq!(status, 200, "{created}");
    }

    // Google's paging: 50 unless asked for more, then a token for the rest.
    let (status, first) = app.google_get(&subscriptions, &token).await;
    assert_eq!(status, 200);
    assert_eq!(first["subscriptions"].as_array().unwrap().len(), 50);
    let next = first["nextPageToken"].as_str().expect("a next page").to_owned();
    let (_, rest) = app.google_get(&format!("{subscriptions}?pageToken={next}"), &token).await;
    assert_eq!(rest["subscriptions"].as_array().unwrap().len(), 5);
    assert!(rest.get("nextPageToken").is_none());
    let (status, _) = app.google_get(&format!("{subscriptions}?pageToken=forged"), &token).await;
    assert_eq!(status, 400);

    // The client follows the pages, at any page size.
    let client = |size: Option<u32>| {
        let client = ProjectSubscribers::new(
            &app.sim.base_url(),
            "fitex-sim",
            SecretString::from(token.clone()),
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        match size {
            Some(size) => client.with_page_size(size),
            None => client,
        }
    };
    for size in [None, Some(7), Some(50)] {
        let listed = client(size).user_subscriptions("manual-sub").await.unwrap();
        let mut names: Vec<String> = listed.iter().map(|s| s.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 55, "page size {size:?}");
    }
    endpoint.handle.stop(true).await;
}
