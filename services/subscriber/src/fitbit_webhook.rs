//! `GET|POST <fitbit_webhook_path>`: Fitbit's verification handshake and signed notifications.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::BytesMut;
use fitex_common::outbox::OutgoingRecord;
use fitex_common::trace_context::TraceParent;
use fitex_proto::{content_type, Message, Provider, ProviderNotification, Timestamp, TraceContext};
use fitex_provider::{ChangeNotice, WebhookRejection, WebhookVerifier};
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tracing::Instrument;
use uuid::Uuid;

use crate::metric_names;
use crate::publisher::{Publisher, Unavailable};

/// What the Fitbit handlers need, shared across workers.
pub struct FitbitWebhook {
    pub verification_code: SecretString,
    /// The provider seam's webhook half (`fitex_fitbit::FitbitWebhook`).
    pub verifier: std::sync::Arc<dyn WebhookVerifier>,
    pub max_body_bytes: usize,
    pub topic: String,
    pub publisher: Publisher,
}

const PROVIDER: &str = "fitbit";

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    /// Deliberately answered like an unknown path: nothing to learn for a forger.
    #[error("signature check failed: {0}")]
    Signature(&'static str),
    #[error("{0}")]
    InvalidBody(String),
    #[error("temporarily unable to accept notifications; retry later")]
    Unavailable(#[from] Unavailable),
}

impl WebhookError {
    fn reason(&self) -> &'static str {
        match self {
            WebhookError::BodyTooLarge { .. } => "body_too_large",
            WebhookError::BodyRead(_) => "body_unreadable",
            WebhookError::Signature(reason) => reason,
            WebhookError::InvalidBody(_) => "invalid_body",
            WebhookError::Unavailable(_) => "unavailable",
        }
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::BodyRead(_) | WebhookError::InvalidBody(_) => StatusCode::BAD_REQUEST,
            WebhookError::Signature(_) => StatusCode::NOT_FOUND,
            WebhookError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            WebhookError::Signature(_) => response.finish(),
            WebhookError::Unavailable(_) => response
                .insert_header((header::RETRY_AFTER, "30"))
                .json(serde_json::json!({ "error": self.to_string() })),
            _ => response.json(serde_json::json!({ "error": self.to_string() })),
        }
    }
}

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
    // One span per request, carrying the trace id that the records carry on to the consumers.
    let trace = TraceParent::continue_or_start(
        request.headers().get("traceparent").and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!("fitbit_notifications", trace_id = %trace.trace_id_hex());
    let result = accept(&request, payload, &state, trace).instrument(span).await;
    if let Err(error) = &result {
        metrics::counter!(metric_names::REJECTED, "provider" => PROVIDER, "reason" => error.reason())
            .increment(1);
    }
    result
}

async fn accept(
    request: &HttpRequest,
    payload: web::Payload,
    state: &FitbitWebhook,
    trace: TraceParent,
) -> Result<HttpResponse, WebhookError> {
    let body = read_body(request, payload, state.max_body_bytes).await?;
    let headers = request.headers();
    let header = |name: &str| headers.get(name).map(|v| v.as_bytes().to_vec());
    let notifications = match state.verifier.verify_and_parse(&header, &body).await {
        Ok(notifications) => notifications,
        Err(WebhookRejection::Signature(reason)) => {
            tracing::warn!(
                reason,
                peer = ?request.connection_info().realip_remote_addr(),
                bytes = body.len(),
                "rejected a fitbit notification with a bad signature"
            );
            return Err(WebhookError::Signature(reason));
        }
        Err(WebhookRejection::InvalidBody(reason)) => {
            return Err(WebhookError::InvalidBody(reason))
        }
    };

    let tracestate =
        request.headers().get("tracestate").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let records: Vec<OutgoingRecord> = notifications
        .iter()
        .map(|n| to_record(n, &state.topic, trace.child(), tracestate))
        .collect();
    for record in &records {
        tracing::debug!(user = %record.key, event_id = %record.event_id, "publishing notification");
    }
    let delivery = state.publisher.publish(&records).await?;
    metrics::counter!(metric_names::ACCEPTED, "provider" => PROVIDER, "delivery" => delivery.label())
        .increment(records.len() as u64);
    tracing::info!(
        notifications = records.len(),
        delivery = delivery.label(),
        "accepted fitbit notifications"
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Reads the raw body, refusing more than `limit` bytes (from `Content-Length` up front when
/// given, and while streaming otherwise).
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, WebhookError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(WebhookError::BodyTooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| WebhookError::BodyRead(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(WebhookError::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn to_record(
    notification: &ChangeNotice,
    topic: &str,
    trace: TraceParent,
    tracestate: &str,
) -> OutgoingRecord {
    let event_id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let traceparent = trace.header_value();
    let event = ProviderNotification {
        event_id: event_id.to_string(),
        provider: Provider::Fitbit as i32,
        collection_type: notification.collection_type.clone(),
        owner_id: notification.owner_id.clone(),
        owner_type: notification.owner_type.clone(),
        date: notification.date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default(),
        subscription_id: notification.subscription_id.clone(),
        received_at: Some(Timestamp {
            seconds: now.timestamp(),
            nanos: now.timestamp_subsec_nanos() as i32,
        }),
        trace_context: Some(TraceContext {
            traceparent: traceparent.clone(),
            tracestate: tracestate.to_string(),
        }),
        operation: notification.operation.clone(),
    };
    let mut headers = vec![
        ("event_id".to_string(), event_id.to_string()),
        ("traceparent".to_string(), traceparent),
        ("content-type".to_string(), content_type::PROVIDER_NOTIFICATION.to_string()),
        ("provider".to_string(), PROVIDER.to_string()),
    ];
    if !tracestate.is_empty() {
        headers.push(("tracestate".to_string(), tracestate.to_string()));
    }
    OutgoingRecord {
        event_id,
        topic: topic.to_string(),
        key: notification.owner_id.clone(),
        payload: event.encode_to_vec(),
        headers,
    }
}
