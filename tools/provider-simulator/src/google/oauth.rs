//! Google OAuth 2.0: the authorization endpoint (code + PKCE, `access_type=offline`), the token
//! endpoint (authorization code, refresh token, and the service account's `jwt-bearer` grant)
//! and revocation.

use std::collections::{BTreeSet, HashMap};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};

use crate::google::endpoints::{AUTHORIZE_PATH, TOKEN_PATH};
use crate::google::error::OAuthError;
use crate::google::scope::{self, GoogleScope};
use crate::google::service_account::GOOGLE_TOKEN_URL;
use crate::google::world::IssuedTokens;
use crate::http::{base_url, count_call_as};
use crate::state::Store;

type Data = web::Data<Store>;

pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Where a user who arrives through Google without being known yet lives.
const NEW_USER_TIMEZONE: &str = "America/New_York";

fn html_page(status: actix_web::http::StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
    ))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn with_params(base: &str, params: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(params).expect("string pairs always encode");
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{encoded}")
}

/// What the consent screen decided: where to send the browser, or why it cannot.
enum Consent {
    Redirect(String),
    /// No `sim_user`: show who could approve.
    PickUser,
}

fn consent(store: &Store, query: &HashMap<String, String>) -> Result<Consent, String> {
    let now = Utc::now();
    let param = |name: &str| query.get(name).map(String::as_str).filter(|v| !v.is_empty());
    if param("client_id") != Some(store.config.google_client_id.as_str()) {
        return Err("Error 401: invalid_client. The OAuth client was not found.".into());
    }
    let redirect_uri = param("redirect_uri")
        .ok_or("Error 400: invalid_request. Missing required parameter: redirect_uri")?;
    if param("response_type") != Some("code") {
        return Err("Error 400: unsupported_response_type. response_type must be code".into());
    }
    let scopes = scope::parse_scopes(
        param("scope").ok_or("Error 400: invalid_request. Missing required parameter: scope")?,
    )
    .map_err(|e| format!("Error 400: invalid_scope. {e}"))?;
    if scopes.is_empty() {
        return Err("Error 400: invalid_request. Missing required parameter: scope".into());
    }
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (None, _) => None,
        (Some(challenge), Some("S256")) if crate::pkce::is_well_formed(challenge) => {
            Some(challenge.to_string())
        }
        (Some(_), Some("S256")) => {
            return Err("Error 400: invalid_request. Invalid code_challenge".into())
        }
        (Some(_), _) => {
            return Err("Error 400: invalid_request. code_challenge_method must be S256".into())
        }
    };
    // No one signs in here: the caller names the person who approves (their simulator id or
    // healthUserId); someone unknown is a new person who never used Fitbit.
    let Some(named) = param("sim_user") else {
        return Ok(Consent::PickUser);
    };
    let user_id = match store.google_resolve_user(named) {
        Some(user_id) => user_id,
        None => store
            .create_google_only_user(Some(named.to_string()), NEW_USER_TIMEZONE, BTreeSet::new())
            .map_err(|e| e.to_string())?,
    };
    let mut params = Vec::new();
    if param("sim_deny").is_some_and(|v| v == "1" || v == "true") {
        params.push(("error", "access_denied".to_string()));
    } else {
        let offline = param("access_type") == Some("offline");
        let code = store.google_create_code(
            &user_id,
            redirect_uri,
            scopes.clone(),
            challenge,
            offline,
            now,
        );
        params.push(("code", code));
    }
    if let Some(state) = param("state") {
        params.push(("state", state.to_string()));
    }
    if !params.iter().any(|(name, _)| *name == "error") {
        params.push(("scope", scope::scope_string(&scopes)));
    }
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(Consent::Redirect(with_params(redirect_uri, &pairs)))
}

/// `GET /google/o/oauth2/v2/auth`.
pub(crate) async fn authorize(
    store: Data,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    match consent(&store, &query) {
        Ok(Consent::Redirect(location)) => {
            HttpResponse::Found().insert_header((header::LOCATION, location)).finish()
        }
        Ok(Consent::PickUser) => {
            let links: String = store
                .cohort()
                .into_iter()
                .map(|user| {
                    let href = format!(
                        "{AUTHORIZE_PATH}?{}&sim_user={}",
                        req.query_string(),
                        user.user_id
                    );
                    format!(
                        "<li><a href=\"{}\">{}</a></li>",
                        html_escape(&href),
                        html_escape(&user.user_id)
                    )
                })
                .collect();
            let body = if links.is_empty() {
                "<p>No simulated people: add <code>sim_user=&lt;id&gt;</code> to the URL.</p>"
                    .to_string()
            } else {
                format!("<h1>Google (simulated): choose an account</h1><ul>{links}</ul>")
            };
            html_page(StatusCode::OK, "Sign in - Google Accounts (simulated)", &body)
        }
        Err(problem) => html_page(
            StatusCode::BAD_REQUEST,
            "Authorization error",
            &format!(
                "<h1>Access blocked: authorization error</h1><p>{}</p>",
                html_escape(&problem)
            ),
        ),
    }
}

fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| OAuthError::InvalidRequest(format!("Malformed form body: {e}")))
}

/// The client's credentials, from HTTP Basic or the `client_id`/`client_secret` form fields.
fn check_client(
    store: &Store,
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<(), OAuthError> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| BASE64.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':').map(|(id, secret)| (id.to_string(), secret.to_string()))
        });
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if id != store.config.google_client_id {
        return Err(OAuthError::InvalidClient("The OAuth client was not found."));
    }
    if secret != store.config.google_client_secret {
        return Err(OAuthError::InvalidClient("Unauthorized"));
    }
    Ok(())
}

fn token_json(issued: &IssuedTokens) -> Value {
    let mut body = json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "scope": scope::scope_string(&issued.scopes),
        "token_type": "Bearer",
    });
    if let Some(refresh_token) = &issued.refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    body
}

/// `POST /google/token`.
pub(crate) async fn token(store: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    count_call_as(&req, "google_token");
    match exchange(&store, &req, &body).await {
        Ok(answer) => HttpResponse::Ok().json(answer),
        Err(TokenFailure::OAuth(error)) => error.error_response(),
        Err(TokenFailure::Internal(message)) => HttpResponse::InternalServerError().body(message),
    }
}

enum TokenFailure {
    OAuth(OAuthError),
    /// The service-account key could not be made.
    Internal(String),
}

impl From<OAuthError> for TokenFailure {
    fn from(error: OAuthError) -> Self {
        TokenFailure::OAuth(error)
    }
}

async fn exchange(store: &Store, req: &HttpRequest, body: &[u8]) -> Result<Value, TokenFailure> {
    let form = parse_form(body)?;
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let missing =
        |name: &str| OAuthError::InvalidRequest(format!("Missing required parameter: {name}"));
    let now = Utc::now();
    let grant_type = field("grant_type").ok_or_else(|| missing("grant_type"))?;
    if grant_type == JWT_BEARER_GRANT {
        // The assertion, signed with the service account's key, is the client's credential.
        let assertion = field("assertion").ok_or_else(|| missing("assertion"))?;
        let account = store
            .google_service_account()
            .await
            .map_err(|e| TokenFailure::Internal(e.to_string()))?;
        let audiences =
            vec![format!("{}{TOKEN_PATH}", base_url(req)), GOOGLE_TOKEN_URL.to_string()];
        let scope_text = account.verify_assertion(assertion, &audiences, now.timestamp())?;
        let scopes: BTreeSet<GoogleScope> = scope::parse_scopes(&scope_text)
            .map_err(|e| OAuthError::InvalidScope(format!("Invalid OAuth scope: {}", e.0)))?;
        let issued = store.google_issue_project_token(scopes, now);
        return Ok(json!({
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "token_type": "Bearer",
        }));
    }
    check_client(store, req, &form)?;
    let issued = match grant_type {
        "authorization_code" => {
            let code = field("code").ok_or_else(|| missing("code"))?;
            store.google_exchange_code(code, field("code_verifier"), field("redirect_uri"), now)?
        }
        "refresh_token" => {
            let refresh_token = field("refresh_token").ok_or_else(|| missing("refresh_token"))?;
            store.google_refresh(refresh_token, now)?
        }
        other => return Err(OAuthError::UnsupportedGrantType(other.to_string()).into()),
    };
    Ok(token_json(&issued))
}

/// `POST /google/revoke` with `token=` in the form body or the query.
pub(crate) async fn revoke(store: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    count_call_as(&req, "google_revoke");
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let form = match parse_form(&body) {
        Ok(form) => form,
        Err(error) => return error.error_response(),
    };
    let Some(token) = form.get("token").or_else(|| query.get("token")).filter(|t| !t.is_empty())
    else {
        return OAuthError::InvalidRequest("Missing required parameter: token".into())
            .error_response();
    };
    if store.google_revoke_token(token) {
        HttpResponse::Ok().json(json!({}))
    } else {
        OAuthError::InvalidToken.error_response()
    }
}
