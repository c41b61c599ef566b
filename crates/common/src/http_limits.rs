//! The limits every service's HTTP server puts on what a client may send, and how slowly
//! ([`HttpLimits`], enforced by the [`RequestGuard`] middleware and the server's timeouts), with
//! the rest of the `[http]` section ([`HttpSettings`]).

use std::cell::Cell;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use futures::future::LocalBoxFuture;
use futures::Stream;
use serde::Deserialize;
use serde_json::json;
use serde_with::{serde_as, DurationMilliSeconds, DurationSeconds};

use crate::client_address::ProxySettings;

/// What a client may send, and how slowly: the `[http]` section, shared by every service (every
/// key in `config/base.toml`).
///
/// A slow client must not hold a connection for ever (a slowloris keeps thousands open until the
/// server stops accepting): the request head must arrive within `client_request_timeout_ms`
/// (actix answers 408), the body within `body_timeout_ms` of the head ([`RequestGuard`] answers
/// 408), and an idle kept-alive connection is closed after `keep_alive_s`.
///
/// Actix (3.20) times only the head of a connection's *first* request: a client that gets an
/// answer, then sends part of a second head and stalls, holds the connection until it leaves.
/// Behind ingress-nginx (which sends upstream only complete requests) that cannot happen; where
/// clients reach a service directly, set `keep_alive_s = 0` (every connection closes after its
/// answer, so every request is a first one).
///
/// Zero turns any of these limits off, as `config/base.toml` says.
#[serde_as]
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct HttpLimits {
    /// The request head's deadline (`client_request_timeout_ms`).
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "client_request_timeout_ms")]
    pub client_request_timeout: Duration,
    /// The body's deadline, counted from the head (`body_timeout_ms`).
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "body_timeout_ms")]
    pub body_timeout: Duration,
    /// Idle kept-alive connections are closed after this long (`keep_alive_s`; zero: keep-alive
    /// off).
    #[serde_as(as = "DurationSeconds<u64>")]
    #[serde(rename = "keep_alive_s")]
    pub keep_alive: Duration,
    /// How long a connection being closed waits for the client to read the answer (after an early
    /// answer to a body that was not read, e.g. 413 or 431, so the client sees it rather than a
    /// reset; `client_disconnect_timeout_ms`).
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "client_disconnect_timeout_ms")]
    pub client_disconnect_timeout: Duration,
    /// Largest request head accepted (the request target and every header, as sent), 431 above.
    /// Actix itself refuses more than 96 headers (431) but takes heads up to 128 KiB, the bound
    /// left when this is 0.
    pub max_head_bytes: usize,
}

/// The whole `[http]` section, for a service that also needs to know its proxies: the limits,
/// and which proxies' word about the client's address is believed (`trusted_proxies`,
/// `forwarded_header`; see [`crate::client_address`]). [`HttpLimits`] alone reads the same
/// section and ignores the proxy keys.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    #[serde(flatten)]
    pub limits: HttpLimits,
    #[serde(flatten)]
    pub proxies: ProxySettings,
}

impl HttpLimits {
    /// The middleware enforcing the head size and the body deadline: `App::new().wrap(…)`.
    pub fn guard(&self) -> RequestGuard {
        RequestGuard {
            max_head_bytes: (self.max_head_bytes > 0).then_some(self.max_head_bytes),
            body_timeout: (!self.body_timeout.is_zero()).then_some(self.body_timeout),
        }
    }
}

/// Refuses request heads over the limit (431) and gives the body a deadline: a body still
/// incomplete then ends in an error for whoever reads it, and the answer becomes 408 (the
/// connection closes, as actix closes any connection whose body was not read to the end).
///
/// Its refusals are answers, not errors: middleware wrapped around it (the security headers of
/// [`crate::http_security`]) sees and completes them, as it cannot an `Err`.
#[derive(Debug, Clone, Copy)]
pub struct RequestGuard {
    max_head_bytes: Option<usize>,
    body_timeout: Option<Duration>,
}

/// The guard's refusals, as JSON like the services' other errors.
#[derive(Debug, thiserror::Error)]
pub enum GuardRejection {
    #[error("request headers larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("the request body did not arrive within {0} ms")]
    BodyTimeout(u128),
}

impl ResponseError for GuardRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            GuardRejection::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            GuardRejection::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // Say so when closing: a client that is not told may reuse the connection and be reset.
        HttpResponse::build(self.status_code())
            .force_close()
            .json(json!({ "error": self.to_string() }))
    }
}

/// The request target and headers as they were sent (`name: value\r\n` each).
fn head_bytes(request: &ServiceRequest) -> usize {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    target + request.headers().iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>()
}

impl<S, B> Transform<S, ServiceRequest> for RequestGuard
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequestGuardService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestGuardService { service: Rc::new(service), guard: *self }))
    }
}

pub struct RequestGuardService<S> {
    service: Rc<S>,
    guard: RequestGuard,
}

impl<S, B> Service<ServiceRequest> for RequestGuardService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        if let Some(limit) = self.guard.max_head_bytes {
            if head_bytes(&request) > limit {
                let refused = request.error_response(GuardRejection::HeadTooLarge(limit));
                return Box::pin(ready(Ok(refused.map_into_right_body())));
            }
        }
        let service = self.service.clone();
        let Some(timeout) = self.guard.body_timeout else {
            let answered = service.call(request);
            return Box::pin(
                async move { answered.await.map(ServiceResponse::map_into_left_body) },
            );
        };
        let timed_out = Rc::new(Cell::new(false));
        match request.take_payload() {
            Payload::None => {}
            payload => request.set_payload(Payload::Stream {
                payload: Box::pin(BodyDeadline {
                    inner: payload,
                    deadline: Box::pin(tokio::time::sleep(timeout)),
                    timed_out: timed_out.clone(),
                    finished: false,
                }),
            }),
        }
        Box::pin(async move {
            let answered = service.call(request).await;
            // Whatever the handler made of a body cut short, the client was too slow.
            if timed_out.get() {
                let rejection = GuardRejection::BodyTimeout(timeout.as_millis());
                return match answered {
                    Ok(response) => {
                        let (request, _) = response.into_parts();
                        Ok(ServiceResponse::from_err(rejection, request).map_into_right_body())
                    }
                    Err(_) => Err(rejection.into()),
                };
            }
            answered.map(ServiceResponse::map_into_left_body)
        })
    }
}

/// A request body that ends in a `TimedOut` error when its deadline passes before its end.
struct BodyDeadline {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Rc<Cell<bool>>,
    finished: bool,
}

impl Stream for BodyDeadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(None) => {
                this.finished = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.finished = true;
                    this.timed_out.set(true);
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body did not arrive in time",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// The limits `config/base.toml` sets (that file alone, whatever the environment says), for tests
/// that change one of them.
#[cfg(test)]
pub(crate) fn base_limits() -> HttpLimits {
    #[derive(Deserialize)]
    struct Http {
        http: HttpLimits,
    }
    let base = crate::config::config_dir().unwrap().join("base.toml");
    let read: Http = ::config::Config::builder()
        .add_source(::config::File::from(base))
        .build()
        .and_then(::config::Config::try_deserialize)
        .unwrap();
    read.http
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard (1 KiB heads, 50 ms for a body) around a service that reads the whole body.
    async fn guarded_reader() -> impl Service<
        ServiceRequest,
        Response = ServiceResponse<EitherBody<actix_web::body::BoxBody>>,
        Error = actix_web::Error,
    > {
        let limits = HttpLimits {
            max_head_bytes: 1_024,
            body_timeout: Duration::from_millis(50),
            ..base_limits()
        };
        let reader = actix_web::dev::fn_service(|mut request: ServiceRequest| async move {
            let mut payload = request.take_payload();
            while let Some(chunk) = futures::StreamExt::next(&mut payload).await {
                chunk?;
            }
            Ok(request.into_response(HttpResponse::Ok().finish()))
        });
        limits.guard().new_transform(reader).await.unwrap()
    }

    async fn status_of<B>(
        service: &impl Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
        request: ServiceRequest,
    ) -> StatusCode {
        match service.call(request).await {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        }
    }

    #[actix_web::test]
    async fn a_head_over_the_limit_is_431() {
        use actix_web::test::TestRequest;
        let service = guarded_reader().await;
        let small = TestRequest::post().insert_header(("x-a", "b".repeat(900)));
        assert_eq!(status_of(&service, small.to_srv_request()).await, StatusCode::OK);
        let large = TestRequest::post().insert_header(("x-a", "b".repeat(1_100)));
        assert_eq!(
            status_of(&service, large.to_srv_request()).await,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        let long = TestRequest::post().uri(&format!("/?q={}", "q".repeat(1_100)));
        assert_eq!(
            status_of(&service, long.to_srv_request()).await,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    #[actix_web::test]
    async fn a_body_that_stops_coming_is_408_and_a_whole_one_passes() {
        use actix_web::test::TestRequest;
        let service = guarded_reader().await;
        let whole = TestRequest::post().set_payload("0123456789");
        assert_eq!(status_of(&service, whole.to_srv_request()).await, StatusCode::OK);

        let mut stalled = TestRequest::post().to_srv_request();
        let first = futures::stream::once(async { Ok(Bytes::from_static(b"01")) });
        stalled.set_payload(Payload::Stream {
            payload: Box::pin(futures::StreamExt::chain(first, futures::stream::pending())),
        });
        let started = std::time::Instant::now();
        assert_eq!(status_of(&service, stalled).await, StatusCode::REQUEST_TIMEOUT);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn the_http_section_reads_limits_and_trusted_proxies_from_file_and_environment() {
        #[derive(Deserialize)]
        struct Both {
            http: HttpSettings,
        }
        #[derive(Deserialize)]
        struct LimitsOnly {
            http: HttpLimits,
        }
        // The repository's base.toml, under a development layer (`local.toml`) that changes a few
        // keys: the others keep base.toml's values.
        let dir = tempfile::tempdir().unwrap();
        let base = crate::config::config_dir().unwrap().join("base.toml");
        std::fs::copy(base, dir.path().join("base.toml")).unwrap();
        let write = |section: &str| {
            std::fs::write(dir.path().join("local.toml"), format!("[http]\n{section}")).unwrap()
        };
        write("keep_alive_s = 3\ntrusted_proxies = []\nforwarded_header = \"x-forwarded-for\"\n");
        let none: Both = crate::config::load_from(dir.path(), "local").unwrap();
        assert_eq!(none.http.limits.keep_alive, Duration::from_secs(3));
        assert_eq!(none.http.limits.max_head_bytes, base_limits().max_head_bytes);
        assert_eq!(none.http.limits.max_head_bytes, 16 * 1024);
        assert!(none.http.proxies.trusted_proxies.is_empty());

        write("keep_alive_s = 3\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\"]\n");
        let some: Both = crate::config::load_from(dir.path(), "local").unwrap();
        let ip = |text: &str| text.parse().unwrap();
        assert!(some.http.proxies.trusted_proxies.contains(ip("10.20.30.40")));
        assert!(some.http.proxies.trusted_proxies.contains(ip("192.0.2.7")));
        assert!(!some.http.proxies.trusted_proxies.contains(ip("192.0.2.8")));
        // Services that read only the limits ignore the proxy keys.
        let limits: LimitsOnly = crate::config::load_from(dir.path(), "local").unwrap();
        assert_eq!(limits.http.keep_alive, Duration::from_secs(3));

        // The environment gives the list comma-separated.
        // Numbers arrive as strings too, through the flattened limits.
        std::env::set_var("FITEX__HTTP__TRUSTED_PROXIES", "198.51.100.0/24,2001:db8::1");
        std::env::set_var("FITEX__HTTP__BODY_TIMEOUT_MS", "1234");
        let from_env = crate::config::load_from::<Both>(dir.path(), "local");
        std::env::remove_var("FITEX__HTTP__BODY_TIMEOUT_MS");
        std::env::set_var("FITEX__HTTP__TRUSTED_PROXIES", "not-an-address");
        let refused = crate::config::load_from::<Both>(dir.path(), "local");
        std::env::remove_var("FITEX__HTTP__TRUSTED_PROXIES");
        let from_env = from_env.unwrap().http;
        assert_eq!(from_env.limits.body_timeout, Duration::from_millis(1234));
        let proxies = from_env.proxies.trusted_proxies;
        assert!(proxies.contains(ip("198.51.100.9")) && proxies.contains(ip("2001:db8::1")));
        assert!(!proxies.contains(ip("10.20.30.40")), "the environment replaces the file");
        let error = refused.err().expect("a bad entry is refused at start-up").to_string();
        assert!(error.contains("not-an-address"), "{error}");
    }
}
