use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::NaiveDate;
use fitex_fitbit::{verify_signature, SignatureCheck};
use fitex_provider_simulator::{DayData, Notification, SimulatorConfig};
use secrecy::SecretString;

use crate::helpers::*;

const SECRET: &str = "123ab4567c890d123e4567f8abcdef9a";

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    content_type: String,
    signature: Option<String>,
    body: Vec<u8>,
}

struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

/// A tiny webhook endpoint that records every POST and answers `status`.
async fn spawn_receiver(status: u16) -> Receiver {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let shared = web::Data::new(received.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(shared.clone()).route(
            "/webhooks/fitbit",
            web::post().to(
                move |req: HttpRequest,
                      body: web::Bytes,
                      seen: web::Data<Arc<Mutex<Vec<Received>>>>| async move {
                    let header = |name: &str| {
                        req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
                    };
                    seen.lock().unwrap().push(Received {
                        content_type: header("content-type").unwrap_or_default(),
                        signature: header("x-fitbit-signature"),
                        body: body.to_vec(),
                    });
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .finish()
                },
            ),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Receiver { url: format!("http://127.0.0.1:{port}/webhooks/fitbit"), received, handle }
}

fn config_for(receiver: &Receiver) -> SimulatorConfig {
    SimulatorConfig {
        client_secret: SECRET.to_string(),
        subscriber_url: Some(receiver.url.clone()),
        ..Default::default()
    }
}

fn check(received: &Received) -> SignatureCheck {
    verify_signature(
        &[SecretString::from(SECRET)],
        &received.body,
        received.signature.as_deref().map(str::as_bytes),
    )
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

#[tokio::test]
async fn set_day_pushes_a_signed_activities_notification_per_subscription() {
    let receiver = spawn_receiver(204).await;
    let app = spawn_with(config_for(&receiver)).await;
    let tokens = app.create("ALICE1").await;
    let response = app
        .http
        .post(app.url("/1/user/-/activities/apiSubscriptions/alice-act.json"))
        .bearer_auth(&tokens.access_token)
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);

    let day = DayData { steps: 9_000, worn_minutes: 800, ..DayData::default() };
    let deliveries = app.admin.set_day("ALICE1", date("2026-11-20"), day).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, Some(204));

    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].content_type, "application/json");
    assert_eq!(check(&received[0]), SignatureCheck::Valid { secret_index: 0 });
    assert_eq!(
        String::from_utf8(received[0].body.clone()).unwrap(),
        r#"[{"collectionType":"activities","date":"2026-11-20","ownerId":"ALICE1","ownerType":"user","subscriptionId":"alice-act"}]"#
    );
    // The subscriber's parser accepts what the simulator sends.
    let parsed = fitex_fitbit::parse_notifications(&received[0].body).unwrap();
    assert_eq!(parsed[0].owner_id, "ALICE1");
    receiver.handle.stop(true).await;
}

#[tokio::test]
async fn a_burst_with_several_users_is_posted_again_for_each_duplicate() {
    let receiver = spawn_receiver(204).await;
    let app = spawn_with(config_for(&receiver)).await;
    let batch = vec![
        Notification::activities("ALICE1", date("2026-11-20"), "alice-act"),
        Notification::activities("BOB001", date("2026-11-20"), "bob-act"),
        Notification::activities("ALICE1", date("2026-11-20"), "alice-act"),
    ];
    let deliveries = app.admin.push_notifications(batch, 2).await.unwrap();
    assert_eq!(deliveries.iter().map(|d| d.status).collect::<Vec<_>>(), [Some(204); 3]);
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    for post in &received {
        assert!(check(post).is_valid());
        assert_eq!(post.body, received[0].body);
        let parsed = fitex_fitbit::parse_notifications(&post.body).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].owner_id, "BOB001");
    }
    assert_eq!(app.admin.stats().await.unwrap().notification_posts, 3);
    receiver.handle.stop(true).await;
}

#[tokio::test]
async fn the_subscribers_status_and_connection_failures_are_reported() {
    let receiver = spawn_receiver(404).await;
    let app = spawn_with(config_for(&receiver)).await;
    let batch = vec![Notification::activities("ALICE1", date("2026-11-20"), "alice-act")];
    let deliveries = app.admin.push_notifications(batch.clone(), 0).await.unwrap();
    assert_eq!(deliveries[0].status, Some(404));

    receiver.handle.stop(true).await;
    let deliveries = app.admin.push_notifications(batch.clone(), 0).await.unwrap();
    assert_eq!(deliveries[0].status, None);
    assert!(deliveries[0].error.is_some());

    app.admin.set_subscriber_url(None).await.unwrap();
    assert!(app.admin.push_notifications(batch, 0).await.is_err());
}

#[tokio::test]
async fn a_user_revoking_access_notifies_user_revoked_access_subscribers() {
    let receiver = spawn_receiver(204).await;
    let app = spawn_with(config_for(&receiver)).await;
    let tokens = app.create("ALICE1").await;
    let response = app
        .http
        .post(app.url("/1/user/-/apiSubscriptions/alice-all.json"))
        .bearer_auth(&tokens.access_token)
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let deliveries = app.admin.revoke("ALICE1").await.unwrap();
    assert_eq!(deliveries.len(), 1);
    let received = receiver.received.lock().unwrap().clone();
    let parsed = fitex_fitbit::parse_notifications(&received[0].body).unwrap();
    assert_eq!(parsed[0].collection_type, "userRevokedAccess");
    assert_eq!(parsed[0].subscription_id.as_deref(), Some("alice-all"));
    receiver.handle.stop(true).await;
}
