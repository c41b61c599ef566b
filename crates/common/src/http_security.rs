//! What every answer of a JSON API carries, so that a browser led to it does nothing dangerous
//! with it: the security headers the portal sets on its pages (`X-Content-Type-Options: nosniff`,
//! `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`, a Content-Security-Policy, here one
//! that allows nothing) and `Cache-Control: no-store`; and every error as JSON
//! (`{"error": "<message>"}`, the shape of every service's errors), never a text body that
//! echoes the request.
//!
//! `App::new().wrap(limits.guard()).wrap(from_fn(json_api))`, as [`crate::http::Serve::json_api`]
//! sets it up: outermost, so it sees every answer, the guard's refusals and actix's own (an
//! unknown path, a wrong method, a path or query parameter that does not parse). An inner
//! middleware's `Err` passes through unchanged: actix gives a middleware no request to answer it
//! with, so the middleware inside answer instead ([`crate::http_limits::RequestGuard`], the goals
//! API's token check).

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use serde_json::json;

/// An API's answers are data, never a document: nothing may load, run or frame them.
pub const API_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The headers [`json_api`] puts on every answer that does not already carry them.
pub fn api_security_headers() -> [(HeaderName, HeaderValue); 5] {
    [
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(API_CONTENT_SECURITY_POLICY)),
        // Participant data must not stay in a shared cache or the browser's.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// The body of an error answer.
pub fn error_body(message: impl std::fmt::Display) -> serde_json::Value {
    json!({ "error": message.to_string() })
}

/// The middleware: security headers on every answer, and an error answer whose body is not JSON
/// replaced by a JSON one that names only its status (see the module documentation).
pub async fn json_api(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let response = next.call(request).await?;
    Ok(secured(response))
}

fn is_json(response: &ServiceResponse<impl MessageBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            let essence = essence.trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
}

fn secured<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<B>> {
    let status = response.status();
    let mut response = if (status.is_client_error() || status.is_server_error())
        && !is_json(&response)
    {
        let body = error_body(status_message(status)).to_string();
        response.map_body(|head, _| {
            head.headers.remove(header::CONTENT_LENGTH);
            head.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            EitherBody::right(BoxBody::new(body))
        })
    } else {
        response.map_into_left_body()
    };
    let headers = response.headers_mut();
    for (name, value) in api_security_headers() {
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    }
    response
}

/// `Not Found` → `not found`: the status in words, nothing from the request.
fn status_message(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("error").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::middleware::from_fn;
    use actix_web::{test, web, App, HttpResponse};

    /// The middleware outside the guard (512-byte heads), around a few routes.
    macro_rules! app {
        () => {{
            let limits = crate::http_limits::HttpLimits {
                max_head_bytes: 512,
                ..crate::http_limits::base_limits()
            };
            test::init_service(
                App::new()
                    .wrap(limits.guard())
                    .wrap(from_fn(json_api))
                    .route(
                        "/v1/items/{id}",
                        web::get().to(|id: web::Path<i64>| async move {
                            HttpResponse::Ok().json(json!({ "id": *id }))
                        }),
                    )
                    .route(
                        "/v1/text-error",
                        web::get().to(|| async {
                            HttpResponse::BadRequest().content_type("text/plain").body("<b>echo</b>")
                        }),
                    )
                    .route(
                        "/v1/json-error",
                        web::get()
                            .to(|| async { HttpResponse::Conflict().json(error_body("already there")) }),
                    )
                    .service(web::resource("/only-get").route(web::get().to(HttpResponse::Ok))),
            )
            .await
        }};
    }

    async fn read(
        response: ServiceResponse<impl MessageBody>,
    ) -> (StatusCode, header::HeaderMap, String) {
        let (status, headers) = (response.status(), response.headers().clone());
        let body = test::read_body(response).await;
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    fn assert_secured(headers: &header::HeaderMap) {
        for (name, value) in api_security_headers() {
            assert_eq!(headers.get(&name), Some(&value), "{name}");
        }
    }

    fn assert_json_error(status: StatusCode, headers: &header::HeaderMap, body: &str) {
        assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), "application/json", "{status}");
        let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        assert!(body["error"].is_string(), "{body}");
    }

    #[actix_web::test]
    async fn every_answer_carries_the_security_headers() {
        let app = app!();
        let request = test::TestRequest::get().uri("/v1/items/7").to_request();
        let (status, headers, body) = read(test::call_service(&app, request).await).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"id":7}"#));
        assert_secured(&headers);
    }

    #[actix_web::test]
    async fn errors_become_json_without_echoing_the_request() {
        let app = app!();
        let probe = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
        for (request, expected) in [
            (test::TestRequest::get().uri(&format!("/nowhere/{probe}")), 404),
            (test::TestRequest::get().uri(&format!("/v1/items/{probe}")), 404),
            (test::TestRequest::post().uri("/only-get"), 405),
            (test::TestRequest::get().uri("/v1/text-error"), 400),
            (
                test::TestRequest::get()
                    .uri("/v1/items/1")
                    .insert_header(("x-filler", "a".repeat(600))),
                431,
            ),
        ] {
            let (status, headers, body) =
                read(test::call_service(&app, request.to_request()).await).await;
            assert_eq!(status.as_u16(), expected);
            assert_json_error(status, &headers, &body);
            assert_secured(&headers);
            assert!(!body.contains("script") && !body.contains("echo"), "{body}");
        }
        // A JSON error is the application's own: kept.
        let request = test::TestRequest::get().uri("/v1/json-error").to_request();
        let (status, headers, body) = read(test::call_service(&app, request).await).await;
        assert_eq!((status.as_u16(), body.as_str()), (409, r#"{"error":"already there"}"#));
        assert_secured(&headers);
    }

    #[actix_web::test]
    async fn json_is_recognised_by_its_media_type() {
        let with = |content_type: &'static str| {
            let response = HttpResponse::Ok().content_type(content_type).finish();
            is_json(&ServiceResponse::new(test::TestRequest::get().to_http_request(), response))
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/problem+json"));
        assert!(!with("text/plain; charset=utf-8"));
        assert!(!with("text/html"));
    }
}
