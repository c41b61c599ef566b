//! The pipeline so far, as deployed: the simulator pushes signed notifications to the real
//! subscriber binary, which publishes to the broker; the real fetcher binary fetches from the
//! simulator and stores the days in PostgreSQL, publishing an activity event per changed day.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use fitex_common::token_cipher::TokenCipher;
use fitex_connections::store::{self, TokenKind};
use fitex_e2e::{simulated_day, simulated_fitbit_api_env, ServiceProcess};
use fitex_proto::{ActivityDayChanged, Message};
use fitex_provider::TokenGrant;
use fitex_provider_simulator::{CreateUser, Notification, Simulator, SimulatorConfig};
use secrecy::SecretString;

#[tokio::test]
async fn simulator_to_subscriber_to_fetcher_to_postgres() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let subscriber_port = fitex_testkit::free_port();
    let fetcher_port = fitex_testkit::free_port();
    let webhook_secret = "pipeline-client-secret-0123456789";
    let sim = Simulator::spawn(SimulatorConfig {
        client_secret: webhook_secret.into(),
        subscriber_url: Some(format!("http://127.0.0.1:{subscriber_port}/webhooks/fitbit")),
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();

    let common = vec![
        ("FITEX__KAFKA__BROKERS", kafka.brokers.clone()),
        ("FITEX__KAFKA__TOPICS__NOTIFICATIONS", kafka.topics.notifications.clone()),
        ("FITEX__KAFKA__TOPICS__FETCH_RETRIES", kafka.topics.fetch_retries.clone()),
        ("FITEX__KAFKA__TOPICS__DEAD_LETTERS", kafka.topics.dead_letters.clone()),
        ("FITEX__KAFKA__TOPICS__ACTIVITY_DAYS", kafka.topics.activity_days.clone()),
        ("FITEX__DATABASE__DATABASE_NAME", database.database_name.clone()),
    ];
    let mut subscriber_env = common.clone();
    subscriber_env.push(("FITEX__SUBSCRIBER__PORT", subscriber_port.to_string()));
    subscriber_env.push(("FITEX__FITBIT__CLIENT_SECRETS", webhook_secret.to_string()));
    let mut fetcher_env = common.clone();
    fetcher_env.extend([
        ("FITEX__FETCHER__PORT", fetcher_port.to_string()),
        ("FITEX__FETCHER__GROUP_ID", format!("e2e-{}", kafka.topics.notifications)),
    ]);
    fetcher_env.extend(simulated_fitbit_api_env(&sim.base_url(), "sim-client-secret"));
    let subscriber = ServiceProcess::start("fitex-subscriber", &subscriber_env);
    let fetcher = ServiceProcess::start("fitex-fetcher", &fetcher_env);
    subscriber.wait_healthy(&format!("http://127.0.0.1:{subscriber_port}/readyz")).await;
    fetcher.wait_healthy(&format!("http://127.0.0.1:{fetcher_port}/readyz")).await;

    // A participant connected with the fetcher's own key ring (config/base.toml's dev key).
    let settings: fitex_connections::ConnectionsSettings =
        fitex_common::config::load_from(std::path::Path::new(fitex_e2e::config_dir()), "test")
            .unwrap();
    let cipher = TokenCipher::from_config(&settings.tokens.encryption_keys).unwrap();
    let tokens = sim
        .client()
        .create_user(CreateUser { user_id: Some("PIPE01".into()), ..CreateUser::default() })
        .await
        .unwrap();
    let grant = TokenGrant {
        access_token: SecretString::from(tokens.access_token),
        refresh_token: Some(SecretString::from(tokens.refresh_token)),
        expires_at: Utc::now() + chrono::Duration::hours(8),
        scopes: tokens.scope,
        user_id: "PIPE01".into(),
    };
    let connection = store::connect(
        &pool,
        &cipher,
        store::NewConnection {
            provider: fitex_provider::ProviderId::Fitbit,
            kind: TokenKind::AuthorizationCode,
            grant: &grant,
            backfill: &[],
            legacy: None,
        },
    )
    .await
    .unwrap()
    .id;
    let participant =
        store::connection_by_id(&pool, connection).await.unwrap().unwrap().participant_id;

    // A sync: the simulator changes two days and notifies; then a burst of duplicates.
    let days: Vec<NaiveDate> =
        ["2026-11-23", "2026-11-24"].iter().map(|d| d.parse().unwrap()).collect();
    for (date, steps) in days.iter().zip([6543, 9876]) {
        let deliveries = sim.client().set_day("PIPE01", *date, simulated_day(steps)).await.unwrap();
        assert!(
            deliveries.iter().all(|d| d.status == Some(204)),
            "subscriber accepted: {deliveries:?}"
        );
    }
    let duplicates = sim
        .client()
        .push_notifications(
            vec![Notification::activities("PIPE01", days[1], "PIPE01-activities")],
            4,
        )
        .await
        .unwrap();
    assert_eq!(duplicates.len(), 5);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored: Vec<(NaiveDate, i32)> = sqlx::query_as(
            "SELECT day, steps FROM activity_days WHERE participant_id = $1 ORDER BY day",
        )
        .bind(participant)
        .fetch_all(&pool)
        .await
        .unwrap();
        if stored == vec![(days[0], 6543), (days[1], 9876)] {
            break;
        }
        assert!(Instant::now() < deadline, "days not stored: {stored:?}\n{}", fetcher.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (brokers, topic) = (kafka.brokers.clone(), kafka.topics.activity_days.clone());
    let events = tokio::task::spawn_blocking(move || {
        fitex_testkit::read_records(&brokers, &topic, 3, Duration::from_secs(5))
    })
    .await
    .unwrap();
    let mut changed: Vec<(String, i32)> = events
        .iter()
        .map(|r| {
            let e = ActivityDayChanged::decode(r.payload.as_slice()).unwrap();
            (e.date, e.steps)
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        vec![("2026-11-23".to_string(), 6543), ("2026-11-24".to_string(), 9876)],
        "one event per changed day, none for the duplicates"
    );
    let stats = sim.client().stats().await.unwrap();
    let day_calls = stats.api_calls_by_endpoint.get("activities_day").copied().unwrap_or(0);
    assert!(
        day_calls <= 4,
        "seven notifications for two days cost {day_calls} daily-summary calls"
    );
    sim.stop().await;
}
