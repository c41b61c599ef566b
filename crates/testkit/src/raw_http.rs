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
