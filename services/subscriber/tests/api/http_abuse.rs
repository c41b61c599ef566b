//! Bad input over HTTP on every public endpoint of the subscriber (the two webhooks, `/healthz`,
//! `/readyz`, `/metrics`): oversized heads, slow clients, wrong methods and content types,
//! invalid UTF-8, deeply nested JSON, bodies over the limit, and a flood of forgeries. Each is
//! refused with a clean 4xx, nothing reaches the topic, and good traffic keeps flowing.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fitex_google_health::sign;
use fitex_proto::{Message, ProviderNotification};
use p256::ecdsa::SigningKey;

use crate::helpers::*;

const REJECTED: &str = "fitex_subscriber_requests_rejected_total";

fn fitbit_headers(body: &[u8]) -> Headers<'static> {
    vec![
        ("Content-Type", b"application/json".to_vec()),
        ("X-Fitbit-Signature", fitex_fitbit::sign(SECRET, body).into_bytes()),
    ]
}

fn google_headers(key: &SigningKey, body: &[u8]) -> Headers<'static> {
    vec![
        ("Content-Type", b"application/json".to_vec()),
        ("X-Healthapi-Signature", sign(key, 1, body).into_bytes()),
    ]
}

fn fitbit_body(user: &str) -> String {
    format!(
        r#"[{{"collectionType":"activities","date":"2026-11-20","ownerId":"{user}","ownerType":"user"}}]"#
    )
}

/// The owner ids of every record on the topic, read until `expected` or `timeout`.
async fn owners(app: &TestApp, expected: usize, timeout: Duration) -> Vec<String> {
    let mut owners: Vec<String> = app
        .records(expected, timeout)
        .await
        .iter()
        .map(|r| ProviderNotification::decode(r.payload.as_slice()).unwrap().owner_id)
        .collect();
    owners.sort();
    owners
}

#[tokio::test]
async fn oversized_headers_get_431_on_every_endpoint_and_the_server_keeps_serving() {
    let k = key();
    let g = spawn_google(&[(1, &k)], 300).await;
    let app = &g.app;
    let fitbit = fitbit_body("HEADERS1");
    let google = notification("headers-user", "UPSERT", vec![interval((28, 9, 0), (28, 9, 5))]);
    let verify = format!("/webhooks/fitbit?verify={VERIFICATION_CODE}");
    // (method, path, headers, body, the answer without the extra headers)
    let endpoints: Vec<(&str, &str, Headers<'_>, Vec<u8>, u16)> = vec![
        ("GET", &verify, vec![], vec![], 204),
        ("POST", "/webhooks/fitbit", fitbit_headers(fitbit.as_bytes()), fitbit.clone().into(), 204),
        ("POST", GOOGLE_PATH, google_headers(&k, google.as_bytes()), google.clone().into(), 204),
        ("GET", "/healthz", vec![], vec![], 200),
        ("GET", "/readyz", vec![], vec![], 200),
        ("GET", "/metrics", vec![], vec![], 200),
    ];
    let huge_value = vec![b'a'; 64 * 1024];
    let names: Vec<String> = (0..200).map(|i| format!("x-filler-{i}")).collect();
    for (method, path, headers, body, _) in &endpoints {
        let mut one_huge = headers.clone();
        one_huge.push(("X-Padding", huge_value.clone()));
        let status = app.send(method, path, &one_huge, body.clone()).await;
        assert_eq!(status, 431, "{method} {path} with a 64 KiB header");

        let mut many = headers.clone();
        many.extend(names.iter().map(|n| (n.as_str(), b"1".to_vec())));
        let status = app.send(method, path, &many, body.clone()).await;
        assert_eq!(status, 431, "{method} {path} with 200 headers");
    }
    assert!(g.nothing_published().await, "a refused notification was published");

    // The same requests without the padding are served as usual.
    for (method, path, headers, body, expected) in &endpoints {
        let status = app.send(method, path, headers, body.clone()).await;
        assert_eq!(status, *expected, "{method} {path}");
    }
    assert_eq!(owners(app, 2, Duration::from_secs(15)).await, ["HEADERS1", "headers-user"]);
}

#[tokio::test]
async fn slow_clients_are_timed_out_and_do_not_starve_good_requests() {
    let k = key();
    let g = spawn_google_with(&[(1, &k)], 300, |settings| {
        settings.http.limits.client_request_timeout = Duration::from_millis(1_000);
        settings.http.limits.body_timeout = Duration::from_millis(1_000);
        settings.http.limits.keep_alive = Duration::from_secs(1);
    })
    .await;
    let app = &g.app;
    // Warm the producer so the good request below is not slowed by meeting the broker.
    assert_eq!(app.post_signed(&fitbit_body("WARMUP")).await.status().as_u16(), 204);

    let address = app.address();
    let signed = fitbit_body("SLOWBODY");
    let body_head = |path: &str, signature_header: &str, signature: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: subscriber\r\nContent-Type: application/json\r\n\
             {signature_header}: {signature}\r\nContent-Length: {}\r\n\r\n{}",
            signed.len(),
            &signed[..10]
        )
    };
    let fitbit_slow_body = body_head(
        "/webhooks/fitbit",
        "X-Fitbit-Signature",
        &fitex_fitbit::sign(SECRET, signed.as_bytes()),
    );
    let google_slow_body =
        body_head(GOOGLE_PATH, "X-Healthapi-Signature", &sign(&k, 1, signed.as_bytes()));
    let started = Instant::now();
    let mut slow_heads = Vec::new();
    let mut slow_bodies = Vec::new();
    let mut silent = Vec::new();
    for i in 0..20 {
        let path = if i % 2 == 0 { "/webhooks/fitbit" } else { GOOGLE_PATH };
        let partial = format!("POST {path} HTTP/1.1\r\nHost: subscriber\r\nX-Fitbit-Sig");
        slow_heads.push(raw_send(&address, partial.as_bytes()).await);
        let head = if i % 2 == 0 { &fitbit_slow_body } else { &google_slow_body };
        slow_bodies.push(raw_send(&address, head.as_bytes()).await);
        silent.push(raw_send(&address, b"").await);
    }

    // Sixty stalled connections on two workers: good requests are still answered at once.
    let asked = Instant::now();
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    assert!(asked.elapsed() < Duration::from_millis(500), "healthz took {:?}", asked.elapsed());
    let asked = Instant::now();
    assert_eq!(app.post_signed(&fitbit_body("GOOD1")).await.status().as_u16(), 204);
    let body = notification("good-google", "UPSERT", vec![interval((28, 9, 0), (28, 9, 5))]);
    assert_eq!(g.post_signed(&k, 1, &body).await, 204);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "good notifications took {:?}",
        asked.elapsed()
    );

    // Each slow client gets 408 (head or body too slow) and its connection closed.
    expect_timed_out(slow_heads.iter_mut().chain(slow_bodies.iter_mut())).await;
    expect_silent_closed(&mut silent).await;
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());

    // A kept-alive connection idling after its answer is closed after `keep_alive_s`.
    expect_idle_keep_alive_closed(&address, "subscriber").await;

    for provider in ["fitbit", "google_health"] {
        let timeouts = app
            .metric(REJECTED, &[&format!("provider=\"{provider}\""), "reason=\"body_timeout\""])
            .await;
        assert_eq!(timeouts, 10.0, "{provider} body timeouts counted");
    }
    // Nothing of the stalled bodies was published, only the good ones (asking for one record
    // more than expected shows there is no other).
    assert_eq!(
        owners(app, 4, Duration::from_secs(3)).await,
        ["GOOD1", "WARMUP", "good-google"].map(String::from).to_vec()
    );
}

#[tokio::test]
async fn with_keep_alive_off_every_connection_closes_after_its_answer() {
    // Actix times only a connection's first request head; with keep-alive off every request is
    // a first one, so a stalled second head cannot hold a connection.
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database);
    settings.http.limits.keep_alive = Duration::ZERO;
    let app = spawn_with(settings).await;
    let mut stream =
        raw_send(&app.address(), b"GET /healthz HTTP/1.1\r\nHost: subscriber\r\n\r\n").await;
    assert_eq!(raw_status(&mut stream, Duration::from_secs(2)).await, Some(200));
    assert!(raw_closed(&mut stream, Duration::from_millis(500)).await, "kept open");
    let response = app.get("/healthz").await;
    assert_eq!(response.headers()["connection"], "close");
    assert_eq!(app.post_signed(&fitbit_body("NOKEEPALIVE")).await.status().as_u16(), 204);
}

#[tokio::test]
async fn wrong_methods_get_405_and_never_a_5xx() {
    let k = key();
    let g = spawn_google(&[(1, &k)], 300).await;
    let app = &g.app;
    let fitbit = fitbit_body("METHODS");
    let google = notification("methods-user", "UPSERT", vec![interval((28, 9, 0), (28, 9, 5))]);
    let cases: Vec<(&str, Headers<'_>, Vec<u8>)> = vec![
        ("/webhooks/fitbit", fitbit_headers(fitbit.as_bytes()), fitbit.clone().into()),
        (GOOGLE_PATH, google_headers(&k, google.as_bytes()), google.clone().into()),
        ("/healthz", vec![], vec![]),
        ("/readyz", vec![], vec![]),
        ("/metrics", vec![], vec![]),
    ];
    for (path, headers, body) in &cases {
        for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
            let status = app.send(method, path, headers, body.clone()).await;
            assert_eq!(status, 405, "{method} {path}");
        }
    }
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.send("POST", path, &[], b"{}".to_vec()).await, 405, "POST {path}");
    }
    // The Google webhook has no verification GET.
    assert_eq!(app.send("GET", GOOGLE_PATH, &[], vec![]).await, 405);
    assert!(g.nothing_published().await);
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}

#[tokio::test]
async fn notifications_declared_as_anything_but_json_are_415_and_publish_nothing() {
    let k = key();
    let g = spawn_google(&[(1, &k)], 300).await;
    let app = &g.app;
    let fitbit = fitbit_body("TYPED");
    let google = notification("typed-user", "UPSERT", vec![interval((28, 9, 0), (28, 9, 5))]);
    let fitbit_signature = fitex_fitbit::sign(SECRET, fitbit.as_bytes()).into_bytes();
    let google_signature = sign(&k, 1, google.as_bytes()).into_bytes();
    let multipart = b"multipart/form-data; boundary=----x".to_vec();
    for content_type in
        [b"text/plain".to_vec(), multipart, b"application/x-www-form-urlencoded".to_vec()]
    {
        let shown = String::from_utf8_lossy(&content_type).into_owned();
        let headers = [
            ("Content-Type", content_type.clone()),
            ("X-Fitbit-Signature", fitbit_signature.clone()),
        ];
        let status = app.send("POST", "/webhooks/fitbit", &headers, fitbit.clone().into()).await;
        assert_eq!(status, 415, "signed Fitbit notification as {shown}");
        let headers = [
            ("Content-Type", content_type.clone()),
            ("X-Healthapi-Signature", google_signature.clone()),
        ];
        let status = app.send("POST", GOOGLE_PATH, &headers, google.clone().into()).await;
        assert_eq!(status, 415, "signed Google notification as {shown}");
        // A forger still learns nothing: the signature is judged first.
        let headers = [("Content-Type", content_type.clone())];
        let status = app.send("POST", "/webhooks/fitbit", &headers, fitbit.clone().into()).await;
        assert_eq!(status, 404, "unsigned Fitbit notification as {shown}");
        let status = app.send("POST", GOOGLE_PATH, &headers, google.clone().into()).await;
        assert_eq!(status, 401, "unsigned Google notification as {shown}");
    }
    // A Google verification call as text is refused too, once its secret checks out.
    let verification = [
        ("Content-Type", b"text/plain".to_vec()),
        ("Authorization", ENDPOINT_SECRET.as_bytes().to_vec()),
    ];
    let status =
        app.send("POST", GOOGLE_PATH, &verification, br#"{"type":"verification"}"#.to_vec()).await;
    assert_eq!(status, 415);
    assert!(g.nothing_published().await);
    for provider in ["fitbit", "google_health"] {
        let refused = app
            .metric(
                REJECTED,
                &[&format!("provider=\"{provider}\""), "reason=\"unsupported_media_type\""],
            )
            .await;
        assert!(refused >= 3.0, "{provider}: {refused}");
    }

    // JSON with parameters, and no declared type at all (the signature proves the body), pass.
    let headers = [
        ("Content-Type", b"application/json; charset=utf-8".to_vec()),
        ("X-Fitbit-Signature", fitbit_signature.clone()),
    ];
    assert_eq!(app.send("POST", "/webhooks/fitbit", &headers, fitbit.clone().into()).await, 204);
    let headers = [("X-Healthapi-Signature", google_signature.clone())];
    assert_eq!(app.send("POST", GOOGLE_PATH, &headers, google.clone().into()).await, 204);
    assert_eq!(owners(app, 2, Duration::from_secs(15)).await, ["TYPED", "typed-user"]);
}

#[tokio::test]
async fn invalid_utf8_bodies_and_header_values_are_refused_cleanly() {
    let k = key();
    let g = spawn_google(&[(1, &k)], 300).await;
    let app = &g.app;
    let not_utf8 = b"[\xff\xfe\xfd]".to_vec();
    let in_a_string =
        b"[{\"collectionType\":\"activities\",\"date\":\"2026-11-20\",\"ownerId\":\"\xff\xfe\",\"ownerType\":\"user\"}]"
            .to_vec();
    for body in [&not_utf8, &in_a_string] {
        // Correctly signed, so only the body can be at fault.
        let status =
            app.send("POST", "/webhooks/fitbit", &fitbit_headers(body), body.clone()).await;
        assert_eq!(status, 400, "signed Fitbit body {body:?}");
        let status = app.send("POST", GOOGLE_PATH, &google_headers(&k, body), body.clone()).await;
        assert_eq!(status, 400, "signed Google body {body:?}");
        let status = app.send("POST", "/webhooks/fitbit", &[], body.clone()).await;
        assert_eq!(status, 404, "unsigned Fitbit body {body:?}");
        let status = app.send("POST", GOOGLE_PATH, &[], body.clone()).await;
        assert_eq!(status, 401, "unsigned Google body {body:?}");
    }

    let fitbit = fitbit_body("UTF8");
    let google = notification("utf8-user", "UPSERT", vec![interval((28, 9, 0), (28, 9, 5))]);
    let garbage = b"\xff\xfe\xfd==".to_vec();
    let status = app
        .send(
            "POST",
            "/webhooks/fitbit",
            &[("X-Fitbit-Signature", garbage.clone())],
            fitbit.clone().into(),
        )
        .await;
    assert_eq!(status, 404, "a signature header that is not UTF-8");
    let status = app
        .send(
            "POST",
            GOOGLE_PATH,
            &[("X-Healthapi-Signature", garbage.clone())],
            google.clone().into(),
        )
        .await;
    assert_eq!(status, 403, "a Google signature header that is not UTF-8");
    let mut headers = google_headers(&k, google.as_bytes());
    headers.push(("Authorization", b"Bearer \xff\xfe".to_vec()));
    let status = app.send("POST", GOOGLE_PATH, &headers, google.clone().into()).await;
    assert_eq!(status, 403, "an Authorization that is not UTF-8 on a notification");
    let verification = br#"{"type":"verification"}"#.to_vec();
    let status = app
        .send("POST", GOOGLE_PATH, &[("Authorization", b"Bearer \xff\xfe".to_vec())], verification)
        .await;
    assert_eq!(status, 401, "an Authorization that is not UTF-8 on a verification call");
    let mut headers = fitbit_headers(fitbit.as_bytes());
    headers[0] = ("Content-Type", b"application/\xffjson".to_vec());
    let status = app.send("POST", "/webhooks/fitbit", &headers, fitbit.clone().into()).await;
    assert_eq!(status, 415, "a Content-Type that is not UTF-8");
    let status =
        app.send("GET", "/metrics", &[("Authorization", b"Bearer \xff".to_vec())], vec![]).await;
    assert_eq!(status, 200, "an unreadable header the endpoint does not use is ignored");
    assert!(g.nothing_published().await);

    // An unreadable trace header costs no notification: a new trace starts.
    let mut headers = fitbit_headers(fitbit.as_bytes());
    headers.push(("traceparent", b"00-\xff\xfe-01".to_vec()));
    assert_eq!(app.send("POST", "/webhooks/fitbit", &headers, fitbit.clone().into()).await, 204);
    assert_eq!(owners(app, 1, Duration::from_secs(15)).await, ["UTF8"]);
}

#[tokio::test]
async fn deeply_nested_json_is_a_clean_400_even_when_correctly_signed() {
    let k = key();
    // The production body limit, so 100,000 levels of nesting reach the JSON parser.
    let g = spawn_google_with(&[(1, &k)], 300, |s| {
        s.subscriber.max_body_bytes = std::num::NonZeroUsize::new(262_144).unwrap();
    })
    .await;
    let app = &g.app;
    let open = "[".repeat(100_000);
    let balanced = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let in_an_object = format!(r#"{{"data":{open}"#);
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(40_000), "}".repeat(40_000));
    for body in [&open, &balanced, &in_an_object, &deep_objects] {
        let shown = &body[..20];
        // Fitbit's notifications parse into typed records, which refuse the nesting at once.
        assert_eq!(app.post_signed(body).await.status().as_u16(), 400, "signed Fitbit {shown}…");
        // Google's are read as a JSON value first: serde_json's recursion limit (128) stops it.
        let response = app
            .client
            .post(g.url())
            .header("Content-Type", "application/json")
            .header("X-Healthapi-Signature", sign(&k, 1, body.as_bytes()))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "signed Google {shown}…");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().contains("recursion limit exceeded"),
            "{shown}…: {error}"
        );
        // Unsigned: refused by the signature rules (the verification probe parses it first).
        assert_eq!(app.post_notification(body, None).await.status().as_u16(), 404);
        assert_eq!(g.post(body, &[]).await, 401, "unsigned Google {shown}…");
    }
    assert!(g.nothing_published().await);
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200, "still serving");
    assert_eq!(app.post_signed(&fitbit_body("AFTERDEEP")).await.status().as_u16(), 204);
    assert_eq!(owners(app, 1, Duration::from_secs(15)).await, ["AFTERDEEP"]);
}

/// A signed POST whose body is sent chunked (no `Content-Length`), in 1 KiB chunks.
fn chunked_request(path: &str, signature_header: &str, signature: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: subscriber\r\nContent-Type: application/json\r\n\
         {signature_header}: {signature}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_with_or_without_content_length() {
    let k = key();
    let g = spawn_google(&[(1, &k)], 300).await;
    let app = &g.app;
    let address = app.address();
    // 4 KiB is the test limit.
    let users: Vec<String> = (0..120)
        .map(|i| format!(r#"{{"collectionType":"activities","ownerId":"BIG{i:03}"}}"#))
        .collect();
    let big = format!("[{}]", users.join(","));
    assert!(big.len() > 4_096);
    let fitbit_signature = fitex_fitbit::sign(SECRET, big.as_bytes());
    let google_signature = sign(&k, 1, big.as_bytes());
    for (path, header, signature) in [
        ("/webhooks/fitbit", "X-Fitbit-Signature", &fitbit_signature),
        (GOOGLE_PATH, "X-Healthapi-Signature", &google_signature),
    ] {
        let request = chunked_request(path, header, signature, big.as_bytes());
        let mut stream = raw_send(&address, &request).await;
        assert_eq!(
            raw_status(&mut stream, Duration::from_secs(5)).await,
            Some(413),
            "chunked {path}"
        );

        // A declared length over the limit is refused before any of the body arrives.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: subscriber\r\nContent-Type: application/json\r\n\
             {header}: {signature}\r\nContent-Length: 10000000\r\n\r\n[{{"
        );
        let asked = Instant::now();
        let mut stream = raw_send(&address, head.as_bytes()).await;
        assert_eq!(
            raw_status(&mut stream, Duration::from_secs(5)).await,
            Some(413),
            "declared {path}"
        );
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "waited for the body: {:?}",
            asked.elapsed()
        );
    }
    assert!(g.nothing_published().await);
    for provider in ["fitbit", "google_health"] {
        let refused = app
            .metric(REJECTED, &[&format!("provider=\"{provider}\""), "reason=\"body_too_large\""])
            .await;
        assert_eq!(refused, 2.0, "{provider}");
    }

    // A chunked body within the limit is accepted like any other.
    let small = fitbit_body("CHUNKED");
    let request = chunked_request(
        "/webhooks/fitbit",
        "X-Fitbit-Signature",
        &fitex_fitbit::sign(SECRET, small.as_bytes()),
        small.as_bytes(),
    );
    let mut stream = raw_send(&address, &request).await;
    assert_eq!(raw_status(&mut stream, Duration::from_secs(5)).await, Some(204));
    assert_eq!(owners(app, 1, Duration::from_secs(15)).await, ["CHUNKED"]);
}

#[tokio::test]
async fn a_flood_of_forged_notifications_does_not_stop_good_ones() {
    let k = key();
    let spawned = spawn_google(&[(1, &k)], 300).await;
    let (g, app) = (&spawned, &spawned.app);
    let rejected = |provider: &'static str, reason: &'static str| async move {
        app.metric(
            REJECTED,
            &[&format!("provider=\"{provider}\""), &format!("reason=\"{reason}\"")],
        )
        .await
    };
    let before = [
        rejected("fitbit", "signature_mismatch").await,
        rejected("google_health", "signature_invalid").await,
        rejected("google_health", "signature_missing").await,
    ];

    let forger = key();
    const TASKS: usize = 8;
    const EACH: usize = 250;
    let floods = (0..TASKS).map(|task| {
        let forger = &forger;
        async move {
            let mut statuses = Vec::with_capacity(EACH);
            for i in 0..EACH {
                let status = if task % 2 == 0 {
                    let body = fitbit_body(&format!("FORGED{task}X{i}"));
                    let signature = fitex_fitbit::sign("not-the-secret", body.as_bytes());
                    app.post_notification(&body, Some(&signature)).await.status().as_u16()
                } else {
                    let user = format!("forged-{task}-{i}");
                    let body =
                        notification(&user, "UPSERT", vec![interval((28, 9, 0), (28, 9, 5))]);
                    if i % 2 == 0 {
                        g.post_signed(forger, 1, &body).await
                    } else {
                        g.post(&body, &[]).await
                    }
                };
                statuses.push(status);
            }
            statuses
        }
    });
    const GOOD: usize = 25;
    let good = async {
        let mut statuses = Vec::new();
        for i in 0..GOOD {
            statuses.push(
                app.post_signed(&fitbit_body(&format!("GOODF{i:02}"))).await.status().as_u16(),
            );
            let body = notification(
                &format!("good-g-{i:02}"),
                "UPSERT",
                vec![interval((28, 9, 0), (28, 9, 5))],
            );
            statuses.push(g.post_signed(&k, 1, &body).await);
        }
        statuses
    };
    let started = Instant::now();
    let (flood_statuses, good_statuses) = tokio::join!(futures::future::join_all(floods), good);
    let took = started.elapsed();

    assert!(
        good_statuses.iter().all(|s| *s == 204),
        "good notifications refused: {good_statuses:?}"
    );
    for (task, statuses) in flood_statuses.iter().enumerate() {
        let allowed: &[u16] = if task % 2 == 0 { &[404] } else { &[401, 403] };
        assert!(statuses.iter().all(|s| allowed.contains(s)), "task {task}: {statuses:?}");
    }
    let forged = (TASKS * EACH) as f64;
    let after = [
        rejected("fitbit", "signature_mismatch").await,
        rejected("google_health", "signature_invalid").await,
        rejected("google_health", "signature_missing").await,
    ];
    assert_eq!(after[0] - before[0], forged / 2.0, "Fitbit forgeries counted");
    assert_eq!(after[1] - before[1], forged / 4.0, "Google forged signatures counted");
    assert_eq!(after[2] - before[2], forged / 4.0, "Google unsigned counted");

    // Exactly the good notifications are on the topic.
    let published: HashSet<String> =
        owners(app, 2 * GOOD + 1, Duration::from_secs(5)).await.into_iter().collect();
    let expected: HashSet<String> =
        (0..GOOD).flat_map(|i| [format!("GOODF{i:02}"), format!("good-g-{i:02}")]).collect();
    assert_eq!(published, expected);
    eprintln!("{} forged and {} good notifications in {took:?}", TASKS * EACH, 2 * GOOD);
}
