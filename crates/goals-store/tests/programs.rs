//! Setting up a season and reading it back, on a database of the test's own: what `fitexctl
//! programs|teams|goals|leaderboard` does through `fitex_goals_store::programs`, and the recompute
//! it runs.

use chrono::{Duration, NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::trace_context::TraceParent;
use fitex_connections::store::participant_of_provider_user;
use fitex_goals::{GoalSettings, MileRules};
use fitex_goals_store::programs::{self, LatestGoal, NewProgram, ProgramSummary, TeamSummary};
use fitex_goals_store::{store, GoalsEngine, OUTBOX_SOURCE};
use fitex_testkit::test_database;
use sqlx::PgPool;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

async fn create_program(pool: &PgPool, name: &str, start_date: NaiveDate) -> i64 {
    let new = NewProgram {
        name,
        start_date,
        weeks: 4,
        unit: "steps",
        goal_settings: &GoalSettings::default(),
        mile_rules: &MileRules::default(),
    };
    programs::create_program(pool, &new).await.expect("create the program")
}

async fn participant(pool: &PgPool) -> i64 {
    sqlx::query_scalar("INSERT INTO participants (time_zone) VALUES ('UTC') RETURNING id")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A connection of `participant` with `user` as its provider user id; returns its id.
async fn connection(pool: &PgPool, participant: i64, provider: &str, user: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO provider_connections (participant_id, provider, provider_user_id)
         VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(participant)
    .bind(provider)
    .bind(user)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn programs_are_created_once_per_name_and_read_back() {
    let (_, pool) = test_database().await;
    let start = NaiveDate::from_ymd_opt(2026, 9, 7).unwrap();
    let id = create_program(&pool, "Autumn season", start).await;

    let duplicate = NewProgram {
        name: "Autumn season",
        start_date: start,
        weeks: 8,
        unit: "fitex_miles",
        goal_settings: &GoalSettings::default(),
        mile_rules: &MileRules::default(),
    };
    assert!(programs::create_program(&pool, &duplicate).await.is_err(), "names are unique");

    let expected = ProgramSummary {
        id,
        name: "Autumn season".into(),
        start_date: start,
        weeks: 4,
        unit: "steps".into(),
    };
    assert_eq!(programs::programs(&pool).await.unwrap(), vec![expected.clone()]);
    assert_eq!(programs::program_summary(&pool, id).await.unwrap(), Some(expected));
    assert_eq!(programs::program_summary(&pool, id + 1).await.unwrap(), None);

    // The settings are stored as the goals engine reads them.
    let row = store::program(&pool, id).await.unwrap().expect("the program");
    assert_eq!(row.program.goals, GoalSettings::default());
    assert_eq!(row.program.miles, MileRules::default());
}

#[tokio::test]
async fn teams_gain_and_lose_members_named_by_their_current_provider_user_id() {
    let (_, pool) = test_database().await;
    let start = today() - Duration::days(3);
    let program = create_program(&pool, "Walkers' season", start).await;
    let walkers = programs::create_team(&pool, program, "Walkers").await.unwrap();
    let striders = programs::create_team(&pool, program, "Striders").await.unwrap();
    assert!(programs::create_team(&pool, program, "Walkers").await.is_err(), "one name a team");
    assert!(programs::create_team(&pool, program + 1, "Walkers").await.is_err(), "no program");
    let names = programs::team_names(&pool, program).await.unwrap();
    assert_eq!(names.get(&walkers).map(String::as_str), Some("Walkers"));
    assert_eq!(names.get(&striders).map(String::as_str), Some("Striders"));

    // Ada moved from Fitbit to Google Health: she is found by either id, shown by the new one.
    let ada = participant(&pool).await;
    let old = connection(&pool, ada, "fitbit", "ADA-FB").await;
    let new = connection(&pool, ada, "google_health", "ada-gh").await;
    sqlx::query("UPDATE provider_connections SET superseded_by = $2 WHERE id = $1")
        .bind(old)
        .bind(new)
        .execute(&pool)
        .await
        .unwrap();
    let bo = participant(&pool).await;
    connection(&pool, bo, "fitbit", "BO-FB").await;
    assert_eq!(participant_of_provider_user(&pool, "ADA-FB").await.unwrap(), Some(ada));
    assert_eq!(participant_of_provider_user(&pool, "ada-gh").await.unwrap(), Some(ada));
    assert_eq!(participant_of_provider_user(&pool, "nobody").await.unwrap(), None);

    // Without a date a member joins from the program start, or today when it starts later.
    assert_eq!(programs::default_join_date(&pool, walkers, today()).await.unwrap(), Some(start));
    let earlier = start - Duration::days(1);
    assert_eq!(programs::default_join_date(&pool, walkers, earlier).await.unwrap(), Some(earlier));
    assert_eq!(programs::default_join_date(&pool, striders + 1, today()).await.unwrap(), None);

    programs::add_member(&pool, walkers, ada, start).await.unwrap();
    programs::add_member(&pool, walkers, ada, start).await.expect("the same period again is kept");
    programs::add_member(&pool, walkers, bo, start).await.unwrap();
    assert_eq!(
        programs::teams(&pool, program).await.unwrap(),
        vec![
            TeamSummary {
                id: walkers,
                name: "Walkers".into(),
                current_members: 2,
                user_ids: "ada-gh BO-FB".into(),
            },
            TeamSummary {
                id: striders,
                name: "Striders".into(),
                current_members: 0,
                user_ids: String::new(),
            },
        ]
    );

    // Bo leaves today: no longer counted, still listed; ending it again finds no membership.
    assert!(programs::end_membership(&pool, walkers, bo, today()).await.unwrap());
    assert!(!programs::end_membership(&pool, walkers, bo, today()).await.unwrap());
    assert!(!programs::end_membership(&pool, striders, ada, today()).await.unwrap());
    let walkers_now = programs::teams(&pool, program).await.unwrap().remove(0);
    assert_eq!((walkers_now.current_members, walkers_now.user_ids.as_str()), (1, "ada-gh BO-FB"));

    let mut members = programs::program_members(&pool, program).await.unwrap();
    members.sort_unstable();
    assert_eq!(members, vec![ada, bo]);
}

#[tokio::test]
async fn a_recompute_from_the_program_start_fills_every_members_goals_and_queues_their_events() {
    let (_, pool) = test_database().await;
    let start = today() - Duration::days(2);
    let program = create_program(&pool, "Spring season", start).await;
    let team = programs::create_team(&pool, program, "Walkers").await.unwrap();
    let ada = participant(&pool).await;
    connection(&pool, ada, "fitbit", "ADA-FB").await;
    programs::add_member(&pool, team, ada, start).await.unwrap();
    assert_eq!(programs::latest_goals(&pool, program).await.unwrap(), vec![]);

    let engine = GoalsEngine {
        pool: pool.clone(),
        topics: Topics::default(),
        relay_wake: Default::default(),
    };
    let trace = TraceParent::new_root();
    for member in programs::program_members(&pool, program).await.unwrap() {
        let done = engine.recompute(member, start, &trace).await.unwrap();
        assert_eq!(done.goals_changed, 3, "a goal for each day from the start through today");
    }

    let latest = programs::latest_goals(&pool, program).await.unwrap();
    assert_eq!(latest.len(), 1);
    let LatestGoal { user_id, team: team_name, effective_date, steps, strategy, .. } = &latest[0];
    assert_eq!(
        (user_id.as_str(), team_name.as_str(), *effective_date),
        ("ADA-FB", "Walkers", today())
    );
    assert!(*steps > 0);
    assert_eq!(strategy, "adaptive_percentile");
    // Their events wait in the goals service's outbox for its relay.
    let waiting = fitex_common::outbox::depth(&pool, OUTBOX_SOURCE).await.unwrap();
    assert!(waiting >= 3, "three goal events and the team's progress, got {waiting}");
}
