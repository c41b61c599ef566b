//! The fetcher's own HTTP server (health and metrics only) refuses bad input like every
//! service's: oversized heads get 431, a client that stalls its head is let go, wrong methods get
//! 405, and the server keeps answering.

use std::time::Duration;

use fitex_testkit::raw_http::{raw_closed, raw_send, raw_status};

use crate::helpers::*;

async fn status(app: &TestFetcher, method: reqwest::Method, path: &str, padding: usize) -> u16 {
    let mut request =
        reqwest::Client::new().request(method, format!("http://127.0.0.1:{}{path}", app.port));
    if padding > 0 {
        request = request.header("X-Padding", "a".repeat(padding));
    }
    request.send().await.expect("a response").status().as_u16()
}

#[tokio::test]
async fn the_health_and_metrics_server_refuses_bad_requests_and_keeps_serving() {
    let app = spawn_fetcher().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(status(&app, reqwest::Method::GET, path, 64 * 1024).await, 431, "{path}");
        assert_eq!(status(&app, reqwest::Method::DELETE, path, 0).await, 405, "{path}");
        assert_eq!(status(&app, reqwest::Method::GET, path, 0).await, 200, "{path}");
    }

    // A head that never ends is answered 408 (or the connection closed) once the head deadline
    // (`[http] client_request_timeout_ms`, 5 s) passes, and a good request is answered meanwhile.
    let address = format!("127.0.0.1:{}", app.port);
    let mut stalled =
        raw_send(&address, b"GET /healthz HTTP/1.1\r\nHost: fetcher\r\nX-Slow: ").await;
    assert_eq!(status(&app, reqwest::Method::GET, "/healthz", 0).await, 200);
    let answer = raw_status(&mut stalled, Duration::from_secs(10)).await;
    assert!(
        answer == Some(408) || raw_closed(&mut stalled, Duration::from_secs(2)).await,
        "a stalled head must be let go, got {answer:?}"
    );
}
