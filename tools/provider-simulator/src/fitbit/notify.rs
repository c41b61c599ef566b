//! Pushing signed notifications to the subscriber, as Fitbit does after a sync.

use std::time::Duration;

use crate::model::{Delivery, Notification};
use crate::state::Store;

/// Fitbit gives a subscriber 5 seconds to answer.
pub const SUBSCRIBER_TIMEOUT: Duration = Duration::from_secs(5);

/// Posts `notifications` as one JSON array, then the identical body `duplicates` more times in
/// quick succession (real syncs repeat notifications). Nothing is sent without a subscriber URL.
pub(crate) async fn push(
    store: &Store,
    http: &reqwest::Client,
    notifications: &[Notification],
    duplicates: usize,
) -> Vec<Delivery> {
    let Some(url) = store.subscriber_url() else {
        return Vec::new();
    };
    let body = serde_json::to_vec(notifications).expect("notifications serialise");
    let signature = fitex_fitbit::sign(&store.config.client_secret, &body);
    let mut deliveries = Vec::with_capacity(duplicates + 1);
    for _ in 0..=duplicates {
        store.count_notification_post();
        let sent = http
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Fitbit-Signature", &signature)
            .body(body.clone())
            .send()
            .await;
        let delivery = match sent {
            Ok(response) => Delivery { status: Some(response.status().as_u16()), error: None },
            Err(error) => {
                tracing::warn!(%url, %error, "notification POST failed");
                Delivery { status: None, error: Some(error.to_string()) }
            }
        };
        deliveries.push(delivery);
    }
    deliveries
}
