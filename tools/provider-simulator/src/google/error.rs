//! Google's error answers: the API's `{"error":{"code","message","status","details"}}` (the
//! standard error model: a 403 names its `google.rpc.ErrorInfo` reason) and the OAuth endpoints'
//! `{"error","error_description"}`.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

use crate::google::model::ProjectRefusal;

/// The simulated project's number, as Google names the consumer in its errors.
pub const PROJECT_NUMBER: &str = "575105963048";
const SERVICE: &str = "health.googleapis.com";

/// An error answer of the simulated Google Health API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleApiError {
    /// Missing, unknown, expired or revoked access token.
    #[error("invalid authentication credentials")]
    Unauthenticated,
    #[error("insufficient authentication scopes")]
    InsufficientScopes,
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// Over the per-user quota per minute.
    #[error("quota exceeded")]
    ResourceExhausted,
    /// An admin-injected fault answering this HTTP status.
    #[error("injected fault {0}")]
    InjectedFault(u16),
    /// The project, not the caller, is refused: 403 with the refusal's ErrorInfo reason.
    #[error("project refused: {0:?}")]
    ProjectRefused(ProjectRefusal),
}

/// The canonical status name Google pairs with an HTTP status.
fn canonical_status(http: u16) -> &'static str {
    match http {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

impl GoogleApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            GoogleApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            GoogleApiError::InsufficientScopes
            | GoogleApiError::PermissionDenied(_)
            | GoogleApiError::ProjectRefused(_) => StatusCode::FORBIDDEN,
            GoogleApiError::InvalidArgument(_) | GoogleApiError::FailedPrecondition(_) => {
                StatusCode::BAD_REQUEST
            }
            GoogleApiError::NotFound(_) => StatusCode::NOT_FOUND,
            GoogleApiError::AlreadyExists(_) => StatusCode::CONFLICT,
            GoogleApiError::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            GoogleApiError::InjectedFault(status) => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    /// `UNAUTHENTICATED`, `PERMISSION_DENIED`, …
    pub fn status_name(&self) -> &'static str {
        match self {
            GoogleApiError::AlreadyExists(_) => "ALREADY_EXISTS",
            GoogleApiError::FailedPrecondition(_) => "FAILED_PRECONDITION",
            _ => canonical_status(self.status().as_u16()),
        }
    }

    pub fn message(&self) -> String {
        match self {
            GoogleApiError::Unauthenticated => {
                "Request had invalid authentication credentials.".to_string()
            }
            GoogleApiError::InsufficientScopes => {
                "Request had insufficient authentication scopes.".to_string()
            }
            GoogleApiError::ResourceExhausted => "Quota exceeded for quota metric 'Requests' and \
                limit 'Requests per minute per user' of service 'health.googleapis.com'."
                .to_string(),
            GoogleApiError::InjectedFault(_) => {
                self.status().canonical_reason().unwrap_or("Injected fault").to_string()
            }
            GoogleApiError::ProjectRefused(refusal) => match refusal {
                ProjectRefusal::ServiceDisabled => format!(
                    "Google Health API has not been used in project {PROJECT_NUMBER} before or it \
                     is disabled. Enable it by visiting https://console.developers.google.com/\
                     apis/api/{SERVICE}/overview?project={PROJECT_NUMBER} then retry."
                ),
                ProjectRefusal::BillingDisabled => format!(
                    "This API method requires billing to be enabled. Please enable billing on \
                     project #{PROJECT_NUMBER} then retry."
                ),
                ProjectRefusal::RateLimitExceeded => format!(
                    "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' \
                     of service '{SERVICE}' for consumer 'project_number:{PROJECT_NUMBER}'."
                ),
                ProjectRefusal::ResourceQuotaExceeded => format!(
                    "Quota exceeded for quota metric 'Requests' and limit 'Requests per day' of \
                     service '{SERVICE}' for consumer 'project_number:{PROJECT_NUMBER}'."
                ),
            },
            GoogleApiError::PermissionDenied(message)
            | GoogleApiError::InvalidArgument(message)
            | GoogleApiError::NotFound(message)
            | GoogleApiError::AlreadyExists(message)
            | GoogleApiError::FailedPrecondition(message) => message.clone(),
        }
    }

    /// The `google.rpc.ErrorInfo` reason and metadata Google attaches, if any.
    fn error_info(&self) -> Option<(&'static str, Value)> {
        let consumer = format!("projects/{PROJECT_NUMBER}");
        match self {
            GoogleApiError::InsufficientScopes => {
                Some(("ACCESS_TOKEN_SCOPE_INSUFFICIENT", json!({"service": SERVICE})))
            }
            GoogleApiError::ProjectRefused(refusal) => Some(match refusal {
                ProjectRefusal::ServiceDisabled => (
                    "SERVICE_DISABLED",
                    json!({"consumer": consumer, "service": SERVICE,
                        "serviceTitle": "Google Health API", "containerInfo": PROJECT_NUMBER,
                        "activationUrl": format!("https://console.developers.google.com/apis/api/{SERVICE}/overview?project={PROJECT_NUMBER}")}),
                ),
                ProjectRefusal::BillingDisabled => {
                    ("BILLING_DISABLED", json!({"consumer": consumer, "service": SERVICE}))
                }
                ProjectRefusal::RateLimitExceeded => (
                    "RATE_LIMIT_EXCEEDED",
                    json!({"consumer": consumer, "service": SERVICE,
                        "quota_metric": format!("{SERVICE}/default_requests"),
                        "quota_limit": "DefaultRequestsPerMinutePerProject"}),
                ),
                ProjectRefusal::ResourceQuotaExceeded => (
                    "RESOURCE_QUOTA_EXCEEDED",
                    json!({"consumer": consumer, "service": SERVICE,
                        "quota_metric": format!("{SERVICE}/default_requests"),
                        "quota_limit": "DefaultRequestsPerDayPerProject"}),
                ),
            }),
            _ => None,
        }
    }

    /// `{"error":{"code":401,"message":…,"status":"UNAUTHENTICATED"}}`, with
    /// `"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":…}]` where
    /// Google gives one.
    pub fn body(&self) -> Value {
        let mut body = json!({"error": {
            "code": self.status().as_u16(),
            "message": self.message(),
            "status": self.status_name(),
        }});
        if let Some((reason, metadata)) = self.error_info() {
            body["error"]["details"] = json!([{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": metadata,
            }]);
        }
        body
    }
}

impl actix_web::ResponseError for GoogleApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status());
        if *self == GoogleApiError::Unauthenticated {
            // As Google's front end answers a bad bearer token.
            response.insert_header((
                "WWW-Authenticate",
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ));
        }
        response.json(self.body())
    }
}

/// An error answer of the simulated Google OAuth endpoints (token and revoke).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid client: {0}")]
    InvalidClient(&'static str),
    #[error("invalid grant: {0}")]
    InvalidGrant(String),
    #[error("redirect_uri does not match the authorization request")]
    RedirectUriMismatch,
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("unsupported grant type: {0}")]
    UnsupportedGrantType(String),
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    #[error("unauthorized client: {0}")]
    UnauthorizedClient(String),
    /// Revoking a token that is not (or no longer) ours.
    #[error("invalid token")]
    InvalidToken,
}

impl OAuthError {
    pub fn status(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::RedirectUriMismatch => "redirect_uri_mismatch",
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::InvalidToken => "invalid_token",
        }
    }

    /// `{"error":…,"error_description":…}`; revocation's `invalid_token` has no description.
    pub fn body(&self) -> Value {
        let description = match self {
            OAuthError::InvalidClient(description) => description.to_string(),
            OAuthError::InvalidGrant(description)
            | OAuthError::InvalidRequest(description)
            | OAuthError::InvalidScope(description)
            | OAuthError::UnauthorizedClient(description) => description.clone(),
            OAuthError::RedirectUriMismatch => "Bad Request".to_string(),
            OAuthError::UnsupportedGrantType(grant) => {
                format!("Invalid grant_type: {grant}")
            }
            OAuthError::InvalidToken => return json!({"error": "invalid_token"}),
        };
        json!({"error": self.code(), "error_description": description})
    }
}

impl actix_web::ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status()).json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_have_googles_shape() {
        assert_eq!(
            GoogleApiError::Unauthenticated.body(),
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                "status": "UNAUTHENTICATED"}})
        );
        assert_eq!(
            GoogleApiError::InsufficientScopes.body()["error"]["status"],
            "PERMISSION_DENIED"
        );
        let precondition = GoogleApiError::FailedPrecondition("children".into());
        assert_eq!(precondition.status(), StatusCode::BAD_REQUEST);
        assert_eq!(precondition.status_name(), "FAILED_PRECONDITION");
        assert_eq!(GoogleApiError::AlreadyExists("x".into()).status(), StatusCode::CONFLICT);
        assert_eq!(GoogleApiError::InjectedFault(503).body()["error"]["status"], "UNAVAILABLE");
        assert_eq!(GoogleApiError::ResourceExhausted.body()["error"]["code"], 429);
        let scope = GoogleApiError::InsufficientScopes.body();
        assert_eq!(scope["error"]["details"][0]["reason"], "ACCESS_TOKEN_SCOPE_INSUFFICIENT");
        assert_eq!(
            scope["error"]["details"][0]["@type"],
            "type.googleapis.com/google.rpc.ErrorInfo"
        );
        for (refusal, reason) in [
            (ProjectRefusal::ServiceDisabled, "SERVICE_DISABLED"),
            (ProjectRefusal::BillingDisabled, "BILLING_DISABLED"),
            (ProjectRefusal::RateLimitExceeded, "RATE_LIMIT_EXCEEDED"),
            (ProjectRefusal::ResourceQuotaExceeded, "RESOURCE_QUOTA_EXCEEDED"),
        ] {
            let body = GoogleApiError::ProjectRefused(refusal).body();
            assert_eq!(body["error"]["code"], 403);
            assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
            assert_eq!(body["error"]["details"][0]["reason"], reason);
            assert_eq!(
                body["error"]["details"][0]["metadata"]["consumer"],
                "projects/575105963048"
            );
        }
    }

    #[test]
    fn oauth_errors_have_googles_shape() {
        assert_eq!(
            OAuthError::InvalidGrant("Bad Request".into()).body(),
            json!({"error": "invalid_grant", "error_description": "Bad Request"})
        );
        assert_eq!(OAuthError::InvalidClient("Unauthorized").status(), StatusCode::UNAUTHORIZED);
        assert_eq!(OAuthError::InvalidToken.body(), json!({"error": "invalid_token"}));
    }
}
