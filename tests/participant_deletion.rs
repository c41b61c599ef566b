//! Deleting a participant deletes them everywhere, through the real services, broker and
//! PostgreSQL: on Fitbit's `deleteUser` notification and with `fitexctl users delete`, their
//! tokens, days, pending fetches, unpublished events, goals and team membership go; their team's
//! progress is recomputed without them and published; tombstones keyed by them go out on the
//! activity and goals topics so downstream consumers can forget them too.

use std::time::Duration;

use chrono::Utc;
use fitex_e2e::{
    connect_simulated_fitbit_user, eventually, infrastructure_env, simulated_day,
    simulated_fitbit_api_env, test_token_cipher, Fitexctl, PipelineProcesses,
};
use fitex_proto::{Message, TeamProgressChanged};
use fitex_provider_simulator::{CreateUser, Notification, Simulator, SimulatorConfig};
use sqlx::PgPool;

/// Rows that still name the participant, table by table (all must reach 0); `keyed_topics` are
/// the topics whose records are keyed by participant.
async fn traces_of(
    pool: &PgPool,
    participant: i64,
    keyed_topics: &[String],
) -> Vec<(&'static str, i64)> {
    let mut found = Vec::new();
    for (table, sql) in [
        ("participants", "SELECT count(*) FROM participants WHERE id = $1"),
        ("provider_connections", "SELECT count(*) FROM provider_connections WHERE participant_id = $1"),
        ("activity_days", "SELECT count(*) FROM activity_days WHERE participant_id = $1"),
        ("goal_history", "SELECT count(*) FROM goal_history WHERE participant_id = $1"),
        ("team_members", "SELECT count(*) FROM team_members WHERE participant_id = $1"),
        (
            "kafka_outbox",
            "SELECT count(*) FROM kafka_outbox WHERE record_key = $1::bigint::text AND topic = ANY($2)",
        ),
    ] {
        let count: i64 =
        {
            let query = sqlx::query_scalar(sql).bind(participant);
            let query = if sql.contains("$2") { query.bind(keyed_topics) } else { query };
            query.fetch_one(pool).await.unwrap()
        };
        found.push((table, count));
    }
    found
}

/// Tokens stored anywhere for the participant's provider accounts (pending fetches go with them).
async fn tokens_left(pool: &PgPool, provider_user: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM provider_connections
         WHERE provider_user_id = $1 AND (access_token IS NOT NULL OR refresh_token IS NOT NULL)",
    )
    .bind(provider_user)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn members_this_week(pool: &PgPool, team: i64) -> Option<i32> {
    sqlx::query_scalar(
        "SELECT members FROM team_progress WHERE team_id = $1 ORDER BY week DESC LIMIT 1",
    )
    .bind(team)
    .fetch_optional(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_deleted_participant_is_deleted_everywhere_and_their_team_recomputed() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let subscriber_port = fitex_testkit::free_port();
    let webhook_secret = "e2e-deletion-client-secret-0123456789";
    let sim = Simulator::spawn(SimulatorConfig {
        client_secret: webhook_secret.into(),
        subscriber_url: Some(format!("http://127.0.0.1:{subscriber_port}/webhooks/fitbit")),
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();
    let mut common = infrastructure_env(&kafka, &database);
    // Fitbit's client secret both signs the webhooks and authenticates token refreshes.
    common.extend(simulated_fitbit_api_env(&sim.base_url(), webhook_secret));
    let services = PipelineProcesses::start(
        &common,
        &kafka,
        subscriber_port,
        webhook_secret,
        vec![
            // Deleted participants are purged a second after their deletion (7 days by default).
            ("FITEX__FETCHER__PURGE_AFTER_S", "1".to_string()),
            ("FITEX__FETCHER__PURGE_CHECK_S", "1".to_string()),
        ],
    )
    .await;
    let logs = || services.logs();
    let ctl = Fitexctl { env: common.clone() };
    let keyed = [kafka.topics.activity_days.clone(), kafka.topics.goals.clone()];

    // Two team mates with a week of days and goals.
    let (ok, program) = ctl.run(
        &[
            "programs",
            "create",
            "--name",
            "Deletion season",
            "--started-days-ago",
            "10",
            "--unit",
            "steps",
        ],
        None,
    );
    assert!(ok, "{program}");
    let program = program.split_whitespace().nth(1).unwrap().to_owned();
    let (ok, team) = ctl.run(&["teams", "create", "--program", &program, "--name", "Elk"], None);
    assert!(ok, "{team}");
    let team_id: i64 = team.split_whitespace().nth(1).unwrap().parse().unwrap();
    let today = Utc::now().date_naive();
    let from = (today - chrono::Duration::days(10)).to_string();
    let mut participants = Vec::new();
    for user in ["DEL001", "DEL002"] {
        let create = CreateUser { user_id: Some(user.into()), ..CreateUser::default() };
        let connection =
            connect_simulated_fitbit_user(&pool, &sim.client(), &test_token_cipher(), create).await;
        participants.push(connection.participant_id);
        let (ok, added) = ctl.run(
            &["teams", "add", "--team", &team_id.to_string(), "--user", user, "--from", &from],
            None,
        );
        assert!(ok, "{added}");
        for back in 0..7 {
            let date = today - chrono::Duration::days(back);
            sim.client()
                .set_day(user, date, simulated_day(7_000 + 100 * back as u32))
                .await
                .unwrap();
        }
    }
    let (leaver, stayer) = (participants[0], participants[1]);
    eventually("days, goals and team progress", Duration::from_secs(60), logs, || async {
        let goals: i64 =
            sqlx::query_scalar("SELECT count(*) FROM goal_history WHERE participant_id = ANY($1)")
                .bind(&participants)
                .fetch_one(&pool)
                .await
                .unwrap();
        let days: i64 =
            sqlx::query_scalar("SELECT count(*) FROM activity_days WHERE participant_id = ANY($1)")
                .bind(&participants)
                .fetch_one(&pool)
                .await
                .unwrap();
        days == 14 && goals >= 20 && members_this_week(&pool, team_id).await == Some(2)
    })
    .await;
    let stayer_days_before = traces_of(&pool, stayer, &keyed).await;

    // The first one deletes their Fitbit account: Fitbit refuses our grant from then on (which
    // is how the notice below is confirmed; a notice alone is not believed), and tells us.
    sim.client().revoke("DEL001").await.unwrap();
    let deleted = Notification {
        collection_type: "deleteUser".into(),
        date: None,
        owner_id: "DEL001".into(),
        owner_type: "user".into(),
        subscription_id: "DEL001-all".into(),
    };
    let deliveries = sim.client().push_notifications(vec![deleted], 0).await.unwrap();
    assert!(deliveries.iter().all(|d| d.status == Some(204)), "{deliveries:?}");
    eventually("the participant deleted everywhere", Duration::from_secs(60), logs, || async {
        traces_of(&pool, leaver, &keyed).await.iter().all(|(_, count)| *count == 0)
    })
    .await;
    assert_eq!(tokens_left(&pool, "DEL001").await, 0, "no token left");
    eventually("the team recomputed without them", Duration::from_secs(30), logs, || async {
        members_this_week(&pool, team_id).await == Some(1)
    })
    .await;
    assert_eq!(
        traces_of(&pool, stayer, &keyed).await,
        stayer_days_before,
        "the team mate is untouched"
    );

    // Downstream consumers are told: a tombstone keyed by the participant on both topics, and the
    // team's new progress.
    let key = leaver.to_string();
    let tombstones_on = |topic: String| {
        let (brokers, key) = (kafka.brokers.clone(), key.clone());
        async move {
            fitex_testkit::read_records_async(&brokers, &topic, 1_000, Duration::from_secs(5))
                .await
                .into_iter()
                .filter(|r| r.key.as_deref() == Some(key.as_str()) && r.payload.is_empty())
                .count()
        }
    };
    assert_eq!(tombstones_on(kafka.topics.activity_days.clone()).await, 1, "activity tombstone");
    assert_eq!(tombstones_on(kafka.topics.goals.clone()).await, 1, "goals tombstone");
    let team_events = fitex_testkit::read_records_async(
        &kafka.brokers,
        &kafka.topics.team_progress,
        1_000,
        Duration::from_secs(5),
    )
    .await;
    let last = team_events
        .iter()
        .map(|r| TeamProgressChanged::decode(r.payload.as_slice()).unwrap())
        .filter(|e| e.team_id == team_id)
        .max_by_key(|e| (e.week, e.computed_at.map(|t| (t.seconds, t.nanos))))
        .expect("team progress events");
    assert_eq!(last.members, 1, "the published team progress no longer counts them");

    // An operator deletes the other one with fitexctl: refused without --yes; with it, hidden
    // and restorable until the purge; with --now, purged at once.
    let (ok, refused) = ctl.run(&["users", "delete", "--user", "DEL002"], None);
    assert!(!ok && refused.contains("--yes"), "{refused}");
    assert_eq!(
        traces_of(&pool, stayer, &keyed).await,
        stayer_days_before,
        "nothing deleted without --yes"
    );
    let (ok, soft) = ctl.run(&["users", "delete", "--user", "DEL002", "--yes"], None);
    assert!(ok && soft.contains("users restore"), "{soft}");
    let (ok, listed) = ctl.run(&["users", "list"], None);
    assert!(ok && listed.contains("deleted: purged everywhere on"), "{listed}");
    let (ok, restored) = ctl.run(&["users", "restore", "--participant", &stayer.to_string()], None);
    assert!(ok && restored.contains("restored"), "{restored}");
    let hidden: bool =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM participants WHERE id = $1")
            .bind(stayer)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!hidden, "restored with their history");
    let (ok, done) =
        ctl.run(&["users", "delete", "--participant", &stayer.to_string(), "--yes", "--now"], None);
    assert!(ok && done.contains("deleted"), "{done}");
    eventually(
        "the second participant deleted everywhere",
        Duration::from_secs(60),
        logs,
        || async { traces_of(&pool, stayer, &keyed).await.iter().all(|(_, count)| *count == 0) },
    )
    .await;
    assert_eq!(tokens_left(&pool, "DEL002").await, 0);
    let (ok, again) =
        ctl.run(&["users", "delete", "--participant", &stayer.to_string(), "--yes", "--now"], None);
    assert!(!ok && again.contains("no participant"), "{again}");
}
