//! Google mode helpers: the OAuth dance, API calls with a bearer token, and a webhook endpoint
//! that plays a Google subscriber.

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use fitex_provider_simulator::pkce;
use serde_json::{json, Value};

use crate::helpers::*;

pub const ACTIVITY_SCOPE: &str =
    "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly";
pub const SETTINGS_SCOPE: &str = "https://www.googleapis.com/auth/googlehealth.settings.readonly";
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const ENDPOINT_SECRET: &str = "Bearer endpoint-secret-0123456789";

/// `(name, value)` pairs of a URL's query.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    serde_urlencoded::from_str(query).unwrap()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query_of(url).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Google's `{"error":{"status":…}}`.
pub fn google_status(body: &Value) -> &str {
    body["error"]["status"].as_str().unwrap_or("<none>")
}

impl TestSim {
    /// `GET /google/o/oauth2/v2/auth` with the usual parameters, `extra` added; the 302's
    /// `Location` (or the status and page when it is not a redirect).
    pub async fn google_authorize(&self, extra: &[(&str, &str)]) -> Result<String, (u16, String)> {
        let challenge = pkce::s256_challenge(VERIFIER);
        let scope = format!("{ACTIVITY_SCOPE} {SETTINGS_SCOPE}");
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", self.config.google_client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", scope.as_str()),
            ("state", "xyz"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            params.retain(|(n, _)| n != name);
            params.push((name, value));
        }
        let response = self
            .http
            .get(self.url("/google/o/oauth2/v2/auth"))
            .query(&params)
            .send()
            .await
            .expect("GET authorize");
        let status = response.status().as_u16();
        if status == 302 {
            Ok(header(&response, "location").to_string())
        } else {
            Err((status, response.text().await.unwrap_or_default()))
        }
    }

    /// An authorization code approved by `user` (offline access unless `extra` says otherwise).
    pub async fn google_code(&self, user: &str, extra: &[(&str, &str)]) -> String {
        let mut params =
            vec![("sim_user", user), ("access_type", "offline"), ("prompt", "consent")];
        params.extend_from_slice(extra);
        let location = self.google_authorize(&params).await.expect("a redirect");
        param(&location, "code").expect("a code")
    }

    /// `POST /google/token` with the client's credentials as HTTP Basic.
    pub async fn google_token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/google/token"))
            .basic_auth(&self.config.google_client_id, Some(&self.config.google_client_secret))
            .form(form)
            .send()
            .await
            .expect("POST token");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn google_exchange(&self, code: &str) -> (u16, Value) {
        self.google_token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await
    }

    pub async fn google_refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.google_token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .await
    }

    pub async fn google_get(&self, path: &str, token: &str) -> (u16, Value) {
        let response = self.get(path, token).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn google_send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `dataPoints:dailyRollUp` of `data_type` over `[start, end)`.
    pub async fn rollup(
        &self,
        token: &str,
        data_type: &str,
        start: &str,
        end: &str,
    ) -> (u16, Value) {
        let date = |text: &str| {
            let parts: Vec<u32> = text.split('-').map(|p| p.parse().unwrap()).collect();
            json!({"date": {"year": parts[0], "month": parts[1], "day": parts[2]}})
        };
        let body = json!({"range": {"start": date(start), "end": date(end)}, "windowSizeDays": 1});
        let path = format!("/v4/users/me/dataTypes/{data_type}/dataPoints:dailyRollUp");
        self.google_send(reqwest::Method::POST, &path, token, Some(body)).await
    }

    /// A project token (cloud-platform) from the admin shortcut.
    pub async fn project_token(&self) -> String {
        self.admin.google_project_token().await.expect("project token").access_token
    }

    /// Creates a subscriber and returns the operation.
    pub async fn create_subscriber(
        &self,
        token: &str,
        id: &str,
        endpoint: &str,
        policy: &str,
    ) -> (u16, Value) {
        let body = json!({
            "endpointUri": endpoint,
            "subscriberConfigs": [{"dataTypes": ["steps"], "subscriptionCreatePolicy": policy}],
            "endpointAuthorization": {"secret": ENDPOINT_SECRET},
        });
        let project = &self.config.google_project;
        let path = format!("/v4/projects/{project}/subscribers?subscriberId={id}");
        self.google_send(reqwest::Method::POST, &path, token, Some(body)).await
    }
}

/// One POST as the endpoint saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

impl Received {
    /// Google's `{"type": "verification"}` handshake request.
    pub fn is_verification(&self) -> bool {
        serde_json::from_slice::<Value>(&self.body).is_ok_and(|body| body["type"] == "verification")
    }
}

/// How the endpoint answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// The handshake as Google expects (201 with the secret, 401 without, 403 with another),
    /// notifications 204.
    Correct,
    /// This status to everything.
    Always(u16),
}

pub struct Endpoint {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub handle: actix_web::dev::ServerHandle,
}

impl Endpoint {
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn notifications(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| !r.is_verification()).collect()
    }

    pub fn clear(&self) {
        self.received.lock().unwrap().clear();
    }
}

/// A webhook endpoint playing a Google subscriber, on a free port.
pub async fn spawn_endpoint(behaviour: Behaviour) -> Endpoint {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let shared = web::Data::new(received.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(shared.clone()).route(
            "/webhooks/google",
            web::post().to(
                move |req: HttpRequest,
                      body: web::Bytes,
                      seen: web::Data<Arc<Mutex<Vec<Received>>>>| async move {
                    let header = |name: &str| {
                        req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
                    };
                    let received = Received {
                        content_type: header("content-type"),
                        authorization: header("authorization"),
                        signature: header("x-healthapi-signature"),
                        body: body.to_vec(),
                    };
                    let status = match (behaviour, received.authorization.as_deref()) {
                        (Behaviour::Always(status), _) => status,
                        (Behaviour::Correct, _) if !received.is_verification() => 204,
                        (Behaviour::Correct, None) => 401,
                        (Behaviour::Correct, Some(ENDPOINT_SECRET)) => 201,
                        (Behaviour::Correct, Some(_)) => 403,
                    };
                    seen.lock().unwrap().push(received);
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .finish()
                },
            ),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Endpoint { url: format!("http://127.0.0.1:{port}/webhooks/google"), received, handle }
}
