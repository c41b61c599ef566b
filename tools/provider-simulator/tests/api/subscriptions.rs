use crate::helpers::*;

async fn post(app: &TestSim, path: &str, token: &str) -> (u16, serde_json::Value) {
    let response = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn create_is_201_then_200_for_the_same_and_409_under_another_id() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    let token = &tokens.access_token;
    let (status, body) =
        post(&app, "/1/user/-/activities/apiSubscriptions/alice-act.json", token).await;
    assert_eq!(status, 201);
    assert_eq!(
        body,
        serde_json::json!({"collectionType": "activities", "ownerId": "ALICE1",
            "ownerType": "user", "subscriberId": "1", "subscriptionId": "alice-act"})
    );
    let (status, _) =
        post(&app, "/1/user/-/activities/apiSubscriptions/alice-act.json", token).await;
    assert_eq!(status, 200);
    let (status, _) =
        post(&app, "/1/user/-/activities/apiSubscriptions/other-id.json", token).await;
    assert_eq!(status, 409);
    let (status, body) =
        post(&app, "/1/user/-/sleep/apiSubscriptions/alice-sleep.json", token).await;
    assert_eq!((status, body["collectionType"].as_str()), (201, Some("sleep")));
    let (status, _) = post(&app, "/1/user/-/steps/apiSubscriptions/x.json", token).await;
    assert_eq!(status, 404);

    let (status, list) = app.get_json("/1/user/-/apiSubscriptions.json", token).await;
    assert_eq!(status, 200);
    assert_eq!(list["apiSubscriptions"].as_array().unwrap().len(), 2);
    let (_, list) = app.get_json("/1/user/-/activities/apiSubscriptions.json", token).await;
    assert_eq!(list["apiSubscriptions"][0]["subscriptionId"], "alice-act");

    let delete = |path: &'static str| app.http.delete(app.url(path)).bearer_auth(token).send();
    let response = delete("/1/user/-/activities/apiSubscriptions/alice-act.json").await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(header(&response, "fitbit-rate-limit-limit"), "150");
    let response = delete("/1/user/-/activities/apiSubscriptions/alice-act.json").await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let (_, list) = app.get_json("/1/user/-/apiSubscriptions.json", token).await;
    assert_eq!(list["apiSubscriptions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_all_collections_subscription_and_the_subscriber_id_header() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    let response = app
        .http
        .post(app.url("/1/user/-/apiSubscriptions/alice-all.json"))
        .bearer_auth(&tokens.access_token)
        .header("Content-Length", "0")
        .header("X-Fitbit-Subscriber-Id", "7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["subscriberId"], "7");
    assert_eq!(body["collectionType"], "user");
}

#[tokio::test]
async fn a_post_without_content_length_is_411() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    // reqwest sends an empty POST without any Content-Length: callers must add `0` themselves.
    let response = app
        .http
        .post(app.url("/1/user/-/activities/apiSubscriptions/alice-act.json"))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 411);
    assert_eq!(header(&response, "fitbit-rate-limit-remaining"), "149");
    let (_, list) = app.get_json("/1/user/-/apiSubscriptions.json", &tokens.access_token).await;
    assert_eq!(list["apiSubscriptions"], serde_json::json!([]));
}
