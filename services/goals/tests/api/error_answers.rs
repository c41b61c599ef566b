//! Error answers a browser could be led to: a crafted path or parameter must not come back as a
//! page (`text/plain` that echoes it, sniffable, frameable). Every answer of the goals service
//! carries the portal's security headers, and every error is JSON that does not repeat the
//! request.

use fitex_common::api_tokens::{self, Scope};
use fitex_common::http_security::api_security_headers;

use crate::helpers::*;

/// What a forged link carries in its path or query.
const PROBE: &str = "%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E";

fn assert_secured(what: &str, response: &reqwest::Response) {
    for (name, value) in api_security_headers() {
        assert_eq!(
            response.headers().get(name.as_str()).map(|v| v.as_bytes()),
            Some(value.as_bytes()),
            "{what}: {name}"
        );
    }
}

#[tokio::test]
async fn errors_are_json_with_security_headers_and_never_echo_the_request() {
    let app = spawn_goals().await;
    let program = app.program("Error season", 7, "steps").await;
    let team = app.team(program, "North").await;
    let participant = app.member(team, today() - chrono::Duration::days(7)).await;
    let read = api_tokens::issue(&app.pool, "dashboard", Scope::Read).await.unwrap();
    let goal = format!("/v1/participants/{participant}/goal");

    let cases: Vec<(&str, String, Option<&str>, u16)> = vec![
        ("GET", format!("/{PROBE}"), Some(TOKEN), 404),
        ("GET", format!("/v1/{PROBE}"), Some(TOKEN), 404),
        ("GET", format!("/v1/participants/{PROBE}/goal"), Some(TOKEN), 404),
        ("GET", format!("/v1/teams/{PROBE}/progress"), Some(TOKEN), 404),
        ("GET", format!("{goal}?program_id={PROBE}"), Some(TOKEN), 400),
        ("GET", format!("/v1/programs/{program}/leaderboard?week={PROBE}"), Some(TOKEN), 400),
        ("GET", format!("/v1/programs/{program}/leaderboard?week=0"), Some(TOKEN), 400),
        ("GET", "/v1/participants/999999/goal".to_string(), Some(TOKEN), 404),
        ("GET", format!("{goal}?{PROBE}"), None, 401),
        ("GET", format!("{goal}?{PROBE}"), Some("wrong"), 401),
        ("GET", format!("{goal}?x={PROBE}"), Some(read.as_str()), 403),
        ("POST", format!("/healthz?{PROBE}"), None, 405),
        ("DELETE", format!("/metrics?{PROBE}"), None, 405),
        ("POST", format!("{goal}?{PROBE}"), Some(TOKEN), 404),
    ];
    for (method, path, token, expected) in cases {
        let what = format!("{method} {path}");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = app.client.request(method, format!("{}{path}", app.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected, "{what}");
        assert_secured(&what, &response);
        assert_eq!(response.headers()["content-type"], "application/json", "{what}");
        if expected == 401 {
            assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
        }
        let text = response.text().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).expect("a JSON body");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {text}");
        for echo in ["script", "alert", "cookie", "%3C", "<"] {
            assert!(!text.contains(echo), "{what} echoes the request: {text}");
        }
    }

    // Oversized headers are refused by the guard in front of everything: JSON, secured.
    let response = app.client.get(format!("{}{goal}", app.base_url)).bearer_auth(TOKEN);
    let response = response.header("X-Padding", "a".repeat(20_000)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 431);
    assert_secured("431", &response);
    assert_eq!(response.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn answers_that_succeed_carry_the_security_headers_too() {
    let app = spawn_goals().await;
    let program = app.program("Header season", 7, "steps").await;
    let team = app.team(program, "North").await;
    let participant = app.member(team, today() - chrono::Duration::days(7)).await;
    for path in [
        format!("/v1/participants/{participant}/goal"),
        format!("/v1/programs/{program}/leaderboard"),
        format!("/v1/programs/{program}/export.csv"),
        "/v1/openapi.json".to_string(),
        "/healthz".to_string(),
        "/metrics".to_string(),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_secured(&path, &response);
    }
}
