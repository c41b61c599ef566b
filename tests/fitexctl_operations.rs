//! `fitexctl` as operators run it: dead letters listed and replayed exactly once, a participant
//! shown without their tokens, a backfill scheduled.

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_connections::store::{self, TokenKind};
use fitex_e2e::{config_dir, connect_simulated_fitbit_user, service_binary, test_token_cipher};
use fitex_proto::{ActivityDayChanged, DeadLetter, Message, Provider, ProviderNotification};
use fitex_provider::TokenGrant;
use secrecy::SecretString;
use uuid::Uuid;

struct Ctl {
    env: Vec<(String, String)>,
}

impl Ctl {
    fn run(&self, args: &[&str]) -> (bool, String) {
        let output = Command::new(service_binary("fitexctl"))
            .args(args)
            .env("FITEX_CONFIG_DIR", config_dir())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run fitexctl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    }
}

#[tokio::test]
async fn dead_letters_are_listed_and_replayed_once() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let ctl = Ctl {
        env: vec![
            ("FITEX__KAFKA__BROKERS".into(), kafka.brokers.clone()),
            ("FITEX__KAFKA__TOPICS__NOTIFICATIONS".into(), kafka.topics.notifications.clone()),
            ("FITEX__KAFKA__TOPICS__FETCH_RETRIES".into(), kafka.topics.fetch_retries.clone()),
            ("FITEX__KAFKA__TOPICS__DEAD_LETTERS".into(), kafka.topics.dead_letters.clone()),
            ("FITEX__DATABASE__DATABASE_NAME".into(), database.database_name.clone()),
        ],
    };
    let original = ProviderNotification {
        event_id: Uuid::now_v7().to_string(),
        provider: Provider::Fitbit as i32,
        collection_type: "activities".into(),
        owner_id: "DLQ001".into(),
        date: "2026-11-20".into(),
        ..Default::default()
    };
    let letter = DeadLetter {
        event_id: original.event_id.clone(),
        source_topic: kafka.topics.fetch_retries.clone(),
        payload: original.encode_to_vec(),
        headers: [
            ("event_id".to_string(), original.event_id.clone()),
            ("attempt".to_string(), "4".to_string()),
        ]
        .into_iter()
        .collect(),
        reason: "gave up after 5 attempts: provider unavailable: HTTP 503".into(),
        attempts: 5,
        dead_lettered_at: None,
    };
    let producer = kafka.recovering_producer("test").unwrap();
    let record = OutgoingRecord {
        event_id: Uuid::now_v7(),
        topic: kafka.topics.dead_letters.clone(),
        key: "DLQ001".into(),
        payload: letter.encode_to_vec(),
        headers: vec![("event_id".into(), original.event_id.clone())],
    };
    assert!(outbox::send_all(&producer, &[record], Duration::from_secs(10)).await.is_empty());

    let (ok, listed) = ctl.run(&["dlq", "list"]);
    assert!(ok, "{listed}");
    assert!(listed.contains(&original.event_id) && listed.contains("HTTP 503"), "{listed}");

    let (ok, replayed) = ctl.run(&["dlq", "replay"]);
    assert!(ok, "{replayed}");
    assert!(replayed.contains("replayed 1 dead letter(s); 0 already"), "{replayed}");
    let (ok, again) = ctl.run(&["dlq", "replay"]);
    assert!(ok, "{again}");
    assert!(again.contains("replayed 0 dead letter(s); 1 already"), "{again}");

    let (brokers, topic) = (kafka.brokers.clone(), kafka.topics.notifications.clone());
    let records = tokio::task::spawn_blocking(move || {
        fitex_testkit::read_records(&brokers, &topic, 2, Duration::from_secs(5))
    })
    .await
    .unwrap();
    assert_eq!(records.len(), 1, "replayed once, back on the notifications topic");
    assert_eq!(ProviderNotification::decode(records[0].payload.as_slice()).unwrap(), original);
    assert!(!records[0].headers.contains_key("attempt"), "a fresh attempt count");
}

/// The goals service never skips an activity event it cannot process: it dead-letters it with
/// the reason, and `fitexctl dlq list|replay` work for its letters as for the fetcher's.
#[tokio::test]
async fn the_goals_services_unprocessable_events_are_dead_lettered_listed_and_replayed() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let env = fitex_e2e::infrastructure_env(&kafka, &database);
    let ctl = Ctl { env: env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect() };
    let port = fitex_testkit::free_port();
    let mut goals_env = env.clone();
    goals_env.push(("FITEX__GOALS__PORT", port.to_string()));
    let goals = fitex_e2e::ServiceProcess::start("fitex-goals", &goals_env);
    goals.wait_healthy(&format!("http://127.0.0.1:{port}/healthz")).await;

    let bad_date = ActivityDayChanged {
        event_id: Uuid::now_v7().to_string(),
        participant_id: 43,
        date: "2026-13-45".into(),
        ..Default::default()
    };
    let producer = kafka.recovering_producer("test").unwrap();
    let record = |key: &str, payload: Vec<u8>, event_id: String| OutgoingRecord {
        event_id: Uuid::now_v7(),
        topic: kafka.topics.activity_days.clone(),
        key: key.into(),
        payload,
        headers: vec![("event_id".into(), event_id)],
    };
    let records = [
        record("42", vec![0xff, 0xff, 0xff, 0xff], "undecodable-1".into()),
        record("43", bad_date.encode_to_vec(), bad_date.event_id.clone()),
    ];
    assert!(outbox::send_all(&producer, &records, Duration::from_secs(10)).await.is_empty());

    let letters = |expected: usize| {
        let (brokers, topic) = (kafka.brokers.clone(), kafka.topics.dead_letters.clone());
        tokio::task::spawn_blocking(move || {
            fitex_testkit::read_records(&brokers, &topic, expected, Duration::from_secs(30))
        })
    };
    let dead = letters(2).await.unwrap();
    assert_eq!(dead.len(), 2, "both dead-lettered:\n{}", goals.logs());
    let reasons: Vec<(String, String)> = dead
        .iter()
        .map(|r| {
            let letter = DeadLetter::decode(r.payload.as_slice()).unwrap();
            (letter.source_topic, letter.reason)
        })
        .collect();
    assert!(reasons.iter().all(|(source, _)| *source == kafka.topics.activity_days), "{reasons:?}");
    assert!(reasons.iter().any(|(_, why)| why.starts_with("undecodable activity event")));
    assert!(reasons.iter().any(|(_, why)| why.contains("unreadable date \"2026-13-45\"")));
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"fitex_goals_dead_lettered_total{reason="unreadable_date"} 1"#),
        "{metrics}"
    );

    let (ok, listed) = ctl.run(&["dlq", "list"]);
    assert!(ok, "{listed}");
    assert!(listed.contains(&bad_date.event_id) && listed.contains("undecodable-1"), "{listed}");
    assert!(listed.contains(&format!("from={}", kafka.topics.activity_days)), "{listed}");
    let (ok, replayed) = ctl.run(&["dlq", "replay"]);
    assert!(ok, "{replayed}");
    assert!(replayed.contains("replayed 2 dead letter(s); 0 already"), "{replayed}");
    // Back on the activity topic, the goals service reads them again — and, as they are still
    // unprocessable, dead-letters them again rather than dropping them.
    // (Read with `dlq list`: the replays keep their event ids, which a deduplicating reader drops.)
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, listed) = ctl.run(&["dlq", "list"]);
        let count = listed.lines().filter(|l| l.contains(" from=")).count();
        if count == 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{count} letters:\n{listed}\n{}",
            goals.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_participant_is_shown_without_tokens_and_a_backfill_is_scheduled() {
    let (database, pool) = fitex_testkit::test_database().await;
    let ctl = Ctl {
        env: vec![("FITEX__DATABASE__DATABASE_NAME".into(), database.database_name.clone())],
    };
    let cipher = test_token_cipher();
    let secret_token = "access-token-that-must-never-be-printed";
    let grant = TokenGrant {
        access_token: SecretString::from(secret_token),
        refresh_token: Some(SecretString::from("refresh-token-that-must-never-be-printed")),
        expires_at: Utc::now() + chrono::Duration::hours(8),
        scopes: "activity".into(),
        user_id: "SHOW01".into(),
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

    let (ok, shown) = ctl.run(&["users", "show", "--user", "SHOW01"]);
    assert!(ok, "{shown}");
    assert!(shown.contains("status           active"), "{shown}");
    assert!(shown.contains("authorization_code"), "{shown}");
    assert!(!shown.contains("never-be-printed"), "tokens printed: {shown}");
    let (ok, missing) = ctl.run(&["users", "show", "--user", "NOBODY"]);
    assert!(!ok && missing.contains("no participant"), "{missing}");

    let (ok, scheduled) = ctl.run(&["backfill", "--user", "SHOW01", "--days", "5", "--no-wait"]);
    assert!(ok, "{scheduled}");
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pending_fetches WHERE connection_id = $1 AND reason = 'backfill'",
    )
    .bind(connection)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(pending, 5);
    let (ok, refused) = ctl.run(&["backfill", "--days", "5"]);
    assert!(!ok && refused.contains("--user"), "{refused}");
}

#[tokio::test]
async fn subscriptions_are_created_listed_and_deleted_at_the_provider() {
    let sim = fitex_provider_simulator::Simulator::spawn(Default::default()).await.unwrap();
    let (database, pool) = fitex_testkit::test_database().await;
    let ctl = Ctl {
        env: vec![
            ("FITEX__DATABASE__DATABASE_NAME".into(), database.database_name.clone()),
            ("FITEX__FITBIT_API__API_BASE_URL".into(), sim.base_url()),
            ("FITEX__FITBIT_API__TOKEN_URL".into(), format!("{}/oauth2/token", sim.base_url())),
            ("FITEX__FITBIT_API__CLIENT_ID".into(), "SIMCLIENT".into()),
            ("FITEX__FITBIT_API__CLIENT_SECRET".into(), "sim-client-secret".into()),
        ],
    };
    let user = fitex_provider_simulator::CreateUser {
        user_id: Some("SUBS01".into()),
        ..Default::default()
    };
    connect_simulated_fitbit_user(&pool, &sim.client(), &test_token_cipher(), user).await;

    let (ok, created) =
        ctl.run(&["subscriptions", "create", "--user", "SUBS01", "--collection", "activities"]);
    assert!(ok && created.contains("SUBS01-activities Created"), "{created}");
    let (ok, again) =
        ctl.run(&["subscriptions", "create", "--user", "SUBS01", "--collection", "activities"]);
    assert!(ok && again.contains("AlreadyExisted"), "{again}");
    let (ok, listed) = ctl.run(&["subscriptions", "list", "--user", "SUBS01"]);
    assert!(ok && listed.contains("SUBS01-activities (activities"), "{listed}");
    let (ok, deleted) =
        ctl.run(&["subscriptions", "delete", "--user", "SUBS01", "--collection", "activities"]);
    assert!(ok && deleted.contains("deleted"), "{deleted}");
    let (ok, empty) = ctl.run(&["subscriptions", "list", "--user", "SUBS01"]);
    assert!(ok && empty.contains("no subscriptions"), "{empty}");
    sim.stop().await;
}

#[tokio::test]
async fn staff_tokens_are_issued_once_listed_without_secrets_and_revoked() {
    let (database, _) = fitex_testkit::test_database().await;
    let ctl = Ctl {
        env: vec![("FITEX__DATABASE__DATABASE_NAME".into(), database.database_name.clone())],
    };
    let (ok, issued) = ctl.run(&["tokens", "issue", "--name", "coordinator", "--scope", "admin"]);
    assert!(ok, "{issued}");
    let token = issued
        .split_whitespace()
        .find(|w| w.starts_with("fxs_"))
        .expect("token printed once")
        .to_string();
    let (ok, listed) = ctl.run(&["tokens", "list"]);
    assert!(
        ok && listed.contains("coordinator")
            && listed.contains("admin")
            && !listed.contains(&token),
        "{listed}"
    );
    let (ok, issued) =
        ctl.run(&["tokens", "issue", "--name", "coach-app", "--scope", "participant"]);
    assert!(ok && issued.contains("coach-app (participant): fxs_"), "{issued}");
    let (ok, listed) = ctl.run(&["tokens", "list"]);
    assert!(ok && listed.lines().any(|l| l.contains("coach-app") && l.contains("participant")));
    let (ok, bad) = ctl.run(&["tokens", "issue", "--name", "x", "--scope", "root"]);
    assert!(!ok && bad.contains("read, participant or admin"), "{bad}");
    let (ok, revoked) = ctl.run(&["tokens", "revoke", "--name", "coordinator"]);
    assert!(ok && revoked.contains("revoked"), "{revoked}");
    let (ok, again) = ctl.run(&["tokens", "revoke", "--name", "coordinator"]);
    assert!(!ok && again.contains("no active token"), "{again}");
}

#[tokio::test]
async fn a_team_is_filled_in_one_command_and_an_unknown_user_adds_nobody() {
    let (database, pool) = fitex_testkit::test_database().await;
    let ctl = Ctl {
        env: vec![("FITEX__DATABASE__DATABASE_NAME".into(), database.database_name.clone())],
    };
    let cipher = test_token_cipher();
    for user in ["TEAM01", "TEAM02", "TEAM03"] {
        let grant = TokenGrant {
            access_token: SecretString::from("access"),
            refresh_token: Some(SecretString::from("refresh")),
            expires_at: Utc::now() + chrono::Duration::hours(8),
            scopes: "activity".into(),
            user_id: user.into(),
        };
        let new = store::NewConnection {
            provider: fitex_provider::ProviderId::Fitbit,
            kind: TokenKind::AuthorizationCode,
            grant: &grant,
            backfill: &[],
            legacy: None,
        };
        store::connect(&pool, &cipher, new).await.unwrap();
    }
    let (ok, program) =
        ctl.run(&["programs", "create", "--name", "Team season", "--started-days-ago", "3"]);
    assert!(ok, "{program}");
    let program = program.split_whitespace().nth(1).unwrap().to_owned();
    let (ok, team) = ctl.run(&["teams", "create", "--program", &program, "--name", "Elk"]);
    assert!(ok, "{team}");
    let team = team.split_whitespace().nth(1).unwrap().to_owned();
    let members = || async {
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM team_members").fetch_one(&pool).await.unwrap();
        count
    };

    let add = |users: &[&str]| {
        let mut args = vec!["teams", "add", "--team", team.as_str()];
        for user in users {
            args.extend(["--user", user]);
        }
        ctl.run(&args)
    };
    let (ok, refused) = add(&["TEAM01", "NOBODY", "TEAM02"]);
    assert!(!ok && refused.contains("NOBODY"), "{refused}");
    assert_eq!(members().await, 0, "an unknown user adds nobody");

    let (ok, added) = add(&["TEAM01", "TEAM02", "TEAM03"]);
    assert!(ok, "{added}");
    assert_eq!(added.lines().count(), 3, "a line per member: {added}");
    assert_eq!(members().await, 3);
    let (ok, none) = ctl.run(&["teams", "add", "--team", &team]);
    assert!(!ok && none.contains("--user"), "{none}");
}
