use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fitex_common::token_cipher::TokenCipher;
use fitex_connections::settings::GoogleHealthApiConfig;
use fitex_connections::store;
use fitex_google_health::oauth::{ACTIVITY_SCOPE, PROFILE_SCOPE, SETTINGS_SCOPE};
use fitex_portal::{Application, Settings};
use fitex_provider_simulator::{
    CreateUser, Simulator, SimulatorClient, SimulatorConfig, SimulatorHandle,
};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use secrecy::SecretString;
use sqlx::PgPool;

/// The simulator's default Google client.
pub const GOOGLE_CLIENT_ID: &str = "sim-google-client.apps.googleusercontent.com";

#[allow(dead_code, reason = "kept so the server runs for the whole test")]
pub struct TestPortal {
    pub base: String,
    pub pool: PgPool,
    pub sim: SimulatorHandle,
    /// Keeps cookies (in `jar`), follows no redirects.
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub handle: actix_web::dev::ServerHandle,
    pub stopped: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser whose cookies can be read (to copy them, as someone with access to it could).
pub fn browser_with_jar() -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, jar)
}

/// How a test portal is set up.
#[derive(Debug, Clone, Copy)]
pub struct PortalOptions {
    /// Cookies only over HTTPS (the production posture).
    pub cookie_secure: bool,
    /// Participants can connect through Google (the simulator's Google mode); without it the
    /// portal has no `[google_health_api]` and offers Fitbit only.
    pub google: bool,
}

impl Default for PortalOptions {
    fn default() -> Self {
        PortalOptions { cookie_secure: true, google: false }
    }
}

/// The Fitbit-only portal (no `[google_health_api]`).
pub async fn spawn_portal() -> TestPortal {
    spawn_portal_with(PortalOptions::default()).await
}

/// As a participant's browser on this machine sees it: plain HTTP, so cookies without `Secure`.
pub async fn spawn_portal_plain_http() -> TestPortal {
    spawn_portal_with(PortalOptions { cookie_secure: false, ..PortalOptions::default() }).await
}

/// The portal with Google configured (pointed at the simulator), as config/base.toml has it.
pub async fn spawn_portal_with_google() -> TestPortal {
    spawn_portal_with(PortalOptions { google: true, ..PortalOptions::default() }).await
}

/// The simulator's Google endpoints and its default Google client.
fn google_config(sim: &SimulatorHandle) -> GoogleHealthApiConfig {
    GoogleHealthApiConfig {
        api_base_url: sim.base_url(),
        authorize_url: format!("{}/google/o/oauth2/v2/auth", sim.base_url()),
        token_url: format!("{}/google/token", sim.base_url()),
        revoke_url: format!("{}/google/revoke", sim.base_url()),
        client_id: GOOGLE_CLIENT_ID.into(),
        client_secret: SecretString::from("sim-google-client-secret"),
        scopes: [ACTIVITY_SCOPE, SETTINGS_SCOPE, PROFILE_SCOPE].map(String::from).to_vec(),
        request_timeout: std::time::Duration::from_millis(10_000),
        requests_per_minute: std::num::NonZeroU32::new(300).unwrap(),
    }
}

pub async fn spawn_portal_with(options: PortalOptions) -> TestPortal {
    spawn_portal_adjusted(options, |_| {}).await
}

/// As [`spawn_portal_with`], with `adjust` applied to the settings last.
pub async fn spawn_portal_adjusted(
    options: PortalOptions,
    adjust: impl FnOnce(&mut Settings),
) -> TestPortal {
    let sim = Simulator::spawn(SimulatorConfig::default()).await.expect("simulator");
    let (database, pool) = fitex_testkit::test_database().await;
    let dir = fitex_common::config::config_dir().expect("config dir");
    let mut settings = Settings::load_from(&dir, "test").expect("load config");
    settings.base.database = database;
    settings.base.fitbit_api.api_base_url = sim.base_url();
    settings.base.fitbit_api.token_url = format!("{}/oauth2/token", sim.base_url());
    settings.base.fitbit_api.client_id = "SIMCLIENT".into();
    settings.base.fitbit_api.client_secret = SecretString::from("sim-client-secret");
    // Never Google's real endpoints from a test: the simulator's, or none.
    settings.base.google_health_api = options.google.then(|| google_config(&sim));
    let port = fitex_testkit::free_port();
    settings.portal.port = port;
    settings.portal.public_base_url = format!("http://127.0.0.1:{port}");
    settings.portal.authorize_url = format!("{}/oauth2/authorize", sim.base_url());
    let key: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
    settings.portal.session_key = Some(SecretString::from(STANDARD.encode(key)));
    // The production posture is cookies only over HTTPS (config/base.toml relaxes it for local HTTP).
    settings.portal.cookie_secure = options.cookie_secure;
    adjust(&mut settings);
    let app = Application::build(settings).await.expect("build the portal");
    let handle = app.handle();
    let stopped = tokio::spawn(app.run_until_stopped());
    let (client, jar) = browser_with_jar();
    TestPortal { base: format!("http://127.0.0.1:{port}"), pool, sim, client, jar, handle, stopped }
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location in a {} answer", response.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// The test configuration's token cipher (to read what the portal stored).
pub fn token_cipher() -> TokenCipher {
    let dir = fitex_common::config::config_dir().unwrap();
    let settings = Settings::load_from(&dir, "test").unwrap();
    TokenCipher::from_config(&settings.base.tokens.encryption_keys).unwrap()
}

/// The value of the page's hidden `csrf` field.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

impl TestPortal {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn sim(&self) -> SimulatorClient {
        self.sim.client()
    }

    /// `/connect/fitbit` → the simulator's consent (approved by `user`) → the callback URL.
    pub async fn consent(&self, user: &str) -> String {
        let start = self.client.get(self.url("/connect/fitbit")).send().await.unwrap();
        assert_eq!(start.status(), StatusCode::FOUND);
        let authorize = location(&start);
        let approved =
            self.client.get(format!("{authorize}&sim_user={user}")).send().await.unwrap();
        assert_eq!(approved.status(), StatusCode::FOUND, "{}", approved.text().await.unwrap());
        location(&approved)
    }

    /// The whole authorization-code flow; returns the callback's answer.
    pub async fn connect_with_oauth(&self, user: &str) -> reqwest::Response {
        let callback = self.consent(user).await;
        self.client.get(callback).send().await.unwrap()
    }

    /// `/connect/google` → the simulator's Google consent page, with `extra` query parameters
    /// (`sim_user=…`, `sim_deny=1`) → the callback URL it redirects to.
    pub async fn google_consent(&self, extra: &str) -> String {
        let start = self.client.get(self.url("/connect/google")).send().await.unwrap();
        assert_eq!(start.status(), StatusCode::FOUND);
        let authorize = location(&start);
        let approved = self.client.get(format!("{authorize}&{extra}")).send().await.unwrap();
        assert_eq!(approved.status(), StatusCode::FOUND, "{}", approved.text().await.unwrap());
        location(&approved)
    }

    /// Connects through Google approving as the simulator's `user`; returns the callback's answer.
    pub async fn connect_with_google(&self, user: &str) -> reqwest::Response {
        let callback = self.google_consent(&format!("sim_user={user}")).await;
        self.client.get(callback).send().await.unwrap()
    }

    /// Ends the session through the sign-out form.
    pub async fn sign_out(&self) {
        let (_, html) = self.get_text("/status").await;
        let csrf = csrf_in(&html);
        let out = self.client.post(self.url("/signout")).form(&[("csrf", csrf)]).send().await;
        assert_eq!(location(&out.unwrap()), "/");
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The home page's CSRF token (the session is made on the way).
    pub async fn csrf(&self) -> String {
        let (_, html) = self.get_text("/").await;
        csrf_in(&html)
    }

    pub async fn paste(&self, token: &str) -> reqwest::Response {
        let csrf = self.csrf().await;
        self.client
            .post(self.url("/token"))
            .form(&[("token", token), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap()
    }

    pub async fn create_sim_user(&self, user: &str, scopes: &[&str]) {
        self.sim()
            .create_user(CreateUser {
                user_id: Some(user.to_string()),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                ..CreateUser::default()
            })
            .await
            .expect("create simulator user");
    }

    /// (connection id, participant id, token kind, sync status) of a Fitbit user.
    pub async fn connection(&self, user: &str) -> (i64, i64, Option<String>, String) {
        self.connection_at("fitbit", user).await
    }

    /// (connection id, participant id, token kind, sync status) of a user at `provider`.
    pub async fn connection_at(
        &self,
        provider: &str,
        user: &str,
    ) -> (i64, i64, Option<String>, String) {
        let provider = provider.parse().expect("a provider this build knows");
        let found = store::find_connection(&self.pool, provider, user).await.unwrap();
        let c = found.unwrap_or_else(|| panic!("no {provider} connection of {user}"));
        (
            c.id,
            c.participant_id,
            c.token_kind.map(|k| k.as_str().into()),
            c.sync_status.as_str().into(),
        )
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

impl TestPortal {
    /// The `Cookie` header the test's browser sends now: what someone who copied it would hold.
    pub fn copied_cookie(&self) -> String {
        self.cookie_in(&self.jar)
    }

    /// The `Cookie` header a browser with `jar` sends to the portal now.
    pub fn cookie_in(&self, jar: &Jar) -> String {
        let cookies = jar.cookies(&self.base.parse().unwrap()).expect("a session cookie");
        cookies.to_str().unwrap().to_string()
    }

    /// Another browser holding only `cookie` (a copy of a session cookie).
    pub fn replaying(&self, cookie: &str) -> reqwest::Client {
        let (client, jar) = browser_with_jar();
        let url = self.base.parse().unwrap();
        for pair in cookie.split("; ") {
            jar.add_cookie_str(pair, &url);
        }
        client
    }

    /// The whole authorization-code flow in `browser`, approving as `user`; the callback's answer.
    pub async fn connect_in(&self, browser: &reqwest::Client, user: &str) -> reqwest::Response {
        let start = browser.get(self.url("/connect/fitbit")).send().await.unwrap();
        assert_eq!(start.status(), StatusCode::FOUND);
        let authorize = location(&start);
        let approved = browser.get(format!("{authorize}&sim_user={user}")).send().await.unwrap();
        assert_eq!(approved.status(), StatusCode::FOUND, "{}", approved.text().await.unwrap());
        browser.get(location(&approved)).send().await.unwrap()
    }

    /// `path` in `browser`: (status, `Location` or "", body).
    pub async fn get_in(
        &self,
        browser: &reqwest::Client,
        path: &str,
    ) -> (StatusCode, String, String) {
        let response = browser.get(self.url(path)).send().await.unwrap();
        let to = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_string());
        (response.status(), to.unwrap_or_default(), response.text().await.unwrap())
    }

    /// `host:port` for raw TCP clients.
    pub fn address(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    /// Any method, path, headers (any bytes) and body, with the session's cookies; the status.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, Vec<u8>)],
        body: Vec<u8>,
    ) -> StatusCode {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let request = with_raw_headers(self.client.request(method, self.url(path)), headers);
        request.body(body).send().await.expect("a response").status()
    }
}

pub use fitex_testkit::raw_http::{
    expect_idle_keep_alive_closed, expect_silent_closed, expect_timed_out, raw_send, raw_status,
    with_raw_headers, Headers,
};
