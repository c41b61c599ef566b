use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use fitex_provider_simulator::{
    CreateUser, Simulator, SimulatorClient, SimulatorConfig, SimulatorHandle, UserTokens,
};
use serde_json::Value;

pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

pub struct TestSim {
    pub sim: SimulatorHandle,
    pub admin: SimulatorClient,
    /// Does not follow redirects, so tests see the authorize endpoint's 302.
    pub http: reqwest::Client,
    pub config: SimulatorConfig,
}

pub async fn spawn_sim() -> TestSim {
    spawn_with(SimulatorConfig::default()).await
}

pub async fn spawn_with(config: SimulatorConfig) -> TestSim {
    let sim = Simulator::spawn(config.clone()).await.expect("start the simulator");
    let admin = sim.client();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    TestSim { sim, admin, http, config }
}

/// A user with every default scope (activity, heartrate, profile, settings, sleep).
pub fn user(id: &str) -> CreateUser {
    CreateUser { user_id: Some(id.to_string()), ..CreateUser::default() }
}

impl TestSim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    pub async fn create(&self, id: &str) -> UserTokens {
        self.admin.create_user(user(id)).await.expect("create user")
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.expect("GET")
    }

    pub async fn get_json(&self, path: &str, token: &str) -> (u16, Value) {
        let response = self.get(path, token).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub fn basic_auth(&self) -> String {
        let pair = format!("{}:{}", self.config.client_id, self.config.client_secret);
        format!("Basic {}", BASE64.encode(pair))
    }

    /// `POST /oauth2/token` with the client's credentials.
    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/oauth2/token"))
            .header("Authorization", self.basic_auth())
            .form(form)
            .send()
            .await
            .expect("POST token");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }
}

pub fn error_type(body: &Value) -> &str {
    body["errors"][0]["errorType"].as_str().unwrap_or("<none>")
}

pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("<missing>")
}
