//! What the simulator sends to Google subscribers: the endpoint verification handshake and signed
//! change notifications. Nothing is retried (Google would retry non-2xx answers for days).

use actix_web::http::header;
use p256::ecdsa::SigningKey;

use crate::error::ApiError;
use crate::google::model::{
    EndpointCheck, GoogleDelivery, GooglePush, NotificationForm, RawNotification, SignatureKey,
};
use crate::google::wire::{self, LocalInterval, NotificationHead};
use crate::model::Delivery;
use crate::state::Store;

/// The verification request body, byte for byte as Google sends it.
pub const VERIFICATION_BODY: &str = r#"{"type": "verification"}"#;
/// The signature header as the live API spells it.
pub const SIGNATURE_HEADER: &str = "X-Healthapi-Signature";

/// One POST with a JSON body; the status, or why none came back.
async fn post(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    signature: Option<&str>,
    authorization: Option<&str>,
) -> Delivery {
    let mut request =
        http.post(url).header(header::CONTENT_TYPE.as_str(), "application/json").body(body);
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION.as_str(), authorization);
    }
    match request.send().await {
        Ok(response) => Delivery { status: Some(response.status().as_u16()), error: None },
        Err(error) => {
            tracing::warn!(%url, %error, "Google subscriber POST failed");
            Delivery { status: None, error: Some(error.to_string()) }
        }
    }
}

fn outcome(delivery: &Delivery) -> String {
    match (delivery.status, &delivery.error) {
        (Some(status), _) => status.to_string(),
        (None, Some(error)) => format!("no response ({error})"),
        (None, None) => "no response".to_string(),
    }
}

/// Google's endpoint verification: `{"type": "verification"}` with `Authorization: <secret>`
/// must be answered 201, then without `Authorization` 401 or 403. Both calls are always made.
pub(crate) async fn verify_endpoint(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
) -> EndpointCheck {
    let body = VERIFICATION_BODY.as_bytes();
    let with = post(http, url, body.to_vec(), None, Some(secret)).await;
    let without = post(http, url, body.to_vec(), None, None).await;
    let error = match (with.status, without.status) {
        (Some(201), Some(401 | 403)) => None,
        (Some(201), _) => Some(format!(
            "Endpoint verification failed: expected 401 or 403 without Authorization, got {}",
            outcome(&without)
        )),
        _ => Some(format!(
            "Endpoint verification failed: expected 201 with Authorization, got {}",
            outcome(&with)
        )),
    };
    EndpointCheck {
        with_authorization: with.status,
        without_authorization: without.status,
        passed: error.is_none(),
        error,
    }
}

/// Signs one delivery about the user — one notification object whose intervals are the dates, or
/// a JSON array of one notification per date (`form`) — and sends it to every subscriber that
/// should get it (see [`Store::google_notification_targets`]), then `duplicates` more times each.
pub(crate) async fn push(
    store: &Store,
    http: &reqwest::Client,
    push: &GooglePush,
) -> Result<Vec<GoogleDelivery>, ApiError> {
    let (profile, targets) = store.google_notification_targets(&push.user_id, &push.data_type)?;
    let intervals: Vec<LocalInterval> = std::iter::once(push.date)
        .chain(push.more_dates.iter().copied())
        .map(|date| {
            if push.crosses_midnight {
                LocalInterval::across_midnight(date)
            } else {
                LocalInterval::sync_on(date)
            }
        })
        .collect();
    let form = push.form.unwrap_or(store.config.google_notification_form);
    let (key_id, key) = store.google_primary_key();
    let mut deliveries = Vec::new();
    for target in targets {
        let head = NotificationHead {
            subscriber_id: &target.subscriber_id,
            health_user_id: &profile.health_user_id,
            operation: &push.operation,
            data_type: &push.data_type,
        };
        let body = match form {
            NotificationForm::Object => {
                wire::notification_body(head, &profile.timezone, &intervals)
            }
            NotificationForm::Array => {
                let each: Vec<Vec<LocalInterval>> = intervals.iter().map(|i| vec![*i]).collect();
                wire::notification_array_body(head, &profile.timezone, &each)
            }
        };
        let signature = fitex_google_health::sign(&key, key_id, &body);
        // Documented as always sent; live reports say it is missing (`google_send_authorization`).
        let authorization =
            store.config.google_send_authorization.then_some(target.secret.as_str());
        for _ in 0..=push.duplicates {
            store.count_google_notification_post();
            let sent =
                post(http, &target.endpoint_uri, body.clone(), Some(&signature), authorization)
                    .await;
            deliveries.push(GoogleDelivery {
                subscriber_id: target.subscriber_id.clone(),
                health_user_id: profile.health_user_id.clone(),
                status: sent.status,
                error: sent.error,
            });
        }
    }
    Ok(deliveries)
}

/// POSTs an arbitrary body, signed as asked (for negative tests of a receiver).
pub(crate) async fn raw(store: &Store, http: &reqwest::Client, raw: &RawNotification) -> Delivery {
    let body = raw.body.as_bytes().to_vec();
    let stranger = || SigningKey::random(&mut rand_core::OsRng);
    let signature = match raw.signature_key {
        SignatureKey::Primary => {
            let (key_id, key) = store.google_primary_key();
            Some(fitex_google_health::sign(&key, key_id, &body))
        }
        SignatureKey::Unknown => {
            Some(fitex_google_health::sign(&stranger(), store.google_unused_key_id(), &body))
        }
        SignatureKey::Wrong => {
            let (key_id, _) = store.google_primary_key();
            Some(fitex_google_health::sign(&stranger(), key_id, &body))
        }
        SignatureKey::None => None,
    };
    store.count_google_notification_post();
    post(http, &raw.url, body, signature.as_deref(), raw.authorization.as_deref()).await
}
