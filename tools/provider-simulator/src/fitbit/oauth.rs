//! Fitbit's OAuth 2.0: `/oauth2/authorize` (authorization code with optional PKCE, or the
//! implicit grant; no login page, `sim_user` names who approves), `/oauth2/token` (code exchange
//! and rotating refresh tokens), `/oauth2/revoke` and `/1.1/oauth2/introspect`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::Utc;
use serde_json::json;

use crate::error::ApiError;
use crate::fitbit::call::error_response;
use crate::http::{bearer_token, count_call_as};
use crate::model::UserTokens;
use crate::pkce;
use crate::scope;
use crate::state::{self, Store};

type Data = web::Data<Store>;

/// Whether the request carries `Basic base64(client_id:client_secret)` for our client.
fn has_client_credentials(store: &Store, req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return false;
    };
    let Ok(decoded) = BASE64.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{}:{}", store.config.client_id, store.config.client_secret);
    scheme.eq_ignore_ascii_case("basic") && decoded == expected.as_bytes()
}

fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, ApiError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::InvalidRequest(format!("malformed form body: {e}")))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn append_params(base: &str, separator: char, params: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(params).expect("string pairs always encode");
    format!("{base}{separator}{encoded}")
}

/// Where `/oauth2/authorize` redirects to, or why it cannot.
fn authorize_redirect(store: &Store, query: &HashMap<String, String>) -> Result<String, String> {
    let now = Utc::now();
    let param = |name: &str| query.get(name).map(String::as_str).filter(|v| !v.is_empty());
    if param("client_id") != Some(store.config.client_id.as_str()) {
        return Err("Invalid client_id".into());
    }
    let redirect_uri = param("redirect_uri").ok_or("Missing redirect_uri")?;
    let scopes = scope::parse_scope_names(param("scope").ok_or("Missing scope")?)
        .map_err(|e| e.to_string())?;
    if scopes.is_empty() {
        return Err("Missing scope".into());
    }
    // No one logs in here: the caller names the user who "approves" the request.
    let user_id = param("sim_user").ok_or(
        "Missing sim_user: the simulator has no login page; name the approving user with sim_user",
    )?;
    if !store.user_exists(user_id) {
        store
            .create_user(Some(user_id.to_string()), "America/New_York", scopes.clone(), now)
            .map_err(|e| e.to_string())?;
    } else if store.is_google_only(user_id) {
        return Err(state::no_fitbit_account(user_id).to_string());
    }
    let state = param("state");
    match param("response_type") {
        Some("code") => {
            let challenge = match (param("code_challenge"), param("code_challenge_method")) {
                (None, _) => None,
                (Some(challenge), Some("S256")) if pkce::is_well_formed(challenge) => {
                    Some(challenge.to_string())
                }
                (Some(_), Some("S256")) => {
                    return Err("code_challenge must be 43 to 128 characters".into())
                }
                (Some(_), _) => return Err("code_challenge_method must be S256".into()),
            };
            let code = store.create_code(user_id, redirect_uri, scopes, challenge, now);
            let mut params = vec![("code", code.as_str())];
            params.extend(state.map(|s| ("state", s)));
            let separator = if redirect_uri.contains('?') { '&' } else { '?' };
            Ok(append_params(redirect_uri, separator, &params))
        }
        Some("token") => {
            let expires_in: u64 = param("expires_in").unwrap_or("86400").parse().unwrap_or(0);
            if !state::IMPLICIT_LIFETIMES.contains(&expires_in) {
                return Err("expires_in must be 86400, 604800, 2592000 or 31536000".into());
            }
            let (token, scopes) = store
                .issue_implicit_token(user_id, Some(scopes), expires_in, now)
                .map_err(|e| e.to_string())?;
            let scope_names = scope::scope_names(&scopes);
            let expires = expires_in.to_string();
            let mut params = vec![
                ("access_token", token.as_str()),
                ("user_id", user_id),
                ("scope", scope_names.as_str()),
                ("token_type", "Bearer"),
                ("expires_in", expires.as_str()),
            ];
            params.extend(state.map(|s| ("state", s)));
            Ok(append_params(redirect_uri, '#', &params))
        }
        _ => Err("response_type must be code or token".into()),
    }
}

pub(super) async fn authorize(
    store: Data,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    // No real login here: without `sim_user`, a page lets a person pick who approves (the demo's
    // participants click through it); tests name the user in the URL.
    if query.get("sim_user").is_none_or(|u| u.is_empty()) {
        let users: Vec<String> = store.cohort().into_iter().map(|u| u.user_id).collect();
        let links: String = users
            .iter()
            .map(|user| {
                let href = format!("/oauth2/authorize?{}&sim_user={user}", req.query_string());
                format!("<li><a href=\"{}\">{}</a></li>", html_escape(&href), html_escape(user))
            })
            .collect();
        let body = if users.is_empty() {
            "<p>No simulated participants: start the simulator with <code>--cohort-size</code>, or name the user with <code>sim_user</code>.</p>".to_string()
        } else {
            format!("<p>Fitbit (simulated): sign in as</p><ul>{links}</ul>")
        };
        return HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
            "<!doctype html><html><head><title>Fitbit (simulated) sign-in</title></head><body><h1>Allow FitEx to read your activity?</h1>{body}</body></html>"
        ));
    }
    match authorize_redirect(&store, &query) {
        Ok(location) => HttpResponse::Found().insert_header((header::LOCATION, location)).finish(),
        Err(problem) => {
            HttpResponse::BadRequest().content_type("text/html; charset=utf-8").body(format!(
                "<!doctype html><html><body><h1>Authorization error</h1><p>{}</p></body></html>",
                html_escape(&problem)
            ))
        }
    }
}

fn token_response(tokens: UserTokens) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "scope": tokens.scope,
        "token_type": "Bearer",
        "user_id": tokens.user_id,
    }))
}

pub(super) async fn token(store: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    count_call_as(&req, "oauth2_token");
    if !has_client_credentials(&store, &req) {
        return error_response(&ApiError::InvalidClient, None);
    }
    let result = parse_form(&body).and_then(|form| {
        let field = |name: &str| form.get(name).map(String::as_str);
        let now = Utc::now();
        match field("grant_type") {
            Some("authorization_code") => {
                let code = field("code")
                    .ok_or_else(|| ApiError::InvalidRequest("Missing parameters: code".into()))?;
                store.exchange_code(code, field("code_verifier"), field("redirect_uri"), now)
            }
            Some("refresh_token") => {
                let refresh = field("refresh_token").ok_or_else(|| {
                    ApiError::InvalidRequest("Missing parameters: refresh_token".into())
                })?;
                store.refresh(refresh, now)
            }
            Some(other) => Err(ApiError::UnsupportedGrantType(other.to_string())),
            None => Err(ApiError::InvalidRequest("Missing parameters: grant_type".into())),
        }
    });
    match result {
        Ok(tokens) => token_response(tokens),
        Err(error) => error_response(&error, None),
    }
}

pub(super) async fn revoke(store: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    count_call_as(&req, "oauth2_revoke");
    if !has_client_credentials(&store, &req) {
        return error_response(&ApiError::InvalidClient, None);
    }
    let form = match parse_form(&body) {
        Ok(form) => form,
        Err(error) => return error_response(&error, None),
    };
    let Some(token) = form.get("token") else {
        return error_response(&ApiError::InvalidRequest("Missing parameters: token".into()), None);
    };
    // RFC 7009: an unknown token is not an error.
    if let Some(user_id) = store.token_owner(token) {
        store.revoke_user(&user_id);
    }
    HttpResponse::Ok().finish()
}

pub(super) async fn introspect(store: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    count_call_as(&req, "oauth2_introspect");
    let now = Utc::now();
    if let Err(error) = store.authenticate(bearer_token(&req).unwrap_or_default(), now) {
        return error_response(&error, None);
    }
    let form = match parse_form(&body) {
        Ok(form) => form,
        Err(error) => return error_response(&error, None),
    };
    let Some(token) = form.get("token") else {
        return error_response(&ApiError::InvalidRequest("Missing parameters: token".into()), None);
    };
    match store.introspect(token, now) {
        // Fitbit's introspection gives `exp` and `iat` in milliseconds.
        Some(state) => HttpResponse::Ok().json(json!({
            "active": true,
            "scope": scope::introspection_scope(&state.scopes),
            "client_id": store.config.client_id,
            "user_id": state.user_id,
            "token_type": "access_token",
            "exp": state.expires_at.timestamp_millis(),
            "iat": state.issued_at.timestamp_millis(),
        })),
        None => HttpResponse::Ok().json(json!({"active": false})),
    }
}
