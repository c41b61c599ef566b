//! A season's close through the goals service, PostgreSQL and the broker: before the grace
//! deadline the read API shows live numbers (`"final": false`); once the service's closer has
//! closed the season it shows the snapshot (`"final": true`), a `SeasonClosed` event is on the
//! seasons topic, and a late day that changes `team_progress` changes nothing the API shows.

use std::time::Duration;

use fitex_goals::{GoalSettings, Guideline, MileRules, Strategy};
use fitex_goals_store::programs::{self, NewProgram};
use fitex_goals_store::store;
use fitex_proto::{content_type, Message, SeasonClosed};

use crate::helpers::*;

/// The API's leaderboard as (team name, rank, percent of goal), and its `final`.
async fn leaderboard(app: &TestGoals, program: i64) -> (Vec<(String, i64, f64)>, bool) {
    let board: serde_json::Value =
        app.get(&format!("/v1/programs/{program}/leaderboard")).await.json().await.unwrap();
    let teams = board["teams"].as_array().unwrap().iter().map(|t| {
        let name = t["name"].as_str().unwrap().to_string();
        (name, t["rank"].as_i64().unwrap(), t["percent_of_goal"].as_f64().unwrap())
    });
    (teams.collect(), board["final"].as_bool().expect("final is a boolean"))
}

/// The API's team progress: its weeks' (week, progress), and its `final`.
async fn team_progress(app: &TestGoals, team: i64) -> (Vec<(i64, f64)>, bool) {
    let body: serde_json::Value =
        app.get(&format!("/v1/teams/{team}/progress")).await.json().await.unwrap();
    let weeks = body["weeks"].as_array().unwrap().iter();
    let weeks = weeks.map(|w| (w["week"].as_i64().unwrap(), w["progress"].as_f64().unwrap()));
    (weeks.collect(), body["final"].as_bool().expect("final is a boolean"))
}

/// The export's `final` column, one value per row.
async fn export_final_column(app: &TestGoals, program: i64) -> Vec<String> {
    let csv = app.get(&format!("/v1/programs/{program}/export.csv")).await.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",goal_strategy,final"), "{csv}");
    lines.map(|l| l.rsplit(',').next().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_closed_season_is_served_from_its_snapshot_as_final_and_late_data_changes_nothing() {
    let app = spawn_goals_with(|settings| {
        settings.goals.season_close_interval = Duration::from_millis(200);
    })
    .await;
    // A two-week season that ended over two weeks ago, with a 90-day grace period: not due yet.
    let start = today() - chrono::Duration::days(30);
    let last_day = start + chrono::Duration::days(13);
    let settings = GoalSettings {
        strategy: Strategy::Guideline(Guideline::Fixed { steps: 7_000 }),
        ..GoalSettings::default()
    };
    let new = NewProgram {
        name: "Closing season",
        start_date: start,
        weeks: 2,
        unit: "steps",
        goal_settings: &settings,
        mile_rules: &MileRules::default(),
    };
    let program = programs::create_program_with_grace(&app.pool, &new, 2160).await.unwrap();
    let north = programs::create_team(&app.pool, program, "North").await.unwrap();
    let south = programs::create_team(&app.pool, program, "South").await.unwrap();
    let (a, b) = (app.member(north, start).await, app.member(south, start).await);
    for offset in 0..14 {
        let date = start + chrono::Duration::days(offset);
        app.store_day(a, date, 9_000).await;
        app.store_day(b, date, 4_000).await;
    }
    app.publish_day(a, start, 9_000).await;
    app.publish_day(b, start, 4_000).await;
    wait_for("both members' season goals", Duration::from_secs(20), || async {
        app.goal_rows(a).await.len() == 14 && app.goal_rows(b).await.len() == 14
    })
    .await;
    wait_for("both teams' weeks", Duration::from_secs(20), || async {
        team_progress(&app, north).await.0.len() == 2
            && team_progress(&app, south).await.0.len() == 2
    })
    .await;

    // Before the close: the live numbers, not final.
    let (live_board, is_final) = leaderboard(&app, program).await;
    assert!(!is_final);
    let names: Vec<&str> = live_board.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(names, ["North", "South"], "9,000 steps a day beat 4,000: {live_board:?}");
    let (south_live, is_final) = team_progress(&app, south).await;
    assert!(!is_final);
    assert_eq!(south_live, [(1, 28_000.0), (2, 28_000.0)]);
    let column = export_final_column(&app, program).await;
    assert_eq!(column.len(), 28);
    assert!(column.iter().all(|v| v == "false"), "{column:?}");

    // The grace period is over: the service's closer closes the season.
    sqlx::query("UPDATE programs SET grace_hours = 0 WHERE id = $1")
        .bind(program)
        .execute(&app.pool)
        .await
        .unwrap();
    wait_for("the season closed", Duration::from_secs(20), || async {
        leaderboard(&app, program).await.1
    })
    .await;
    let (final_board, _) = leaderboard(&app, program).await;
    assert_eq!(final_board, live_board, "frozen as it stood");
    assert_eq!(team_progress(&app, south).await, (south_live.clone(), true));
    let column = export_final_column(&app, program).await;
    assert!(column.len() == 28 && column.iter().all(|v| v == "true"), "{column:?}");

    // One SeasonClosed event, keyed by the program, with the final leaderboard.
    let records = app.records(&app.kafka.topics.seasons, 2, Duration::from_secs(10)).await;
    assert_eq!(records.len(), 1, "one close, one event");
    assert_eq!(records[0].key.as_deref(), Some(program.to_string().as_str()));
    assert_eq!(records[0].headers["content-type"], content_type::SEASON_CLOSED);
    let event = SeasonClosed::decode(records[0].payload.as_slice()).unwrap();
    assert_eq!(records[0].headers["event_id"], event.event_id);
    assert_eq!((event.program_id, event.leaderboard_week), (program, 2));
    assert_eq!((event.start_date, event.last_day), (start.to_string(), last_day.to_string()));
    let standings: Vec<(&str, i32)> =
        event.standings.iter().map(|s| (s.team_name.as_str(), s.rank)).collect();
    assert_eq!(standings, [("North", 1), ("South", 2)]);
    assert_eq!(event.standings[1].season_progress, 56_000.0, "both of South's weeks");

    // A late sync for the last day: South's 40,000 steps reach team_progress, which would now rank
    // South first, but the closed season's numbers stay as frozen.
    app.store_day(b, last_day, 40_000).await;
    app.publish_day(b, last_day, 40_000).await;
    wait_for("the late day in team_progress", Duration::from_secs(20), || async {
        let weeks = store::team_weeks(&app.pool, south).await.unwrap();
        weeks.iter().any(|w| w.week == 2 && w.progress == 64_000.0)
    })
    .await;
    let (live_week, live_now) = store::program_leaderboard(&app.pool, program, None).await.unwrap();
    assert_eq!((live_week, live_now[0].name.as_str()), (2, "South"), "live: South now leads");
    assert_eq!(leaderboard(&app, program).await, (live_board, true));
    assert_eq!(team_progress(&app, south).await, (south_live, true));

    // Closing again, or another replica's closer, changes nothing and publishes nothing more.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("fitex_goals_seasons_closed_total ")
            && l.split(' ').nth(1).and_then(|n| n.parse::<f64>().ok()).is_some_and(|n| n >= 1.0)),
        "the closer counts the seasons it closed:\n{metrics}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let records = app.records(&app.kafka.topics.seasons, 2, Duration::from_secs(3)).await;
    assert_eq!(records.len(), 1, "still one event after more closer passes");
}

#[tokio::test]
async fn the_api_description_says_what_final_means() {
    let spec: serde_json::Value = serde_json::from_str(fitex_goals_service::api::OPENAPI).unwrap();
    for schema in ["Leaderboard", "TeamProgress"] {
        let described = &spec["components"]["schemas"][schema];
        let required: Vec<&str> =
            described["required"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        assert!(required.contains(&"final"), "{schema} requires final");
        assert_eq!(described["properties"]["final"]["type"], "boolean", "{schema}");
    }
    let export = &spec["paths"]["/v1/programs/{id}/export.csv"]["get"]["responses"]["200"];
    assert!(export["description"].as_str().unwrap().contains("goal_strategy,final"), "{export}");
}
