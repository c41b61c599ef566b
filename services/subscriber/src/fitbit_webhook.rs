//! `GET|POST <fitbit_webhook_path>`: Fitbit's verification handshake and signed notifications.

use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tracing::Instrument;

use crate::webhook::{self, Endpoint, WebhookError};

/// What the Fitbit handlers need, shared across workers.
pub struct FitbitWebhook {
    pub verification_code: SecretString,
    /// Verified by `fitex_fitbit::FitbitWebhook` behind the seam.
    pub endpoint: Endpoint,
}

/// Logged for a notification whose signature does not check out.
const REJECTED: &str = "rejected a fitbit notification with a bad signature";

#[derive(Deserialize)]
pub struct VerifyQuery {
    verify: Option<String>,
}

/// Fitbit calls this twice when a subscriber is added: with the right code (expects 204) and a
/// wrong one (expects 404).
pub async fn verify(
    query: web::Query<VerifyQuery>,
    state: web::Data<FitbitWebhook>,
) -> HttpResponse {
    let expected = state.verification_code.expose_secret().as_bytes();
    let matches =
        query.verify.as_deref().is_some_and(|code| bool::from(code.as_bytes().ct_eq(expected)));
    if matches {
        tracing::info!("fitbit subscriber verification succeeded");
        HttpResponse::NoContent().finish()
    } else {
        tracing::info!("fitbit subscriber verification with a wrong or missing code");
        HttpResponse::NotFound().finish()
    }
}

/// Signed notifications: verified over the raw bytes, then published; 204 once durable.
pub async fn notify(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<FitbitWebhook>,
) -> Result<HttpResponse, WebhookError> {
    // One span per request, carrying the trace id that the records carry on to the consumers,
    // the socket's peer and the client (the peer, unless a trusted proxy named another).
    let trace = webhook::trace_of(&request);
    let from = state.endpoint.client_of(&request);
    let span = tracing::info_span!(
        "fitbit_notifications",
        trace_id = %trace.trace_id_hex(),
        peer = %webhook::peer_field(&from),
        client = %from,
    );
    let endpoint = &state.endpoint;
    let result = async {
        let body = webhook::read_body(&request, payload, endpoint.max_body_bytes).await?;
        webhook::accept(&request, endpoint, &body, &trace, REJECTED).await
    }
    .instrument(span)
    .await;
    if let Err(error) = &result {
        webhook::count_rejection(endpoint.verifier.provider(), error);
    }
    result
}
