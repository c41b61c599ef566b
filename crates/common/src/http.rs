//! Every service's HTTP server, set up in one place: the `[http]` limits (the guard around every
//! route, the server's timeouts), `/healthz`, `/readyz` and `/metrics`, the workers and the
//! graceful stop. A service adds only its own routes:
//! `http::serve(limits, workers, ops).run(listener, |cfg| { cfg.service(…); })`.

use std::net::TcpListener;
use std::num::NonZeroUsize;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Condition};
use actix_web::web::ServiceConfig;
use actix_web::{App, HttpServer};

use crate::health::{ops_routes, Ops};
use crate::http_limits::HttpLimits;
use crate::http_security;

/// Binds `address` (`host:port`; port 0 takes any free port) and tells the port it got.
pub fn bind(address: &str) -> std::io::Result<(TcpListener, u16)> {
    let listener = TcpListener::bind(address)?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

/// A service's HTTP server with `limits`, `workers` and the operational routes serving `ops`;
/// [`Serve::run`] adds the service's own routes and starts it.
pub fn serve(limits: HttpLimits, workers: NonZeroUsize, ops: Ops) -> Serve {
    Serve { limits, workers, ops, shutdown_timeout_s: None, json_api: false }
}

/// See [`serve`].
pub struct Serve {
    limits: HttpLimits,
    workers: NonZeroUsize,
    ops: Ops,
    shutdown_timeout_s: Option<u64>,
    json_api: bool,
}

impl Serve {
    /// How long requests in flight may take to finish once the server is told to stop (actix's
    /// default otherwise: 30 s).
    pub fn shutdown_timeout_s(mut self, seconds: u64) -> Self {
        self.shutdown_timeout_s = Some(seconds);
        self
    }

    /// The server is a JSON API: every answer, the guard's refusals and the operational routes'
    /// too, passes through [`http_security::json_api`], which wraps the guard.
    pub fn json_api(mut self) -> Self {
        self.json_api = true;
        self
    }

    /// Starts serving on `listener`: the operational routes, then the service's (`routes` runs
    /// once per worker, so per-worker state, such as a session middleware, is made there). The
    /// `Server` resolves once stopped, gracefully, by SIGTERM/SIGINT or through its handle.
    pub fn run<R>(self, listener: TcpListener, routes: R) -> std::io::Result<Server>
    where
        R: Fn(&mut ServiceConfig) + Clone + Send + 'static,
    {
        let Serve { limits, workers, ops, shutdown_timeout_s, json_api } = self;
        let mut server = HttpServer::new(move || {
            App::new()
                // Oversized heads and slow bodies are refused before any handler.
                .wrap(limits.guard())
                // Outermost when on, so the guard's refusals get the headers too.
                .wrap(Condition::new(json_api, from_fn(http_security::json_api)))
                .configure(ops_routes(ops.clone()))
                .configure(&routes)
        })
        .workers(workers.get())
        // A client that sends its head slowly, or idles on a kept-alive connection, is let go.
        .client_request_timeout(limits.client_request_timeout)
        .client_disconnect_timeout(limits.client_disconnect_timeout)
        .keep_alive(limits.keep_alive);
        if let Some(seconds) = shutdown_timeout_s {
            server = server.shutdown_timeout(seconds);
        }
        Ok(server.listen(listener)?.run())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use actix_web::web;

    use super::*;
    use crate::health::{Readiness, ReadyWhen};

    /// `request` (a whole HTTP/1.1 request) sent to `port`, and the answer as text.
    async fn exchange(port: u16, request: String) -> String {
        tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap()
    }

    fn get(path: &str, extra_header: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: test\r\n{extra_header}Connection: close\r\n\r\n")
    }

    #[tokio::test]
    async fn the_service_routes_sit_beside_the_operational_ones_inside_the_guard() {
        let ops = Ops {
            readiness: Readiness::new(ReadyWhen::All),
            metrics: crate::metrics::prometheus(),
            metrics_token: None,
        };
        let limits = HttpLimits { max_head_bytes: 1_024, ..crate::http_limits::base_limits() };
        let (listener, port) = bind("127.0.0.1:0").unwrap();
        let server = serve(limits, NonZeroUsize::MIN, ops)
            .json_api()
            .run(listener, |cfg| {
                cfg.route("/hello", web::get().to(|| async { "hello" }));
            })
            .unwrap();
        let handle = server.handle();
        let served = tokio::spawn(server);

        for path in ["/healthz", "/readyz", "/metrics", "/hello"] {
            let answer = exchange(port, get(path, "")).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        }
        let big = format!("x-filler: {}\r\n", "a".repeat(2_000));
        let refused = exchange(port, get("/hello", &big)).await.to_ascii_lowercase();
        assert!(refused.starts_with("http/1.1 431"), "{refused}");
        assert!(refused.contains("x-content-type-options: nosniff"), "{refused}");

        handle.stop(true).await;
        served.await.unwrap().unwrap();
    }
}
