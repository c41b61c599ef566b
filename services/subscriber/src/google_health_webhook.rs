//! `POST <google_health_webhook_path>`: the Google Health API's endpoint verification and its
//! signed notifications.
//!
//! Verification (on subscriber create, and when its URI or secret changes): two POSTs of
//! `{"type":"verification"}`, with `Authorization: <secret>` (201) and without it (401); a wrong
//! secret gets 401 too. Notifications must carry a valid ECDSA signature over the raw body; an
//! `Authorization` header, when present, must be the secret. Refusals are 401 (no credentials)
//! or 403 (credentials that do not check out), and nothing is published.

use actix_web::{web, HttpRequest, HttpResponse};
use fitex_common::trace_context::TraceParent;
use fitex_google_health::{is_verification_request, verification_status};
use fitex_provider::WebhookRejection;
use secrecy::SecretString;
use tracing::Instrument;

use crate::webhook::{self, Endpoint, WebhookError};

const PROVIDER: &str = "google_health";

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
    let result = accept(&request, payload, &state, trace).instrument(span).await;
    if let Err(error) = &result {
        webhook::count_rejection(PROVIDER, error);
    }
    result
}

/// Credentials missing altogether are 401; present but wrong, 403. Keys we could not fetch are
/// our problem: 503, and Google delivers again later.
fn refusal(reason: &'static str) -> WebhookError {
    match reason {
        "authorization_missing" | "signature_missing" => WebhookError::Unauthorized(reason),
        "keyset_unavailable" => WebhookError::KeysUnavailable,
        _ => WebhookError::Forbidden(reason),
    }
}

async fn accept(
    request: &HttpRequest,
    payload: web::Payload,
    state: &GoogleHealthWebhook,
    trace: TraceParent,
) -> Result<HttpResponse, WebhookError> {
    let body = webhook::read_body(request, payload, state.endpoint.max_body_bytes).await?;
    let headers = request.headers();
    if is_verification_request(&body) {
        let authorization = headers.get("Authorization").map(|v| v.as_bytes());
        let status = verification_status(&body, authorization, &state.secrets);
        return match status {
            Some(201) => {
                webhook::require_json(request)?;
                tracing::info!("google health endpoint verification succeeded");
                metrics::counter!(crate::metric_names::VERIFICATIONS, "provider" => PROVIDER,
                    "outcome" => "verified")
                .increment(1);
                Ok(HttpResponse::Created().finish())
            }
            Some(_) if authorization.is_some() => {
                tracing::warn!("google health endpoint verification with a wrong secret");
                Err(WebhookError::Unauthorized("authorization_mismatch"))
            }
            _ => Err(WebhookError::Unauthorized("authorization_missing")),
        };
    }
    let header = |name: &str| headers.get(name).map(|v| v.as_bytes().to_vec());
    let notices = match state.endpoint.verifier.verify_and_parse(&header, &body).await {
        Ok(notices) => notices,
        Err(WebhookRejection::Signature(reason)) => {
            tracing::warn!(reason, bytes = body.len(), "rejected a google health notification");
            return Err(refusal(reason));
        }
        Err(WebhookRejection::InvalidBody(reason)) => {
            // The sender is proven: a body declared as something else is 415 rather than 400.
            webhook::require_json(request)?;
            return Err(WebhookError::InvalidBody(reason));
        }
    };
    webhook::require_json(request)?;
    webhook::publish(request, &state.endpoint, &notices, &trace).await
}
