//! What every provider's webhook shares: reading the raw body within a limit, turning proven
//! change notices into Kafka records (keyed by the provider's user id, with event and trace
//! ids), and answering only once they are durable.

use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::BytesMut;
use fitex_common::client_address::{ClientAddress, ProxySettings};
use fitex_common::outbox::OutgoingRecord;
use fitex_common::trace_context::TraceParent;
use fitex_proto::{content_type, Message, ProviderNotification, Timestamp, TraceContext};
use fitex_provider::{
    ChangeNotice, ProviderId, Refusal, Unproven, WebhookRejection, WebhookVerifier,
};
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
    /// Whose `X-Forwarded-For` (or `Forwarded`) names the client: `http.trusted_proxies`.
    pub proxies: ProxySettings,
}

impl Endpoint {
    /// Where `request` came from: the socket's peer, and the client as a trusted proxy names it
    /// (the peer itself when the peer is not a trusted proxy, whatever headers it sent).
    pub fn client_of(&self, request: &HttpRequest) -> ClientAddress {
        self.proxies.client_of(request)
    }
}

/// The request span's `peer` field: the socket address, which no header changes.
pub fn peer_field(address: &ClientAddress) -> String {
    address.peer.map_or_else(|| "unknown".to_string(), |peer| peer.to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    /// The body did not arrive within `http.body_timeout_ms` (a stalled or slowloris client).
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// A proven sender, but a body declared as something other than JSON.
    #[error("notifications must be JSON (Content-Type: application/json), not {0:?}")]
    UnsupportedMediaType(String),
    /// Not proven to come from the provider: answered as the provider's contract says
    /// (`WebhookVerifier::refusal`), with nothing for a forger to learn.
    #[error("{why}")]
    Unproven { why: Unproven, refusal: Refusal },
    #[error("{0}")]
    InvalidBody(String),
    #[error("temporarily unable to accept notifications; retry later")]
    Unavailable(#[from] Unavailable),
}

impl WebhookError {
    /// The metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            WebhookError::BodyTooLarge { .. } => "body_too_large",
            WebhookError::BodyRead(_) => "body_unreadable",
            WebhookError::BodyTimeout => "body_timeout",
            WebhookError::UnsupportedMediaType(_) => "unsupported_media_type",
            WebhookError::Unproven { why, .. } => why.label(),
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
            WebhookError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            WebhookError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebhookError::Unproven { refusal, .. } => match refusal {
                Refusal::NotFound => StatusCode::NOT_FOUND,
                Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
                Refusal::Forbidden => StatusCode::FORBIDDEN,
                Refusal::RetryLater => StatusCode::SERVICE_UNAVAILABLE,
            },
            WebhookError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            WebhookError::Unproven { refusal: Refusal::RetryLater, .. }
            | WebhookError::Unavailable(_) => response
                .insert_header((header::RETRY_AFTER, "30"))
                .json(serde_json::json!({ "error": self.to_string() })),
            // Nothing to learn for a forger.
            WebhookError::Unproven { .. } => response.finish(),
            _ => response.json(serde_json::json!({ "error": self.to_string() })),
        }
    }
}

/// Counts a refused request by provider and reason.
pub fn count_rejection(provider: ProviderId, error: &WebhookError) {
    metrics::counter!(metric_names::REJECTED, "provider" => provider.as_str(), "reason" => error.reason())
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
        let chunk = chunk.map_err(|error| match error {
            // The body deadline (`fitex_common::health::RequestGuard`) passed.
            PayloadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                WebhookError::BodyTimeout
            }
            other => WebhookError::BodyRead(other.to_string()),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(WebhookError::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Refuses a body declared as anything but JSON (`application/json` or a `+json` type, any
/// parameters). A body with no `Content-Type` is taken as JSON: the signature, not the label,
/// proves what it is, and some senders leave the header out. Called once the sender is proven,
/// so a forger learns nothing from it.
pub fn require_json(request: &HttpRequest) -> Result<(), WebhookError> {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let declared = String::from_utf8_lossy(value.as_bytes()).into_owned();
    let essence = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(WebhookError::UnsupportedMediaType(declared.chars().take(100).collect()))
    }
}

/// What every provider's notifications go through once the body is read (and, for Google, once
/// it is known not to be the verification handshake): the verifier proves the call over the exact
/// bytes and reads its notices, which are then published; 204 once they are durable. An unproven
/// call is logged as `rejected` says and answered as the provider's contract says.
pub async fn accept(
    request: &HttpRequest,
    endpoint: &Endpoint,
    body: &[u8],
    trace: &TraceParent,
    rejected: &'static str,
) -> Result<HttpResponse, WebhookError> {
    let headers = request.headers();
    let header = |name: &str| headers.get(name).map(|v| v.as_bytes().to_vec());
    let notices = match endpoint.verifier.verify_and_parse(&header, body).await {
        Ok(notices) => notices,
        Err(WebhookRejection::Unproven(why)) => {
            tracing::warn!(reason = why.label(), bytes = body.len(), "{rejected}");
            return Err(WebhookError::Unproven { why, refusal: endpoint.verifier.refusal(why) });
        }
        Err(WebhookRejection::InvalidBody(reason)) => {
            // The sender is proven: a body declared as something else is 415 rather than 400.
            require_json(request)?;
            return Err(WebhookError::InvalidBody(reason));
        }
    };
    require_json(request)?;
    publish(request, endpoint, &notices, trace).await
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
    metrics::counter!(metric_names::ACCEPTED, "provider" => provider.as_str(), "delivery" => delivery.label())
        .increment(records.len() as u64);
    tracing::info!(
        provider = provider.as_str(),
        notifications = records.len(),
        delivery = delivery.label(),
        "accepted notifications"
    );
    Ok(HttpResponse::NoContent().finish())
}

/// The record published for one accepted notification (also what the raw-producer baseline of
/// `bench/subscriber.sh` sends, so that it measures the same record).
pub fn to_record(
    notification: &ChangeNotice,
    provider: ProviderId,
    topic: &str,
    trace: TraceParent,
    tracestate: &str,
) -> OutgoingRecord {
    let event_id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let traceparent = trace.header_value();
    let event = ProviderNotification {
        event_id: event_id.to_string(),
        provider: provider.to_proto() as i32,
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
        change_kind: notification.kind.to_proto() as i32,
    };
    let mut headers = vec![
        ("event_id".to_string(), event_id.to_string()),
        ("traceparent".to_string(), traceparent),
        ("content-type".to_string(), content_type::PROVIDER_NOTIFICATION.to_string()),
        ("provider".to_string(), provider.as_str().to_string()),
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

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn with_type(content_type: Option<&str>) -> Result<(), WebhookError> {
        let mut request = TestRequest::post();
        if let Some(value) = content_type {
            request = request.insert_header((header::CONTENT_TYPE, value));
        }
        require_json(&request.to_http_request())
    }

    #[test]
    fn a_record_carries_the_provider_and_the_kind_the_verifier_gave() {
        let notice = ChangeNotice {
            kind: fitex_provider::NoticeKind::AccessRevoked,
            collection_type: "userRevokedAccess".into(),
            owner_id: "U1".into(),
            owner_type: "user".into(),
            date: None,
            subscription_id: String::new(),
            operation: String::new(),
        };
        for (provider, value) in [
            (ProviderId::Fitbit, fitex_proto::Provider::Fitbit),
            (ProviderId::GoogleHealth, fitex_proto::Provider::GoogleHealth),
        ] {
            let record = to_record(&notice, provider, "topic", TraceParent::new_root(), "");
            let event = ProviderNotification::decode(record.payload.as_slice()).unwrap();
            assert_eq!(event.provider, value as i32);
            assert_eq!(event.change_kind, fitex_proto::ChangeKind::AccessRevoked as i32);
            assert_eq!(event.collection_type, "userRevokedAccess", "kept as sent");
            let header = record.headers.iter().find(|(k, _)| k == "provider").unwrap();
            assert_eq!(header.1, provider.as_str());
        }
    }

    #[test]
    fn json_or_no_declared_type_is_accepted_and_anything_else_is_415() {
        for ok in [
            None,
            Some("application/json"),
            Some("Application/JSON; charset=utf-8"),
            Some("application/cloudevents+json"),
        ] {
            assert!(with_type(ok).is_ok(), "{ok:?}");
        }
        for refused in
            ["text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]
        {
            let error = with_type(Some(refused)).unwrap_err();
            assert_eq!(error.status_code(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{refused}");
            assert_eq!(error.reason(), "unsupported_media_type");
        }
    }
}
