use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fitex_fitbit_simulator::{
    CreateUser, Simulator, SimulatorClient, SimulatorConfig, SimulatorHandle,
};
use fitex_portal::{Application, Settings};
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use secrecy::SecretString;
use sqlx::PgPool;

#[allow(dead_code)] // kept so the server runs for the whole test
pub struct TestPortal {
    pub base: String,
    pub pool: PgPool,
    pub sim: SimulatorHandle,
    /// Keeps cookies, follows no redirects.
    pub client: reqwest::Client,
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

pub async fn spawn_portal() -> TestPortal {
    spawn_portal_with(true).await
}

/// As a participant's browser on this machine sees it: plain HTTP, so cookies without `Secure`.
pub async fn spawn_portal_plain_http() -> TestPortal {
    spawn_portal_with(false).await
}

async fn spawn_portal_with(cookie_secure: bool) -> TestPortal {
    let sim = Simulator::spawn(SimulatorConfig::default()).await.expect("simulator");
    let (database, pool) = fitex_testkit::test_database().await;
    let dir = fitex_common::config::config_dir().expect("config dir");
    let mut settings = Settings::load_from(&dir, "test").expect("load config");
    settings.base.database = database;
    settings.base.fitbit_api.api_base_url = sim.base_url();
    settings.base.fitbit_api.token_url = format!("{}/oauth2/token", sim.base_url());
    settings.base.fitbit_api.client_id = "SIMCLIENT".into();
    settings.base.fitbit_api.client_secret = SecretString::from("sim-client-secret");
    let port = fitex_testkit::free_port();
    settings.portal.port = port;
    settings.portal.public_base_url = format!("http://127.0.0.1:{port}");
    settings.portal.authorize_url = format!("{}/oauth2/authorize", sim.base_url());
    let key: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
    settings.portal.session_key = Some(SecretString::from(STANDARD.encode(key)));
    // The production posture is cookies only over HTTPS (config/base.toml relaxes it for local HTTP).
    settings.portal.cookie_secure = cookie_secure;
    let app = Application::build(settings).await.expect("build the portal");
    let handle = app.handle();
    let stopped = tokio::spawn(app.run_until_stopped());
    TestPortal {
        base: format!("http://127.0.0.1:{port}"),
        pool,
        sim,
        client: browser(),
        handle,
        stopped,
    }
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

    /// (connection id, participant id, token kind, sync status) of a provider user.
    pub async fn connection(&self, user: &str) -> (i64, i64, Option<String>, String) {
        sqlx::query_as(
            "SELECT id, participant_id, token_kind, sync_status FROM provider_connections
             WHERE provider = 'fitbit' AND provider_user_id = $1",
        )
        .bind(user)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }
}
