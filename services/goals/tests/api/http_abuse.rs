//! Bad input over HTTP on the goals service's public endpoints (the `/v1` read API, its OpenAPI
//! description, `/healthz`, `/readyz`, `/metrics`): oversized heads, slow clients, wrong
//! methods, unreadable headers and parameters. Each gets a clean 4xx, never a 5xx, and the API
//! keeps answering.

use std::time::{Duration, Instant};

use crate::helpers::*;

/// A program with one team and one member: (participant, team, program).
async fn seeded(app: &TestGoals) -> (i64, i64, i64) {
    let program = app.program("Abuse season", 7, "steps").await;
    let team = app.team(program, "North").await;
    let participant = app.member(team, today() - chrono::Duration::days(7)).await;
    (participant, team, program)
}

/// Every GET endpoint, with the status it answers when asked properly.
fn endpoints(participant: i64, team: i64, program: i64) -> Vec<(String, u16)> {
    vec![
        (format!("/v1/participants/{participant}/goal"), 200),
        (format!("/v1/participants/{participant}/goals"), 200),
        (format!("/v1/teams/{team}/progress"), 200),
        (format!("/v1/programs/{program}/leaderboard"), 200),
        (format!("/v1/programs/{program}/export.csv"), 200),
        ("/v1/openapi.json".to_string(), 200),
        ("/healthz".to_string(), 200),
        ("/readyz".to_string(), 200),
        ("/metrics".to_string(), 200),
    ]
}

#[tokio::test]
async fn oversized_headers_get_431_on_every_endpoint_and_the_api_keeps_serving() {
    let app = spawn_goals().await;
    let (participant, team, program) = seeded(&app).await;
    let huge = vec![b'a'; 64 * 1024];
    let names: Vec<String> = (0..200).map(|i| format!("x-filler-{i}")).collect();
    let many: Headers<'_> = names.iter().map(|n| (n.as_str(), b"1".to_vec())).collect();
    for (path, expected) in endpoints(participant, team, program) {
        assert_eq!(app.send("GET", &path, &[("X-Padding", huge.clone())]).await, 431, "{path}");
        assert_eq!(app.send("GET", &path, &many).await, 431, "{path} with 200 headers");
        assert_eq!(app.send("GET", &path, &[]).await, expected, "{path}");
    }
    // A 64 KiB bearer token is refused before it is looked up.
    let mut token = b"Bearer ".to_vec();
    token.extend_from_slice(&huge);
    let path = format!("/v1/participants/{participant}/goal");
    assert_eq!(app.send("GET", &path, &[("Authorization", token)]).await, 431);
    assert_eq!(app.send("GET", &path, &[]).await, 200);
}

#[tokio::test]
async fn slow_clients_are_timed_out_and_the_api_still_answers_at_once() {
    let app = spawn_goals_with(|settings| {
        settings.http.client_request_timeout = Duration::from_millis(1_000);
        settings.http.body_timeout = Duration::from_millis(1_000);
        settings.http.keep_alive = Duration::from_secs(1);
    })
    .await;
    let (participant, _, _) = seeded(&app).await;
    let path = format!("/v1/participants/{participant}/goal");
    let address = app.address();
    let started = Instant::now();
    let mut slow_heads = Vec::new();
    let mut silent = Vec::new();
    let mut declared_bodies = Vec::new();
    for _ in 0..20 {
        let partial = format!("GET {path} HTTP/1.1\r\nHost: goals\r\nAuthoriz");
        slow_heads.push(raw_send(&address, partial.as_bytes()).await);
        silent.push(raw_send(&address, b"").await);
        // The API reads no body: one declared and never sent does not hold the connection.
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: goals\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Length: 1000\r\n\r\n{{"
        );
        declared_bodies.push(raw_send(&address, head.as_bytes()).await);
    }

    let asked = Instant::now();
    assert_eq!(app.get(&path).await.status().as_u16(), 200);
    assert_eq!(
        app.client.get(format!("{}/healthz", app.base_url)).send().await.unwrap().status(),
        200
    );
    assert!(asked.elapsed() < Duration::from_millis(1_000), "took {:?}", asked.elapsed());

    for stream in &mut declared_bodies {
        assert_eq!(raw_status(stream, Duration::from_secs(3)).await, Some(200));
        assert!(raw_closed(stream, Duration::from_secs(3)).await, "kept open for its body");
    }
    expect_timed_out(&mut slow_heads).await;
    expect_silent_closed(&mut silent).await;
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());

    // An idle kept-alive connection is closed after `keep_alive_s`.
    expect_idle_keep_alive_closed(&address, "goals").await;
}

#[tokio::test]
async fn wrong_methods_are_refused_and_never_a_5xx() {
    let app = spawn_goals().await;
    let (participant, team, program) = seeded(&app).await;
    for (path, _) in endpoints(participant, team, program) {
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
            let status = app.send(method, &path, &[]).await;
            // The /v1 routes are read-only: no other method matches them (404); the operational
            // endpoints are resources that name what they allow (405).
            let expected = if path.starts_with("/v1/") { 404 } else { 405 };
            assert_eq!(status, expected, "{method} {path}");
            let anonymous = app.send(method, &path, &[("Authorization", b"".to_vec())]).await;
            assert!(
                (400..500).contains(&anonymous),
                "{method} {path} without a token: {anonymous}"
            );
        }
    }
    assert_eq!(app.send("GET", &format!("/v1/participants/{participant}/goal"), &[]).await, 200);
}

#[tokio::test]
async fn unreadable_headers_and_parameters_get_a_clean_4xx() {
    let app = spawn_goals().await;
    let (participant, _, program) = seeded(&app).await;
    let goal = format!("/v1/participants/{participant}/goal");
    let cases: Vec<(String, Headers<'_>, u16)> = vec![
        (goal.clone(), vec![("Authorization", b"Bearer \xff\xfe".to_vec())], 401),
        (
            goal.clone(),
            vec![("Authorization", [format!("Bearer {TOKEN}").as_bytes(), b"\xff"].concat())],
            401,
        ),
        (goal.clone(), vec![("Authorization", b"Basic Zm9vOmJhcg==".to_vec())], 401),
        (goal.clone(), vec![("Authorization", vec![b'a'; 10_000])], 401),
        (goal.clone(), vec![("Accept", b"\xff\xfe".to_vec())], 200),
        ("/v1/participants/%FF%FE/goal".into(), vec![], 404),
        ("/v1/participants/99999999999999999999999/goal".into(), vec![], 404),
        ("/v1/participants/-1/goal".into(), vec![], 404),
        (format!("{goal}?program_id=abc"), vec![], 400),
        (format!("{goal}?program_id=%FF"), vec![], 400),
        (format!("/v1/programs/{program}/leaderboard?week=-1"), vec![], 400),
        (format!("/v1/programs/{program}/leaderboard?week=4294967296"), vec![], 400),
        (format!("/v1/programs/{program}/leaderboard?week=0"), vec![], 400),
        (format!("/v1/teams/{}/progress", "9".repeat(5_000)), vec![], 404),
    ];
    for (path, headers, expected) in &cases {
        let status = app.send("GET", path, headers).await;
        assert_eq!(status, *expected, "{path} {headers:?}");
    }
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}
