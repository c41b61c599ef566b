//! A logged activity travels like a device change, through the real fetcher and goals binaries,
//! the broker and PostgreSQL: the entry's activity event leaves the outbox through the fetcher's
//! relay, the goals service recomputes from it, and the activity, goal and team-progress events
//! all say the change was logged by hand and continue the request's trace.

use std::time::Duration;

use chrono::Utc;
use fitex_common::trace_context::TraceParent;
use fitex_e2e::{
    connect_simulated_fitbit_user, eventually, infrastructure_env, simulated_fitbit_api_env,
    test_token_cipher, Fitexctl, PipelineProcesses,
};
use fitex_goals::manual::{ActivityKind, Intensity, ManualEntry};
use fitex_goals_store::manual::{self, ActivityOutbox, EnteredBy, SeasonWindow};
use fitex_goals_store::recompute::DataSource;
use fitex_goals_store::store;
use fitex_proto::{ActivityDayChanged, GoalChanged, Message, TeamProgressChanged};
use fitex_provider_simulator::{CreateUser, Simulator, SimulatorConfig};

#[tokio::test]
async fn a_logged_activity_produces_activity_goal_and_team_events_that_say_so() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let webhook_secret = "e2e-manual-client-secret-0123456789";
    let sim = Simulator::spawn(SimulatorConfig {
        client_secret: webhook_secret.into(),
        subscriber_url: None,
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();
    let mut common = infrastructure_env(&kafka, &database);
    common.extend(simulated_fitbit_api_env(&sim.base_url(), webhook_secret));
    let services = PipelineProcesses::start(
        &common,
        &kafka,
        fitex_testkit::free_port(),
        webhook_secret,
        Vec::new(),
    )
    .await;
    let logs = || services.logs();
    let ctl = Fitexctl { env: common.clone() };
    let program =
        ctl.ok(&["programs", "create", "--name", "Pool season", "--started-days-ago", "3"]);
    let program_id: i64 = program.split_whitespace().nth(1).unwrap().parse().unwrap();
    let team =
        ctl.ok(&["teams", "create", "--program", &program_id.to_string(), "--name", "Otters"]);
    let team_id: i64 = team.split_whitespace().nth(1).unwrap().parse().unwrap();
    let create = CreateUser { user_id: Some("SWIM01".into()), ..CreateUser::default() };
    let swimmer =
        connect_simulated_fitbit_user(&pool, &sim.client(), &test_token_cipher(), create).await;
    let from = (Utc::now().date_naive() - chrono::Duration::days(3)).to_string();
    ctl.ok(&["teams", "add", "--team", &team_id.to_string(), "--user", "SWIM01", "--from", &from]);

    // The participant logs a swim for yesterday, as the portal does it.
    let season = SeasonWindow::of(&store::program(&pool, program_id).await.unwrap().unwrap());
    let yesterday = Utc::now().date_naive() - chrono::Duration::days(1);
    let swim = ManualEntry {
        day: yesterday,
        kind: ActivityKind::Swimming,
        minutes: 45,
        intensity: Intensity::Moderate,
        device_worn: false,
    };
    let trace = TraceParent::new_root();
    let outbox = ActivityOutbox { topic: &kafka.topics.activity_days, trace: &trace };
    let participant = swimmer.participant_id;
    manual::add(&pool, outbox, participant, &season, &swim, &EnteredBy::Participant, Utc::now())
        .await
        .unwrap();

    eventually("the entry relayed and recomputed", Duration::from_secs(60), logs, || {
        let pool = pool.clone();
        async move {
            let (goals, progress, waiting): (i64, Option<f64>, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM goal_history WHERE participant_id = $1),
                        (SELECT max(progress) FROM team_progress WHERE team_id = $2),
                        (SELECT count(*) FROM kafka_outbox)",
            )
            .bind(participant)
            .bind(team_id)
            .fetch_one(&pool)
            .await
            .unwrap();
            goals > 0 && progress.is_some_and(|p| p >= 3.0) && waiting == 0
        }
    })
    .await;

    let read = |topic: &String| {
        let (brokers, topic) = (kafka.brokers.clone(), topic.clone());
        async move {
            fitex_testkit::read_records_async(&brokers, &topic, 1_000, Duration::from_secs(4)).await
        }
    };
    let trace_of = |payload: Option<fitex_proto::TraceContext>| {
        payload.map(|t| t.traceparent.split('-').nth(1).unwrap_or_default().to_string())
    };
    let activity: Vec<ActivityDayChanged> = read(&kafka.topics.activity_days)
        .await
        .iter()
        .map(|r| ActivityDayChanged::decode(r.payload.as_slice()).unwrap())
        .filter(|e| e.participant_id == participant)
        .collect();
    assert_eq!(activity.len(), 1, "{activity:?}");
    let event = &activity[0];
    assert_eq!(
        (event.date.as_str(), event.source),
        (yesterday.to_string().as_str(), DataSource::Manual as i32)
    );
    assert_eq!(event.entered_by, "participant");
    assert_eq!(event.manual.as_ref().map(|m| m.unworn_moderate_minutes), Some(45));
    assert_eq!(trace_of(event.trace_context.clone()), Some(trace.trace_id_hex()));

    let goals: Vec<GoalChanged> = read(&kafka.topics.goals)
        .await
        .iter()
        .map(|r| GoalChanged::decode(r.payload.as_slice()).unwrap())
        .filter(|e| e.participant_id == participant)
        .collect();
    assert!(!goals.is_empty(), "the first goals were computed after the entry");
    for goal in &goals {
        assert_eq!(goal.source, DataSource::Manual as i32, "{goal:?}");
        assert_eq!(trace_of(goal.trace_context.clone()), Some(trace.trace_id_hex()));
    }
    let team_events: Vec<TeamProgressChanged> = read(&kafka.topics.team_progress)
        .await
        .iter()
        .map(|r| TeamProgressChanged::decode(r.payload.as_slice()).unwrap())
        .filter(|e| e.team_id == team_id)
        .collect();
    assert!(
        team_events.iter().any(|e| e.source == DataSource::Manual as i32 && e.progress >= 3.0),
        "45 minutes are 3 FitEx miles: {team_events:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_coordinator_logs_an_activity_for_a_participant_with_the_same_checks() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let sim = Simulator::spawn(SimulatorConfig::default()).await.unwrap();
    let ctl = Fitexctl { env: infrastructure_env(&kafka, &database) };
    let program =
        ctl.ok(&["programs", "create", "--name", "Garden season", "--started-days-ago", "5"]);
    let program = program.split_whitespace().nth(1).unwrap().to_owned();
    let team = ctl.ok(&["teams", "create", "--program", &program, "--name", "Diggers"]);
    let team = team.split_whitespace().nth(1).unwrap().to_owned();
    let create = CreateUser { user_id: Some("GARDEN1".into()), ..CreateUser::default() };
    let gardener =
        connect_simulated_fitbit_user(&pool, &sim.client(), &test_token_cipher(), create).await;
    let date = (Utc::now().date_naive() - chrono::Duration::days(2)).to_string();
    let add = |minutes: &str, by: &str| {
        ctl.run(
            &[
                "activity",
                "add",
                "--user",
                "GARDEN1",
                "--program",
                &program,
                "--date",
                &date,
                "--kind",
                "yard_work",
                "--minutes",
                minutes,
                "--intensity",
                "moderate",
                "--worn",
                "no",
                "--by",
                by,
            ],
            None,
        )
    };

    // Not on a team of the program yet: nothing logged.
    let (ok, output) = add("40", "Dana");
    assert!(!ok && output.contains("is in no team of program"), "{output}");
    let from = (Utc::now().date_naive() - chrono::Duration::days(5)).to_string();
    ctl.ok(&["teams", "add", "--team", &team, "--user", "GARDEN1", "--from", &from]);

    let (ok, output) = add("0", "Dana");
    assert!(!ok && output.contains("minutes: Enter more than 0 minutes."), "{output}");
    let (ok, output) = add("40", "  ");
    assert!(!ok && output.contains("--by must name who is entering it"), "{output}");
    let (ok, output) = add("40", "Dana");
    assert!(ok, "{output}");
    let id = output.split_whitespace().nth(1).unwrap().trim_end_matches(':').to_owned();
    let (entered_by, participant): (String, i64) =
        sqlx::query_as("SELECT entered_by, participant_id FROM manual_activities WHERE id = $1")
            .bind(id.parse::<i64>().unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((entered_by.as_str(), participant), ("operator:Dana", gardener.participant_id));
    let listed = ctl.ok(&["activity", "list", "--user", "GARDEN1", "--program", &program]);
    assert!(
        listed.contains("Yard work or gardening") && listed.contains("operator:Dana"),
        "{listed}"
    );
    let (ok, output) = add("1401", "Dana");
    assert!(!ok && output.contains("would pass 24 hours"), "{output}");

    let announced =
        fitex_testkit::outbox_payloads(&pool, "fetcher", &kafka.topics.activity_days).await;
    assert_eq!(announced.len(), 1, "one entry, one event");
    let event = ActivityDayChanged::decode(announced[0].as_slice()).unwrap();
    assert_eq!(
        (event.source, event.entered_by.as_str()),
        (DataSource::Manual as i32, "operator:Dana")
    );

    let delete = || {
        let args = ["--user", "GARDEN1", "--program", &program, "--id", &id, "--by", "Dana"];
        ctl.run(&[&["activity", "delete"][..], &args].concat(), None)
    };
    assert!(delete().0, "deleted");
    let (ok, output) = delete();
    assert!(!ok && output.contains("no such activity"), "{output}");
    sim.stop().await;
}
