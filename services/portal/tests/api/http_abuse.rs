//! Bad input over HTTP on the participant pages (`/`, `/connect/…`, `/token`, `/status`,
//! `/season`, `/team`, `/activity…`, `/signout`) and the operational endpoints: oversized heads, slow clients, wrong methods and
//! content types, unreadable bytes, bodies over the limit. Each gets a clean 4xx, never a 5xx,
//! nothing is stored, and the pages keep being served.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;

fn plain_http_with_google() -> PortalOptions {
    PortalOptions { cookie_secure: false, google: true }
}

/// Nothing was connected.
async fn nothing_stored(portal: &TestPortal) {
    assert_eq!(portal.count("provider_connections").await, 0);
    assert_eq!(portal.count("participants").await, 0);
}

/// A form body with the session's CSRF token.
async fn token_form(portal: &TestPortal, token: &str) -> Vec<u8> {
    let csrf = portal.csrf().await;
    serde_urlencoded::to_string([("token", token), ("csrf", csrf.as_str())]).unwrap().into_bytes()
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn oversized_headers_get_431_on_every_page_and_the_portal_keeps_serving() {
    let portal = spawn_portal_with(plain_http_with_google()).await;
    let form = token_form(&portal, "not-a-token").await;
    let form_type = ("Content-Type", FORM.as_bytes().to_vec());
    // (method, path, headers, body, the answer without the extra headers)
    let pages: Vec<(&str, &str, Headers<'_>, Vec<u8>, StatusCode)> = vec![
        ("GET", "/", vec![], vec![], StatusCode::OK),
        ("GET", "/connect/fitbit", vec![], vec![], StatusCode::FOUND),
        ("GET", "/connect/fitbit/callback?code=x&state=y", vec![], vec![], StatusCode::BAD_REQUEST),
        ("GET", "/connect/google", vec![], vec![], StatusCode::FOUND),
        ("GET", "/connect/google/callback?code=x&state=y", vec![], vec![], StatusCode::BAD_REQUEST),
        ("POST", "/token", vec![form_type.clone()], form.clone(), StatusCode::BAD_REQUEST),
        ("GET", "/status", vec![], vec![], StatusCode::SEE_OTHER),
        ("GET", "/season", vec![], vec![], StatusCode::SEE_OTHER),
        ("GET", "/team", vec![], vec![], StatusCode::SEE_OTHER),
        ("GET", "/activity", vec![], vec![], StatusCode::SEE_OTHER),
        ("POST", "/activity", vec![form_type.clone()], form.clone(), StatusCode::SEE_OTHER),
        ("GET", "/activity/1/edit", vec![], vec![], StatusCode::SEE_OTHER),
        ("POST", "/activity/1", vec![form_type.clone()], form.clone(), StatusCode::SEE_OTHER),
        (
            "POST",
            "/activity/1/delete",
            vec![form_type.clone()],
            form.clone(),
            StatusCode::SEE_OTHER,
        ),
        (
            "POST",
            "/signout",
            vec![form_type.clone()],
            b"csrf=wrong".to_vec(),
            StatusCode::FORBIDDEN,
        ),
        ("GET", "/healthz", vec![], vec![], StatusCode::OK),
        ("GET", "/readyz", vec![], vec![], StatusCode::OK),
        ("GET", "/metrics", vec![], vec![], StatusCode::OK),
    ];
    let huge = vec![b'a'; 64 * 1024];
    let names: Vec<String> = (0..200).map(|i| format!("x-filler-{i}")).collect();
    for (method, path, headers, body, expected) in &pages {
        for extra in [
            vec![("X-Padding", huge.clone())],
            vec![("Cookie", [b"fitex_session=".as_slice(), &huge].concat())],
            names.iter().map(|n| (n.as_str(), b"1".to_vec())).collect(),
        ] {
            let mut sent = headers.clone();
            sent.extend(extra);
            let status = portal.send(method, path, &sent, body.clone()).await;
            assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "{method} {path}");
        }
        let status = portal.send(method, path, headers, body.clone()).await;
        assert_eq!(status, *expected, "{method} {path}");
    }
    nothing_stored(&portal).await;
}

#[tokio::test]
async fn slow_clients_are_timed_out_and_the_pages_still_answer_at_once() {
    let portal = spawn_portal_adjusted(plain_http_with_google(), |settings| {
        settings.http.client_request_timeout = Duration::from_millis(1_000);
        settings.http.body_timeout = Duration::from_millis(1_000);
        settings.http.keep_alive = Duration::from_secs(1);
    })
    .await;
    let address = portal.address();
    let started = Instant::now();
    let mut slow_heads = Vec::new();
    let mut slow_forms = Vec::new();
    let mut silent = Vec::new();
    for i in 0..20 {
        let path = if i % 2 == 0 { "/token" } else { "/signout" };
        let partial = format!("POST {path} HTTP/1.1\r\nHost: portal\r\nContent-Ty");
        slow_heads.push(raw_send(&address, partial.as_bytes()).await);
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: portal\r\nContent-Type: {FORM}\r\n\
             Content-Length: 1000\r\n\r\ntoken=ey"
        );
        slow_forms.push(raw_send(&address, head.as_bytes()).await);
        silent.push(raw_send(&address, b"").await);
    }

    let asked = Instant::now();
    let (status, html) = portal.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("csrf"), "{html}");
    assert!(asked.elapsed() < Duration::from_millis(1_000), "took {:?}", asked.elapsed());

    expect_timed_out(slow_heads.iter_mut().chain(slow_forms.iter_mut())).await;
    expect_silent_closed(&mut silent).await;
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());

    expect_idle_keep_alive_closed(&address, "portal").await;
    nothing_stored(&portal).await;
}

#[tokio::test]
async fn wrong_methods_are_refused_and_never_a_5xx() {
    let portal = spawn_portal_with(plain_http_with_google()).await;
    let paths = [
        "/",
        "/connect/fitbit",
        "/connect/fitbit/callback",
        "/connect/google",
        "/connect/google/callback",
        "/token",
        "/status",
        "/season",
        "/team",
        "/activity",
        "/activity/1/edit",
        "/activity/1",
        "/activity/1/delete",
        "/signout",
    ];
    for path in paths {
        for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
            let status = portal.send(method, path, &[], b"token=x".to_vec()).await;
            // A page answers only its own method: any other finds no page (404).
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
    for (method, path) in [
        ("GET", "/token"),
        ("GET", "/signout"),
        ("POST", "/"),
        ("POST", "/status"),
        ("POST", "/season"),
        ("POST", "/team"),
        ("POST", "/activity/1/edit"),
        ("GET", "/activity/1"),
        ("GET", "/activity/1/delete"),
    ] {
        let status = portal.send(method, path, &[], vec![]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    for path in ["/healthz", "/readyz", "/metrics"] {
        for method in ["POST", "PUT", "DELETE"] {
            let status = portal.send(method, path, &[], vec![]).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
    nothing_stored(&portal).await;
    assert_eq!(portal.get_text("/").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_token_form_refuses_other_content_types_unreadable_bytes_and_oversized_bodies() {
    let portal = spawn_portal_with(plain_http_with_google()).await;
    let csrf = portal.csrf().await;
    let json = serde_json::json!({ "token": "eyJ.x.y", "csrf": csrf }).to_string().into_bytes();
    let form = token_form(&portal, "eyJ.x.y").await;
    // (what, its headers, body, answer); the form's bytes are read leniently (invalid UTF-8
    // becomes U+FFFD), so those pastes fail as "not a token".
    let cases: Vec<(&str, Headers<'_>, Vec<u8>, StatusCode)> = vec![
        ("JSON", vec![("Content-Type", b"application/json".to_vec())], json, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("text", vec![("Content-Type", b"text/plain".to_vec())], form.clone(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            "multipart",
            vec![("Content-Type", b"multipart/form-data; boundary=----x".to_vec())],
            b"------x\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\neyJ\r\n------x--\r\n"
                .to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("no content type", vec![], form.clone(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("unreadable content type", vec![("Content-Type", b"\xff\xfe".to_vec())], form.clone(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            "percent-encoded bytes that are not UTF-8",
            vec![("Content-Type", FORM.into())],
            format!("token=%FF%FE&csrf={csrf}").into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "raw bytes that are not UTF-8",
            vec![("Content-Type", FORM.into())],
            [b"token=\xff\xfe&csrf=".as_slice(), csrf.as_bytes()].concat(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a form over the size limit",
            vec![("Content-Type", FORM.into())],
            format!("token={}&csrf={csrf}", "e".repeat(64 * 1024)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (name, headers, body, expected) in cases {
        let status = portal.send("POST", "/token", &headers, body).await;
        assert_eq!(status, expected, "{name}");
    }

    let signout = serde_json::json!({ "csrf": csrf }).to_string().into_bytes();
    let json_type = [("Content-Type", b"application/json".to_vec())];
    let status = portal.send("POST", "/signout", &json_type, signout).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "JSON to /signout");

    // Chunked, without a Content-Length, over the limit: 413 as well.
    let mut request = format!(
        "POST /token HTTP/1.1\r\nHost: portal\r\nContent-Type: {FORM}\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..40 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b'e'; 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let mut stream = raw_send(&portal.address(), &request).await;
    assert_eq!(raw_status(&mut stream, Duration::from_secs(5)).await, Some(413));

    // Unreadable cookies and query parameters are a fresh start or a clean 400, never a 5xx.
    let garbage_cookie = ("Cookie", b"fitex_session=\xff\xfe; other=\x80".to_vec());
    assert_eq!(
        portal.send("GET", "/", std::slice::from_ref(&garbage_cookie), vec![]).await,
        StatusCode::OK
    );
    assert_eq!(
        portal.send("GET", "/status", &[garbage_cookie], vec![]).await,
        StatusCode::SEE_OTHER
    );
    let forged_cookie = ("Cookie", format!("fitex_session={}", "A".repeat(400)).into_bytes());
    assert_eq!(
        portal.send("GET", "/status", &[forged_cookie], vec![]).await,
        StatusCode::SEE_OTHER
    );
    for path in
        ["/connect/fitbit/callback?code=%FF&state=%FE", "/connect/google/callback?state=%C3"]
    {
        assert_eq!(portal.send("GET", path, &[], vec![]).await, StatusCode::BAD_REQUEST, "{path}");
    }
    nothing_stored(&portal).await;

    // The form itself still works: a well-formed paste of something that is not a token is
    // answered with the explanation.
    let response = portal.paste("not-a-token").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("look like a Fitbit access token"));
}
