//! Raw HTTP/1.1 over TCP, for requests no well-behaved client sends (stalled heads and bodies,
//! bodies chunked by hand), as the HTTP abuse tests of every service need them.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Header names and values (any bytes).
pub type Headers<'a> = Vec<(&'a str, Vec<u8>)>;

/// Connects and writes `bytes` (e.g. a request head and part of its body), leaving it open.
pub async fn raw_send(address: &str, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    stream
}

/// The status of the answer read from `stream` within `within`; `None` when the connection
/// closes or nothing complete arrives in time.
pub async fn raw_status(stream: &mut TcpStream, within: Duration) -> Option<u16> {
    let mut received = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(within, read).await;
    String::from_utf8_lossy(&received).strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Whether the server closes `stream` within `within` (reading and dropping what it sends).
pub async fn raw_closed(stream: &mut TcpStream, within: Duration) -> bool {
    let drain = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    };
    tokio::time::timeout(within, drain).await.is_ok()
}

/// Each stream, a client too slow with its head or body, is answered 408 within 5 s and then
/// closed within 3 s.
pub async fn expect_timed_out<'a>(streams: impl IntoIterator<Item = &'a mut TcpStream>) {
    for stream in streams {
        assert_eq!(raw_status(stream, Duration::from_secs(5)).await, Some(408));
        assert!(raw_closed(stream, Duration::from_secs(3)).await, "still open after 408");
    }
}

/// Each stream, a connection that never sent a byte, is closed within 3 s.
pub async fn expect_silent_closed<'a>(streams: impl IntoIterator<Item = &'a mut TcpStream>) {
    for stream in streams {
        assert!(
            raw_closed(stream, Duration::from_secs(3)).await,
            "a silent connection stayed open"
        );
    }
}

/// A kept-alive connection idling after its answer to `GET /healthz` is closed within 4 s (the
/// tests set `keep_alive_s` below that).
pub async fn expect_idle_keep_alive_closed(address: &str, host: &str) {
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut idle = raw_send(address, head.as_bytes()).await;
    assert_eq!(raw_status(&mut idle, Duration::from_secs(2)).await, Some(200));
    assert!(raw_closed(&mut idle, Duration::from_secs(4)).await, "an idle keep-alive stayed open");
}

/// `request` with every header of `headers`, whose values may be any bytes (invalid UTF-8
/// included), as only a hand-built client sends them.
pub fn with_raw_headers(
    mut request: reqwest::RequestBuilder,
    headers: &[(&str, Vec<u8>)],
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        let value = reqwest::header::HeaderValue::from_bytes(value).expect("a header value");
        request = request.header(*name, value);
    }
    request
}
