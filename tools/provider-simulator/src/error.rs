//! Errors the simulated API answers with, in Fitbit's body format, and the client's errors.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use crate::scope::Scope;

/// An error answer of the simulated Fitbit API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("invalid client credentials")]
    InvalidClient,
    #[error("invalid grant: {0}")]
    InvalidGrant(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("unsupported grant type: {0}")]
    UnsupportedGrantType(String),
    #[error("access token expired")]
    ExpiredToken(String),
    #[error("access token invalid")]
    InvalidToken(String),
    #[error("missing scope {0}")]
    InsufficientScope(Scope),
    #[error("the token's user may not read another user's data")]
    InsufficientPermissions,
    #[error("rate limit exceeded")]
    RateLimited,
    #[error("validation failed on {field}: {message}")]
    Validation { field: &'static str, message: String },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("Content-Length required")]
    LengthRequired,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("injected fault {0}")]
    InjectedFault(u16),
}

/// Fitbit's 401 messages quote the refused token in full, then point to the documentation; so
/// does the simulator, so a client that logs provider messages is caught leaking tokens (the
/// secrets scan, `scripts/secrets-scan.sh`).
fn quoting(what: &str, token: &str) -> String {
    format!(
        "{what}: {token}. Visit https://dev.fitbit.com/docs/oauth2 for more information on the \
         Fitbit Web API authorization process."
    )
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidClient | ApiError::ExpiredToken(_) | ApiError::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::InvalidGrant(_)
            | ApiError::InvalidRequest(_)
            | ApiError::UnsupportedGrantType(_)
            | ApiError::Validation { .. } => StatusCode::BAD_REQUEST,
            ApiError::InsufficientScope(_) | ApiError::InsufficientPermissions => {
                StatusCode::FORBIDDEN
            }
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::LengthRequired => StatusCode::LENGTH_REQUIRED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::InjectedFault(status) => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    /// `{"errors":[{"errorType":…,"message":…}],"success":false}`.
    pub fn body(&self) -> Value {
        let error = match self {
            ApiError::InvalidClient => json!({"errorType": "invalid_client",
                "message": "Invalid authorization header. Client id or secret invalid."}),
            ApiError::InvalidGrant(message) => {
                json!({"errorType": "invalid_grant", "message": message})
            }
            ApiError::InvalidRequest(message) => {
                json!({"errorType": "invalid_request", "message": message})
            }
            ApiError::UnsupportedGrantType(grant) => json!({"errorType": "unsupported_grant_type",
                "message": format!("The grant type is not supported: {grant}")}),
            ApiError::ExpiredToken(token) => json!({"errorType": "expired_token",
                "message": quoting("Access token expired", token)}),
            ApiError::InvalidToken(token) => json!({"errorType": "invalid_token",
                "message": quoting("Access token invalid", token)}),
            ApiError::InsufficientScope(scope) => json!({"errorType": "insufficient_scope",
                "message": format!("This application does not have permission to access {scope} data.")}),
            ApiError::InsufficientPermissions => json!({"errorType": "insufficient_permissions",
                "message": "API client is not authorized by the user to access the resource requested."}),
            ApiError::RateLimited => {
                json!({"errorType": "system", "fieldName": "n/a", "message": "Too Many Requests"})
            }
            ApiError::Validation { field, message } => {
                json!({"errorType": "validation", "fieldName": field, "message": message})
            }
            ApiError::NotFound(message) => json!({"errorType": "not_found", "message": message}),
            ApiError::LengthRequired => {
                json!({"errorType": "request", "message": "Content-Length header required"})
            }
            ApiError::Conflict(message) => json!({"errorType": "conflict", "message": message}),
            ApiError::InjectedFault(_) => json!({"errorType": "system",
                "message": self.status().canonical_reason().unwrap_or("Injected fault")}),
        };
        json!({"errors": [error], "success": false})
    }
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        actix_web::HttpResponse::build(self.status()).json(self.body())
    }
}

/// Errors of [`crate::SimulatorClient`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("request to the simulator failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the simulator answered {status}: {body}")]
    Status { status: u16, body: String },
}
