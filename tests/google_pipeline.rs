//! The Google Health path as deployed: `fitexctl google subscriber create` registers the real
//! subscriber binary with the (simulated) Google Health API using a service-account key, which
//! verifies the endpoint; a Fitbit-era participant with history and goals reconnects through
//! Google; Google's signed notifications then flow subscriber → broker → fetcher → PostgreSQL →
//! goals, for the same participant.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_e2e::{
    connect_simulated_fitbit_user, eventually, infrastructure_env, simulated_day,
    simulated_fitbit_api_env, test_token_cipher, Fitexctl, PipelineProcesses,
};
use fitex_provider_simulator::{CreateUser, DayRecord, Simulator, SimulatorConfig};

const ENDPOINT_SECRET: &str = "Bearer e2e-google-endpoint-secret";

#[tokio::test]
async fn a_fitbit_participant_moves_to_google_health_and_keeps_history_and_goals() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let subscriber_port = fitex_testkit::free_port();
    let webhook_secret = "e2e-fitbit-client-secret-0123456789";
    let sim = Simulator::spawn(SimulatorConfig {
        client_secret: webhook_secret.into(),
        subscriber_url: Some(format!("http://127.0.0.1:{subscriber_port}/webhooks/fitbit")),
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();
    let base = sim.base_url();
    let key_file = std::env::temp_dir().join(format!("fitex-e2e-sa-{}.json", std::process::id()));
    std::fs::write(&key_file, sim.client().google_service_account_json().await.unwrap()).unwrap();

    let mut common = infrastructure_env(&kafka, &database);
    common.extend([
        ("FITEX__GOOGLE_HEALTH__ENDPOINT_SECRETS", ENDPOINT_SECRET.to_string()),
        (
            "FITEX__GOOGLE_HEALTH__KEYSET_URL",
            format!("{base}/googlehealthapi/webhooks/webhooks_public_keyset.json"),
        ),
        ("FITEX__GOOGLE_HEALTH_API__API_BASE_URL", base.clone()),
        ("FITEX__GOOGLE_HEALTH_API__AUTHORIZE_URL", format!("{base}/google/o/oauth2/v2/auth")),
        ("FITEX__GOOGLE_HEALTH_API__TOKEN_URL", format!("{base}/google/token")),
        ("FITEX__GOOGLE_HEALTH_API__REVOKE_URL", format!("{base}/google/revoke")),
        (
            "FITEX__GOOGLE_HEALTH_API__CLIENT_ID",
            "sim-google-client.apps.googleusercontent.com".to_string(),
        ),
        ("FITEX__GOOGLE_HEALTH_API__CLIENT_SECRET", "sim-google-client-secret".to_string()),
    ]);
    common.extend(simulated_fitbit_api_env(&base, "sim-client-secret"));
    let services =
        PipelineProcesses::start(&common, &kafka, subscriber_port, webhook_secret, Vec::new())
            .await;
    let logs = || services.logs();
    let ctl = Fitexctl {
        env: common
            .iter()
            .cloned()
            .chain([("GOOGLE_APPLICATION_CREDENTIALS", key_file.display().to_string())])
            .collect(),
    };

    // The operator registers the webhook: Google verifies it against the real subscriber.
    let endpoint = format!("http://127.0.0.1:{subscriber_port}/webhooks/google-health");
    let (ok, created) = ctl.run(
        &["google", "subscriber", "create", "--id", "fitex-e2e", "--endpoint", &endpoint],
        None,
    );
    assert!(ok && created.contains("Google verified the endpoint"), "{created}");
    assert!(created.contains("ACTIVE") && created.contains("AUTOMATIC"), "{created}");
    assert!(!created.contains("e2e-google-endpoint-secret"), "the secret is never printed");
    // An endpoint that does not answer Google's verification is refused, and nothing is created.
    let wrong = format!("http://127.0.0.1:{subscriber_port}/webhooks/fitbit");
    let (ok, refused) = ctl.run(
        &["google", "subscriber", "create", "--id", "fitex-wrong", "--endpoint", &wrong],
        None,
    );
    assert!(!ok && refused.to_lowercase().contains("verification"), "{refused}");
    let (ok, listed) = ctl.run(&["google", "subscriber", "list"], None);
    assert!(ok && listed.contains("fitex-e2e") && !listed.contains("fitex-wrong"), "{listed}");
    let (ok, patched) =
        ctl.run(&["google", "subscriber", "patch", "--id", "fitex-e2e", "--secret"], None);
    assert!(ok && patched.contains("verified"), "{patched}");

    // A participant from the Fitbit era, in a season, with history and goals.
    let fitbit_id = "GMIG01";
    let user = CreateUser { user_id: Some(fitbit_id.into()), ..CreateUser::default() };
    let fitbit_connection =
        connect_simulated_fitbit_user(&pool, &sim.client(), &test_token_cipher(), user).await;
    let participant = fitbit_connection.participant_id;
    let (ok, program) = ctl.run(
        &[
            "programs",
            "create",
            "--name",
            "E2E season",
            "--started-days-ago",
            "10",
            "--unit",
            "steps",
        ],
        None,
    );
    assert!(ok, "{program}");
    let program = program.split_whitespace().nth(1).unwrap().to_owned();
    let (ok, team) =
        ctl.run(&["teams", "create", "--program", &program, "--name", "Blue Ridge"], None);
    assert!(ok, "{team}");
    let team = team.split_whitespace().nth(1).unwrap().to_owned();
    let from = (Utc::now().date_naive() - chrono::Duration::days(10)).to_string();
    let (ok, added) =
        ctl.run(&["teams", "add", "--team", &team, "--user", fitbit_id, "--from", &from], None);
    assert!(ok, "{added}");

    let today = Utc::now().date_naive();
    let fitbit_days: Vec<NaiveDate> =
        (3..=9).map(|back| today - chrono::Duration::days(back)).collect();
    for (i, date) in fitbit_days.iter().enumerate() {
        let deliveries = sim
            .client()
            .set_day(fitbit_id, *date, simulated_day(8_000 + 100 * i as u32))
            .await
            .unwrap();
        assert!(deliveries.iter().all(|d| d.status == Some(204)), "{deliveries:?}");
    }
    let count_days = |source: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM activity_days WHERE participant_id = $1 AND source = $2",
            )
            .bind(participant)
            .bind(source)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    eventually("the Fitbit-era days", Duration::from_secs(40), logs, || async {
        count_days("fitbit").await == 7
    })
    .await;
    let goals_before = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM goal_history WHERE participant_id = $1")
            .bind(participant)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    eventually("Fitbit-era goals", Duration::from_secs(40), logs, || async {
        goals_before(pool.clone()).await > 0
    })
    .await;
    let first_goal: (NaiveDate, i32) = sqlx::query_as(
        "SELECT effective_date, steps FROM goal_history WHERE participant_id = $1
         ORDER BY effective_date LIMIT 1",
    )
    .bind(participant)
    .fetch_one(&pool)
    .await
    .unwrap();

    // Google's consent for the same person, imported as operators would after the switch.
    let google = sim.client().google_grant(fitbit_id).await.unwrap();
    let import = serde_json::json!([{
        "access_token": google.access_token, "refresh_token": google.refresh_token,
        "expires_in": google.expires_in, "scope": google.scope,
    }])
    .to_string();
    let (ok, imported) = ctl.run(&["import", "--provider", "google_health"], Some(&import));
    assert!(ok, "{imported}");
    let (provider_user, google_participant): (String, i64) = sqlx::query_as(
        "SELECT provider_user_id, participant_id FROM provider_connections WHERE provider = 'google_health'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(provider_user, google.health_user_id);
    assert_eq!(google_participant, participant, "the Fitbit-era participant continues");

    let team_progress = || {
        let (pool, team) = (pool.clone(), team.clone());
        async move {
            sqlx::query_scalar::<_, f64>(
                "SELECT coalesce(sum(progress), 0) FROM team_progress WHERE team_id = $1",
            )
            .bind(team.parse::<i64>().unwrap())
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    // The Fitbit-era days settle into the team's progress first (their recomputations may still
    // be running): the baseline below must not move for any reason but Google's day.
    let fitbit_steps: f64 = (0..7).map(|i| f64::from(8_000 + 100 * i)).sum();
    eventually(
        "the Fitbit-era days in the team's progress",
        Duration::from_secs(40),
        logs,
        || async { (team_progress().await - fitbit_steps).abs() < 0.5 },
    )
    .await;
    let progress_before = team_progress().await;

    // A sync at Google (yesterday in UTC, a past day in the participant's own zone too): a
    // signed notification to the subscriber, fetched through Google.
    let synced = today - chrono::Duration::days(1);
    let deliveries = sim
        .client()
        .set_day_record(
            fitbit_id,
            synced,
            DayRecord { day: simulated_day(10_500), manual_steps: 1_200 },
        )
        .await
        .unwrap();
    assert!(
        deliveries.google_deliveries.iter().any(|d| d.status == Some(204)),
        "the subscriber accepted Google's notification: {deliveries:?}"
    );
    eventually("the day through Google", Duration::from_secs(40), logs, || async {
        let day: Option<(i32, Option<i32>, String)> = sqlx::query_as(
            "SELECT steps, manual_steps, source FROM activity_days WHERE participant_id = $1 AND day = $2",
        )
        .bind(participant)
        .bind(synced)
        .fetch_optional(&pool)
        .await
        .unwrap();
        day == Some((10_500, Some(1_200), "google_health".into()))
    })
    .await;
    // The goals service counted the day for the same participant's team: measured steps only,
    // the hand-entered ones stay apart.
    eventually("the team's progress to include the day", Duration::from_secs(40), logs, || async {
        (team_progress().await - (progress_before + 10_500.0)).abs() < 0.5
    })
    .await;
    // The Fitbit-era history and goals are untouched.
    assert!(count_days("fitbit").await + count_days("google_health").await >= 8);
    let still_first: (NaiveDate, i32) = sqlx::query_as(
        "SELECT effective_date, steps FROM goal_history WHERE participant_id = $1
         ORDER BY effective_date LIMIT 1",
    )
    .bind(participant)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(still_first, first_goal);
    let (ok, users) = ctl.run(&["users", "list"], None);
    assert!(ok && users.contains("google_health"), "{users}");
    // Neither the endpoint secret nor the participant's Google tokens reach any log or output.
    for secret in [ENDPOINT_SECRET, &google.access_token, &google.refresh_token] {
        assert!(!logs().contains(secret), "a secret in the services' logs");
        assert!(
            !users.contains(secret) && !imported.contains(secret),
            "a secret in fitexctl output"
        );
    }

    let (ok, deleted) = ctl.run(&["google", "subscriber", "delete", "--id", "fitex-e2e"], None);
    assert!(ok, "{deleted}");

    // The MANUAL policy: participants are subscribed one by one (by their FitEx participant id).
    let (ok, manual) = ctl.run(
        &[
            "google",
            "subscriber",
            "create",
            "--id",
            "fitex-manual",
            "--endpoint",
            &endpoint,
            "--policy",
            "MANUAL",
        ],
        None,
    );
    assert!(ok && manual.contains("MANUAL"), "{manual}");
    let participant_arg = participant.to_string();
    let (ok, added) = ctl.run(
        &[
            "google",
            "subscriptions",
            "add",
            "--subscriber",
            "fitex-manual",
            "--user",
            &participant_arg,
        ],
        None,
    );
    assert!(ok && added.contains(&format!("users/{}", google.health_user_id)), "{added}");
    let (ok, listed) =
        ctl.run(&["google", "subscriptions", "list", "--subscriber", "fitex-manual"], None);
    assert!(ok && listed.contains(&google.health_user_id), "{listed}");
    let name = listed.split_whitespace().next().unwrap().to_owned();
    let (ok, blocked) = ctl.run(&["google", "subscriber", "delete", "--id", "fitex-manual"], None);
    assert!(!ok, "a subscriber with subscriptions is not deleted without --force: {blocked}");
    let (ok, removed) = ctl.run(
        &[
            "google",
            "subscriptions",
            "remove",
            "--subscriber",
            "fitex-manual",
            "--subscription",
            &name,
        ],
        None,
    );
    assert!(ok, "{removed}");
    let (ok, listed) =
        ctl.run(&["google", "subscriptions", "list", "--subscriber", "fitex-manual"], None);
    assert!(ok && listed.contains("no subscriptions"), "{listed}");
    let (ok, deleted) =
        ctl.run(&["google", "subscriber", "delete", "--id", "fitex-manual", "--force"], None);
    assert!(ok, "{deleted}");
    let (ok, none) = ctl.run(&["google", "subscriber", "list"], None);
    assert!(ok && none.contains("no subscribers"), "{none}");
    // Without a key file the command says what is missing.
    let bare = Fitexctl { env: common.clone() };
    let (ok, missing) = bare.run(&["google", "subscriber", "list"], None);
    assert!(!ok && missing.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{missing}");
    let _ = std::fs::remove_file(&key_file);
    sim.stop().await;
}
