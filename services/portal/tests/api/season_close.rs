//! "My season" and "My team" around a season's close, through the portal and PostgreSQL: after
//! the last day they say when the results become final; once the season is closed they say the
//! results are final and show the frozen leaderboard, which late data no longer changes.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use fitex_common::kafka::Topics;
use fitex_common::trace_context::TraceParent;
use fitex_goals::{GoalSettings, Guideline, MileRules, Strategy};
use fitex_goals_store::programs::{self, NewProgram};
use fitex_goals_store::recompute::{Change, DataSource};
use fitex_goals_store::{store, GoalsEngine};
use reqwest::StatusCode;

use crate::helpers::spawn_portal;
use crate::season::{leaderboard_rows, signed_in, store_days, SeedDay};

#[tokio::test]
async fn the_pages_say_when_results_become_final_and_then_show_the_frozen_leaderboard() {
    let portal = spawn_portal().await;
    let pool = &portal.pool;
    let me = signed_in(&portal, "CLOSE1").await;
    let strider: i64 =
        sqlx::query_scalar("INSERT INTO participants (time_zone) VALUES ('UTC') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("UPDATE participants SET time_zone = 'UTC' WHERE id = $1")
        .bind(me)
        .execute(pool)
        .await
        .unwrap();
    // A two-week season in steps that ended over two weeks ago, with a 90-day grace period.
    let start = Utc::now().date_naive() - Duration::days(30);
    let last_day = start + Duration::days(13);
    let settings = GoalSettings {
        strategy: Strategy::Guideline(Guideline::Fixed { steps: 7_000 }),
        ..GoalSettings::default()
    };
    let new = NewProgram {
        name: "Harvest season",
        start_date: start,
        weeks: 2,
        unit: "steps",
        goal_settings: &settings,
        mile_rules: &MileRules::default(),
    };
    let program = programs::create_program_with_grace(pool, &new, 2160).await.unwrap();
    let walkers = programs::create_team(pool, program, "Walkers").await.unwrap();
    let striders = programs::create_team(pool, program, "Striders").await.unwrap();
    programs::add_member(pool, walkers, me, start).await.unwrap();
    programs::add_member(pool, striders, strider, start).await.unwrap();
    let worn = |steps| SeedDay { steps, worn: Some(800), no_data: false };
    store_days(pool, me, start, &[worn(9_000); 14]).await;
    store_days(pool, strider, start, &[worn(4_000); 14]).await;
    let engine = GoalsEngine {
        pool: pool.clone(),
        topics: Topics::default(),
        relay_wake: Default::default(),
    };
    let recompute = |from| {
        let changes: BTreeMap<i64, Change> = [me, strider]
            .into_iter()
            .map(|id| {
                (id, Change { from, trace: TraceParent::new_root(), source: DataSource::Device })
            })
            .collect();
        let engine = &engine;
        async move { engine.recompute_batch(&changes).await.unwrap() }
    };
    recompute(start).await;

    // Over, not closed: the pages say when the results become final.
    let final_on = (start + Duration::days(14 + 90)).format("%-d %B %Y").to_string();
    for path in ["/season", "/team"] {
        let (status, html) = portal.get_text(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(html.contains(r#"data-results="pending""#), "{path}: {html}");
        assert!(
            html.contains(&format!("Results become final on <strong>{final_on}</strong>")),
            "{path}: {html}"
        );
        assert!(!html.contains("These results are final"), "{path}: {html}");
    }
    let (_, team) = portal.get_text("/team").await;
    assert!(team.contains("Leaderboard, week 2") && !team.contains("Final leaderboard"), "{team}");
    assert_eq!(leaderboard_rows(&team).0, ["Walkers", "Striders"], "{team}");

    // The grace period ends and the season closes.
    sqlx::query("UPDATE programs SET grace_hours = 0 WHERE id = $1")
        .bind(program)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(engine.close_due_seasons(Utc::now()).await.unwrap().len(), 1);
    for path in ["/season", "/team"] {
        let (_, html) = portal.get_text(path).await;
        assert!(html.contains(r#"data-results="final""#), "{path}: {html}");
        assert!(html.contains("<strong>These results are final.</strong>"), "{path}: {html}");
        assert!(!html.contains("Results become final on"), "{path}: {html}");
    }

    // A late sync for the last day would put Striders first live; the pages keep the final board.
    store_days(pool, strider, last_day, &[worn(40_000)]).await;
    recompute(last_day).await;
    let (_, live) = store::program_leaderboard(pool, program, None).await.unwrap();
    assert_eq!(live[0].name, "Striders", "live, the late day changed the order");
    let (_, team) = portal.get_text("/team").await;
    assert!(team.contains("Final leaderboard, week 2"), "{team}");
    let (names, yours) = leaderboard_rows(&team);
    assert_eq!((names, yours), (vec!["Walkers".into(), "Striders".into()], vec!["Walkers".into()]));
    assert!(team.contains("63,000 steps of 49,000 steps"), "the frozen week: {team}");
}
