//! `POST <google_health_webhook_path>`: the Google Health API's endpoint verification and its
//! signed notifications.
//!
//! Verification (on subscriber create, and when its URI or secret changes): two POSTs of
//! `{"type":"verification"}`, with `Authorization: <secret>` (201) and without it (401); a wrong
//! secret gets 401 too. Notifications must carry a valid ECDSA signature over the raw body; an
//! `Authorization` header, when present, must be the secret. Refusals are 401 (no credentials)
//! or 403 (credentials that do not check out), and nothing is published.

use actix_web::{web, HttpRequest, HttpResponse};
use fitex_google_health::{is_verification_request, verification_status};
use fitex_provider::{Refusal, Unproven};
use secrecy::SecretString;
use tracing::Instrument;

use crate::webhook::{self, Endpoint, WebhookError};

/// Logged for a notification that is not proven to come from Google.
const REJECTED: &str = "rejected a google health notification";

/// What the Google Health handler needs, shared across workers.
pub struct GoogleHealthWebhook {
    /// The subscriber's `endpointAuthorization.secret` values, newest first.
    pub secrets: Vec<SecretString>,
    /// Verified by `fitex_google_health::GoogleHealthWebhook` behind the seam.
    pub endpoint: Endpoint,
}

pub async fn notify(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<GoogleHealthWebhook>,
) -> Result<HttpResponse, WebhookError> {
    let trace = webhook::trace_of(&request);
    let from = state.endpoint.client_of(&request);
    let span = tracing::info_span!(
        "google_health_notifications",
        trace_id = %trace.trace_id_hex(),
        peer = %webhook::peer_field(&from),
        client = %from,
    );
    let result = async {
        let body = webhook::read_body(&request, payload, state.endpoint.max_body_bytes).await?;
        if is_verification_request(&body) {
            return verification(&request, &body, &state);
        }
        webhook::accept(&request, &state.endpoint, &body, &trace, REJECTED).await
    }
    .instrument(span)
    .await;
    if let Err(error) = &result {
        webhook::count_rejection(state.endpoint.verifier.provider(), error);
    }
    result
}

/// The endpoint verification handshake: 201 with the right `Authorization`, 401 without one or
/// with a wrong one.
fn verification(
    request: &HttpRequest,
    body: &[u8],
    state: &GoogleHealthWebhook,
) -> Result<HttpResponse, WebhookError> {
    let authorization = request.headers().get("Authorization").map(|v| v.as_bytes());
    let refused = |why| WebhookError::Unproven { why, refusal: Refusal::Unauthenticated };
    match verification_status(body, authorization, &state.secrets) {
        Some(201) => {
            webhook::require_json(request)?;
            tracing::info!("google health endpoint verification succeeded");
            metrics::counter!(crate::metric_names::VERIFICATIONS,
                "provider" => state.endpoint.verifier.provider().as_str(), "outcome" => "verified")
            .increment(1);
            Ok(HttpResponse::Created().finish())
        }
        Some(_) if authorization.is_some() => {
            tracing::warn!("google health endpoint verification with a wrong secret");
            Err(refused(Unproven::AuthorizationMismatch))
        }
        _ => Err(refused(Unproven::AuthorizationMissing)),
    }
}
