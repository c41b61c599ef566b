//! `/healthz` (the process is alive), `/readyz` (its dependencies answer) and `/metrics`
//! (Prometheus text), mounted on a service's HTTP server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::future::join_all;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use subtle::ConstantTimeEq;

/// The `[http]` section's limits, once in this file: the services' settings still name them here.
pub use crate::http_limits::{HttpLimits, HttpSettings, RequestGuard};

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// When a service counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyWhen {
    /// Every dependency answers.
    All,
    /// At least one does: for a service that can fall back from one to the other (the subscriber
    /// keeps accepting into its PostgreSQL outbox while the broker is down, so taking it out of
    /// the load balancer then would lose the very fallback it has).
    Any,
}

/// Named dependency checks, run concurrently on each `/readyz`, each bounded by `timeout`.
#[derive(Clone)]
pub struct Readiness {
    checks: Vec<(&'static str, CheckFn)>,
    ready_when: ReadyWhen,
    timeout: Duration,
}

impl Readiness {
    pub fn new(ready_when: ReadyWhen) -> Self {
        Self { checks: Vec::new(), ready_when, timeout: Duration::from_secs(2) }
    }

    pub fn check<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks.push((name, Arc::new(move || Box::pin(check()) as CheckFuture)));
        self
    }

    /// The usual pair: the broker (a metadata request through `producer`) and PostgreSQL.
    pub fn kafka_and_database(
        ready_when: ReadyWhen,
        producer: crate::kafka::RecoveringProducer,
        pool: sqlx::PgPool,
    ) -> Self {
        Self::new(ready_when)
            .check("kafka", move || {
                let producer = producer.clone();
                async move {
                    crate::kafka::ping(&producer.get(), Duration::from_secs(1))
                        .await
                        .map_err(|e| e.to_string())
                }
            })
            .check("database", move || {
                let pool = pool.clone();
                async move { crate::database::ping(&pool).await.map_err(|e| e.to_string()) }
            })
    }

    /// Runs every check; returns (ready, per-check results).
    pub async fn evaluate(&self) -> (bool, Vec<(&'static str, Result<(), String>)>) {
        let timeout = self.timeout;
        let results = join_all(self.checks.iter().map(|(name, check)| async move {
            let outcome = match tokio::time::timeout(timeout, check()).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
            };
            (*name, outcome)
        }))
        .await;
        let ok = results.iter().filter(|(_, r)| r.is_ok()).count();
        let ready = match self.ready_when {
            ReadyWhen::All => ok == results.len(),
            ReadyWhen::Any => ok > 0 || results.is_empty(),
        };
        (ready, results)
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "alive" }))
}

async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let (ready, results) = readiness.evaluate().await;
    let all_ok = results.iter().all(|(_, r)| r.is_ok());
    let checks: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(name, r)| (name.to_string(), json!(r.err().unwrap_or_else(|| "ok".to_string()))))
        .collect();
    let status = match (ready, all_ok) {
        (true, true) => "ready",
        (true, false) => "degraded",
        (false, _) => "unavailable",
    };
    let body = json!({ "status": status, "checks": checks });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The token `/metrics` requires, if any.
#[derive(Clone)]
struct MetricsToken(Option<SecretString>);

async fn metrics_text(
    request: HttpRequest,
    handle: web::Data<PrometheusHandle>,
    token: web::Data<MetricsToken>,
) -> HttpResponse {
    if let Some(expected) = &token.0 {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(expected.expose_secret().as_bytes())) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .finish();
        }
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render())
}

/// What the three endpoints serve.
#[derive(Clone)]
pub struct Ops {
    pub readiness: Readiness,
    /// `fitex_common::metrics::prometheus()`.
    pub metrics: PrometheusHandle,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<SecretString>,
}

/// Mounts the three endpoints: `app.configure(ops_routes(ops))` (every service's server does,
/// through [`crate::http::Serve`]).
pub fn ops_routes(ops: Ops) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(ops.readiness))
            .app_data(web::Data::new(ops.metrics))
            .app_data(web::Data::new(MetricsToken(ops.metrics_token)))
            // Resources, so another method is 405 (a bare route would make it 404).
            .service(web::resource("/healthz").route(web::get().to(healthz)))
            .service(web::resource("/readyz").route(web::get().to(readyz)))
            .service(web::resource("/metrics").route(web::get().to(metrics_text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(ready_when: ReadyWhen, a: bool, b: bool) -> Readiness {
        let result = |ok: bool| if ok { Ok(()) } else { Err("down".to_string()) };
        Readiness::new(ready_when)
            .check("a", move || async move { result(a) })
            .check("b", move || async move { result(b) })
    }

    #[tokio::test]
    async fn all_needs_every_check_and_any_needs_one() {
        assert!(with(ReadyWhen::All, true, true).evaluate().await.0);
        assert!(!with(ReadyWhen::All, true, false).evaluate().await.0);
        assert!(with(ReadyWhen::Any, false, true).evaluate().await.0);
        assert!(!with(ReadyWhen::Any, false, false).evaluate().await.0);
    }

    #[tokio::test]
    async fn a_hanging_check_times_out() {
        let mut readiness = Readiness::new(ReadyWhen::All).check("slow", || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        });
        readiness.timeout = Duration::from_millis(20);
        let (ready, results) = readiness.evaluate().await;
        assert!(!ready);
        assert!(results[0].1.as_ref().unwrap_err().contains("no answer"));
    }
}
