//! What every provider's webhook shares: reading the raw body within a limit, turning proven
//! change notices into Kafka records (keyed by the provider's user id, with event and trace
//! ids), and answering only once they are durable.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::BytesMut;
use fitex_common::outbox::OutgoingRecord;
use fitex_common::trace_context::TraceParent;
use fitex_proto::{content_type, Message, Provider, ProviderNotification, Timestamp, TraceContext};
use fitex_provider::{ChangeNotice, WebhookVerifier};
use futures::StreamExt;
use uuid::Uuid;

use crate::metric_names;
use crate::publisher::{Publisher, Unavailable};

/// What a provider's notification handler needs, shared across workers.
pub struct Endpoint {
    /// The provider seam's webhook half.
    pub verifier: std::sync::Arc<dyn WebhookVerifier>,
    pub max_body_bytes: usize,
    pub topic: String,
    pub publisher: Publisher,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    /// Fitbit: answered like an unknown path, so a forger learns nothing.
    #[error("signature check failed: {0}")]
    NotFound(&'static str),
    /// Google Health: no credentials (no `Authorization` on a verification call, no signature).
    #[error("unauthenticated: {0}")]
    Unauthorized(&'static str),
    /// Google Health: credentials that do not prove the call came from Google.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    InvalidBody(String),
    /// The provider's public keys could not be fetched: our problem, so the provider retries.
    #[error("the provider's signing keys are unavailable; retry later")]
    KeysUnavailable,
    #[error("temporarily unable to accept notifications; retry later")]
    Unavailable(#[from] Unavailable),
}

impl WebhookError {
    /// The metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            WebhookError::BodyTooLarge { .. } => "body_too_large",
            WebhookError::BodyRead(_) => "body_unreadable",
            WebhookError::NotFound(reason)
            | WebhookError::Unauthorized(reason)
            | WebhookError::Forbidden(reason) => reason,
            WebhookError::InvalidBody(_) => "invalid_body",
            WebhookError::KeysUnavailable => "keyset_unavailable",
            WebhookError::Unavailable(_) => "unavailable",
        }
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::BodyRead(_) | WebhookError::InvalidBody(_) => StatusCode::BAD_REQUEST,
            WebhookError::NotFound(_) => StatusCode::NOT_FOUND,
            WebhookError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebhookError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebhookError::KeysUnavailable | WebhookError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            // Nothing to learn for a forger.
            WebhookError::NotFound(_)
            | WebhookError::Unauthorized(_)
            | WebhookError::Forbidden(_) => response.finish(),
            WebhookError::KeysUnavailable | WebhookError::Unavailable(_) => response
                .insert_header((header::RETRY_AFTER, "30"))
                .json(serde_json::json!({ "error": self.to_string() })),
            _ => response.json(serde_json::json!({ "error": self.to_string() })),
        }
    }
}

/// Counts a refused request by provider and reason.
pub fn count_rejection(provider: &'static str, error: &WebhookError) {
    metrics::counter!(metric_names::REJECTED, "provider" => provider, "reason" => error.reason())
        .increment(1);
}

/// The trace this request continues (or starts), from its `traceparent` header.
pub fn trace_of(request: &HttpRequest) -> TraceParent {
    TraceParent::continue_or_start(
        request.headers().get("traceparent").and_then(|v| v.to_str().ok()),
    )
}

/// Reads the raw body, refusing more than `limit` bytes (from `Content-Length` up front when
/// given, and while streaming otherwise).
pub async fn read_body(
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

/// Publishes one record per notice and answers 204 once they are durable (broker or outbox).
pub async fn publish(
    request: &HttpRequest,
    endpoint: &Endpoint,
    notices: &[ChangeNotice],
    trace: &TraceParent,
) -> Result<HttpResponse, WebhookError> {
    let provider = endpoint.verifier.provider();
    let tracestate =
        request.headers().get("tracestate").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let records: Vec<OutgoingRecord> = notices
        .iter()
        .map(|n| to_record(n, provider, &endpoint.topic, trace.child(), tracestate))
        .collect();
    for record in &records {
        tracing::debug!(user = %record.key, event_id = %record.event_id, "publishing notification");
    }
    let delivery = endpoint.publisher.publish(&records).await?;
    metrics::counter!(metric_names::ACCEPTED, "provider" => provider, "delivery" => delivery.label())
        .increment(records.len() as u64);
    tracing::info!(
        provider,
        notifications = records.len(),
        delivery = delivery.label(),
        "accepted notifications"
    );
    Ok(HttpResponse::NoContent().finish())
}

fn provider_enum(provider: &str) -> Provider {
    match provider {
        "fitbit" => Provider::Fitbit,
        "google_health" => Provider::GoogleHealth,
        _ => Provider::Unspecified,
    }
}

fn to_record(
    notification: &ChangeNotice,
    provider: &'static str,
    topic: &str,
    trace: TraceParent,
    tracestate: &str,
) -> OutgoingRecord {
    let event_id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let traceparent = trace.header_value();
    let event = ProviderNotification {
        event_id: event_id.to_string(),
        provider: provider_enum(provider) as i32,
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
        ("provider".to_string(), provider.to_string()),
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
