//! "My season" and "My team" through the portal and PostgreSQL: a season is seeded as the
//! fetcher stores days, the goals engine (`fitex_goals_store::GoalsEngine`, as the goals service
//! runs it) computes goals and team weeks, and the pages must show those numbers — each day of
//! the chart, today, the week in FitEx miles, the streaks, each member's part and the leaderboard
//! in the goals store's order. Changing an id in a URL or a form reveals nothing.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::trace_context::TraceParent;
use fitex_goals::{GoalSettings, Guideline, MileRules, Strategy};
use fitex_goals_store::programs::{self, NewProgram};
use fitex_goals_store::recompute::{Change, DataSource};
use fitex_goals_store::{store, GoalsEngine};
use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::{browser_with_jar, spawn_portal, TestPortal};

/// One stored day: steps, worn minutes, and whether the provider held no data.
#[derive(Debug, Clone, Copy)]
pub struct SeedDay {
    pub steps: i32,
    pub worn: Option<i32>,
    pub no_data: bool,
}

const fn worn(steps: i32) -> SeedDay {
    SeedDay { steps, worn: Some(800), no_data: false }
}

/// The signed-in participant's days, from the start (10 days ago) through today, every goal
/// 7,000 steps (3.5 FitEx miles):
/// met, met, no data, met, met, missed, met, too little wear, met, an outlier, today so far.
/// Streaks: the no-data day bridges the first four met days (longest 4); the short-wear day and
/// the outlier bridge the last two (current 2); today, not over, ends nothing.
pub const MY_DAYS: [SeedDay; 11] = [
    worn(8_000),
    worn(9_000),
    SeedDay { steps: 0, worn: None, no_data: true },
    worn(7_500),
    worn(7_100),
    worn(3_000),
    worn(7_000),
    SeedDay { steps: 9_000, worn: Some(300), no_data: false },
    worn(8_000),
    worn(50_000),
    SeedDay { steps: 2_600, worn: Some(200), no_data: false },
];

/// What [`seed_season`] made.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub program_id: i64,
    pub start: NaiveDate,
    pub today: NaiveDate,
    pub walkers: i64,
    pub striders: i64,
    /// The other Walkers: "Ana" (a display name) and one without a display name.
    pub ana: i64,
    pub nameless: i64,
    /// The Striders, who walk more.
    pub striders_members: Vec<i64>,
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

async fn new_participant(pool: &PgPool, display_name: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO participants (time_zone, display_name) VALUES ('UTC', $1) RETURNING id",
    )
    .bind(display_name)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Stores `days` from `start` on, as the fetcher does.
pub async fn store_days(pool: &PgPool, participant: i64, start: NaiveDate, days: &[SeedDay]) {
    let dates: Vec<NaiveDate> = (0..days.len()).map(|i| start + Duration::days(i as i64)).collect();
    let steps: Vec<i32> = days.iter().map(|d| d.steps).collect();
    let worn: Vec<Option<i32>> = days.iter().map(|d| d.worn).collect();
    let no_data: Vec<bool> = days.iter().map(|d| d.no_data).collect();
    sqlx::query(
        "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
             lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
             source, fetched_at, no_data)
         SELECT $1, d, s, s * 0.0007, 600, 200, 0, 0, w, 'fitbit', now(), n
         FROM unnest($2::date[], $3::int4[], $4::int4[], $5::bool[]) AS u(d, s, w, n)
         ON CONFLICT (participant_id, day) DO UPDATE SET steps = EXCLUDED.steps,
             worn_minutes = EXCLUDED.worn_minutes, no_data = EXCLUDED.no_data",
    )
    .bind(participant)
    .bind(&dates)
    .bind(&steps)
    .bind(&worn)
    .bind(&no_data)
    .execute(pool)
    .await
    .unwrap();
}

/// A FitEx-miles season that started 10 days ago (in UTC, as the participant now is) with a
/// fixed goal of 7,000 steps: the participant, Ana and a member without a display name in
/// Walkers; two members who walk more in Striders. Goals and team weeks are computed by the
/// goals engine.
pub async fn seed_season(pool: &PgPool, participant: i64, name: &str) -> Seeded {
    sqlx::query("UPDATE participants SET time_zone = 'UTC' WHERE id = $1")
        .bind(participant)
        .execute(pool)
        .await
        .unwrap();
    let today = today();
    let start = today - Duration::days(10);
    let settings = GoalSettings {
        strategy: Strategy::Guideline(Guideline::Fixed { steps: 7_000 }),
        ..GoalSettings::default()
    };
    let new = NewProgram {
        name,
        start_date: start,
        weeks: 8,
        unit: "fitex_miles",
        goal_settings: &settings,
        mile_rules: &MileRules::default(),
    };
    let program_id = programs::create_program(pool, &new).await.unwrap();
    let walkers = programs::create_team(pool, program_id, "Walkers").await.unwrap();
    let striders = programs::create_team(pool, program_id, "Striders").await.unwrap();
    let ana = new_participant(pool, Some("Ana")).await;
    let nameless = new_participant(pool, None).await;
    let mut striders_members = Vec::new();
    for _ in 0..2 {
        striders_members.push(new_participant(pool, Some("Strider")).await);
    }
    // The nameless member has a provider account: its user id must never show.
    sqlx::query(
        "INSERT INTO provider_connections (participant_id, provider, provider_user_id)
         VALUES ($1, 'fitbit', 'HIDDENUSER9')",
    )
    .bind(nameless)
    .execute(pool)
    .await
    .unwrap();
    for member in [participant, ana, nameless] {
        programs::add_member(pool, walkers, member, start).await.unwrap();
    }
    for member in &striders_members {
        programs::add_member(pool, striders, *member, start).await.unwrap();
    }
    store_days(pool, participant, start, &MY_DAYS).await;
    store_days(pool, ana, start, &[worn(8_000); 11]).await;
    store_days(pool, nameless, start, &[worn(5_000); 11]).await;
    for (index, member) in striders_members.iter().enumerate() {
        store_days(pool, *member, start, &[worn(10_000 + 1_000 * index as i32); 11]).await;
    }
    let engine = GoalsEngine {
        pool: pool.clone(),
        topics: Topics::default(),
        relay_wake: Default::default(),
    };
    let mut everyone = vec![participant, ana, nameless];
    everyone.extend(&striders_members);
    let changes: BTreeMap<i64, Change> = everyone
        .iter()
        .map(|id| {
            (
                *id,
                Change { from: start, trace: TraceParent::new_root(), source: DataSource::Device },
            )
        })
        .collect();
    engine.recompute_batch(&changes).await.unwrap();
    Seeded { program_id, start, today, walkers, striders, ana, nameless, striders_members }
}

/// A signed-in participant (through the simulated Fitbit consent) in `portal`'s browser.
pub async fn signed_in(portal: &TestPortal, user: &str) -> i64 {
    assert_eq!(portal.connect_with_oauth(user).await.status(), StatusCode::SEE_OTHER);
    portal.connection(user).await.1
}

/// The value of `name="…"` in one tag.
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    Some(tag[start..].split('"').next().unwrap_or_default().to_string())
}

/// Every opening tag of `html` that starts with `prefix` (e.g. `<g class="day `).
pub fn tags<'a>(html: &'a str, prefix: &str) -> Vec<&'a str> {
    html.match_indices(prefix)
        .map(|(at, _)| {
            let end = html[at..].find('>').map_or(html.len(), |e| at + e + 1);
            &html[at..end]
        })
        .collect()
}

/// One day of the chart as text: (date, kind, steps, goal); steps and goal empty when none.
pub type ChartPoint = (String, String, String, String);

/// The chart's days, from the `data-` attributes.
pub fn chart_points(html: &str) -> Vec<ChartPoint> {
    tags(html, "<g class=\"day ")
        .into_iter()
        .map(|tag| {
            let get = |name| attribute(tag, name).unwrap_or_default();
            (get("data-date"), get("data-kind"), get("data-steps"), get("data-goal"))
        })
        .collect()
}

/// The chart's days as the database has them (the same four strings).
pub async fn expected_points(
    pool: &PgPool,
    participant: i64,
    program_id: i64,
    start: NaiveDate,
    kinds: &[&str],
) -> Vec<ChartPoint> {
    type Row = (NaiveDate, Option<i32>, Option<bool>, Option<i32>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d::date, a.steps, a.no_data, g.steps
         FROM generate_series($2::date, $2::date + $4 - 1, '1 day') AS d
         LEFT JOIN activity_days a ON a.participant_id = $1 AND a.day = d::date
         LEFT JOIN goal_history g ON g.participant_id = $1 AND g.program_id = $3
              AND g.effective_date = d::date
         ORDER BY d",
    )
    .bind(participant)
    .bind(start)
    .bind(program_id)
    .bind(kinds.len() as i32)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .zip(kinds)
        .map(|((date, steps, no_data, goal), kind)| {
            // A no-data day's stored zero is not a number of steps.
            let steps = steps.filter(|_| no_data != Some(true));
            let text = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_default();
            (date.to_string(), kind.to_string(), text(steps), text(goal))
        })
        .collect()
}

/// The kinds the chart must give [`MY_DAYS`].
pub const MY_KINDS: [&str; 11] = [
    "met", "met", "not-worn", "met", "met", "missed", "met", "not-worn", "met", "outlier", "today",
];

/// The leaderboard rows' team names, in page order, and those marked as the participant's.
pub fn leaderboard_rows(html: &str) -> (Vec<String>, Vec<String>) {
    let rows: Vec<&str> =
        tags(html, "<tr").into_iter().filter(|tag| tag.contains("data-team=")).collect();
    let name = |tag: &&str| attribute(tag, "data-team").unwrap_or_default();
    let names = rows.iter().map(name).collect();
    let yours = rows.iter().filter(|tag| tag.contains("aria-current=\"true\"")).map(name).collect();
    (names, yours)
}

#[tokio::test]
async fn my_season_shows_the_seeded_days_goals_week_and_streaks() {
    let portal = spawn_portal().await;
    let me = signed_in(&portal, "SEASON1").await;
    let seeded = seed_season(&portal.pool, me, "Spring <Season>").await;

    let (status, html) = portal.get_text("/season").await;
    assert_eq!(status, StatusCode::OK);
    // Each day of the chart is the database's day, non-wear days marked and never a zero.
    let expected =
        expected_points(&portal.pool, me, seeded.program_id, seeded.start, &MY_KINDS).await;
    assert_eq!(chart_points(&html), expected, "{html}");
    assert!(expected[2].2.is_empty() && expected[7].2 == "9000", "{expected:?}");
    // Today: 2,600 of 7,000 steps, 37 %.
    assert!(html.contains("2,600 of 7,000 steps"), "{html}");
    assert!(html.contains("<strong>37\u{a0}%</strong> of today's goal"), "{html}");
    // The week (days 7–10 so far): 4.5 + 4.0 + 22.5 (the outlier, capped at 45,000 steps)
    // + 1.3 miles, against 4 × 3.5.
    assert!(html.contains("32.3 of 14.0 FitEx miles"), "{html}");
    assert!(html.contains("the 4 days of week 2 so far"), "{html}");
    assert!(
        html.contains("You met your daily goal on 1 day; the week's goal needs 4 days."),
        "{html}"
    );
    assert!(html.contains(r#"data-streak="current">2 days in a row"#), "{html}");
    assert!(html.contains(r#"data-streak="longest">4 days<"#), "{html}");
    // Why this goal: the engine's explanation and its citation in full.
    let explanation: String = sqlx::query_scalar(
        "SELECT explanation FROM goal_history WHERE participant_id = $1 AND effective_date = $2",
    )
    .bind(me)
    .bind(seeded.today)
    .fetch_one(&portal.pool)
    .await
    .unwrap();
    assert!(html.contains(&explanation), "{explanation} in {html}");
    assert!(html.contains("Lancet Public Health 2022"), "{html}");
    assert!(html.contains("Spring &lt;Season&gt;, week 2 of 8"), "{html}");

    // The status page links to it.
    let (_, status_html) = portal.get_text("/status").await;
    assert!(status_html.contains(r#"href="/season""#), "{status_html}");
}

#[tokio::test]
async fn my_team_shows_each_members_part_and_the_goals_store_leaderboard() {
    let portal = spawn_portal().await;
    let me = signed_in(&portal, "TEAM1").await;
    let seeded = seed_season(&portal.pool, me, "Autumn season").await;

    let (status, html) = portal.get_text("/team").await;
    assert_eq!(status, StatusCode::OK);
    // The team's week as stored by the goals engine.
    let stored = store::team_weeks(&portal.pool, seeded.walkers).await.unwrap();
    let week = stored.iter().find(|w| w.week == 2).expect("week 2 computed");
    let line = format!("{:.1} FitEx miles of {:.1} FitEx miles", week.progress, week.goal);
    assert!(html.contains(&line), "{line} in {html}");
    assert_eq!((week.progress * 10.0).round(), 583.0, "32.3 + 16.0 + 10.0");
    assert!(html.contains("1 of 3 members have met their goal this week."), "{html}");
    // Members by display name or a neutral label, never a provider user id.
    assert!(html.contains(r#"data-member="Team mate 1""#) && html.contains("(you)"), "{html}");
    assert!(html.contains(r#"data-member="Ana""#), "{html}");
    assert!(html.contains(r#"data-member="Team mate 3""#), "{html}");
    for hidden in ["HIDDENUSER9", "TEAM1", "Strider<"] {
        assert!(!html.contains(hidden), "{hidden} in {html}");
    }
    let ana_row = html.split(r#"data-member="Ana""#).nth(1).unwrap().split("</tr>").next().unwrap();
    // Done, then goal: 4 days of 8,000 steps (4.0 miles each) against 4 × 3.5; met on 4 of 4.
    let ana_cells = r#"<td class="number">16.0</td><td class="number">14.0</td><td>Yes"#;
    assert!(ana_row.contains(ana_cells) && ana_row.contains("(4 of 4 days)"), "{ana_row}");
    let nameless_row =
        html.split(r#"data-member="Team mate 3""#).nth(1).unwrap().split("</tr>").next().unwrap();
    let nameless_cells = r#"<td class="number">10.0</td><td class="number">14.0</td><td>Not yet"#;
    assert!(nameless_row.contains(nameless_cells), "{nameless_row}");

    // The leaderboard in the goals store's order, the participant's team marked in words too.
    let (week, standings) =
        store::program_leaderboard(&portal.pool, seeded.program_id, None).await.unwrap();
    assert_eq!(week, 2);
    let order: Vec<String> = standings.iter().map(|s| s.name.clone()).collect();
    assert_eq!(order, ["Striders", "Walkers"], "Striders walk more");
    let (names, yours) = leaderboard_rows(&html);
    assert_eq!(names, order, "{html}");
    assert_eq!(yours, ["Walkers"], "{html}");
    assert!(html.contains("Walkers (your team)"), "{html}");
    let _ = (seeded.ana, seeded.nameless, seeded.striders);
}

#[tokio::test]
async fn an_id_in_the_url_or_a_form_reveals_nothing() {
    let portal = spawn_portal().await;
    let me = signed_in(&portal, "IDS1").await;
    let seeded = seed_season(&portal.pool, me, "Id season").await;
    // Another signed-in participant, a Strider, in a browser of their own.
    let (other, _) = browser_with_jar();
    let strider = seeded.striders_members[0];
    sqlx::query(
        "INSERT INTO provider_connections (participant_id, provider, provider_user_id)
         VALUES ($1, 'fitbit', 'IDS2')",
    )
    .bind(strider)
    .execute(&portal.pool)
    .await
    .unwrap();
    assert_eq!(portal.connect_in(&other, "IDS2").await.status(), StatusCode::SEE_OTHER);
    let (_, strider_id, _, _) = portal.connection("IDS2").await;
    assert_eq!(strider_id, strider, "the simulator's user signs in as the seeded Strider");
    // Connecting read the profile's time zone: back to the season's UTC.
    sqlx::query("UPDATE participants SET time_zone = 'UTC' WHERE id = $1")
        .bind(strider)
        .execute(&portal.pool)
        .await
        .unwrap();

    let (status, _, own_team) = portal.get_in(&other, "/team").await;
    assert_eq!(status, StatusCode::OK);
    assert!(own_team.contains("Team Striders"), "{own_team}");
    let (_, _, own_season) = portal.get_in(&other, "/season").await;

    // Walkers' team id, the first participant's id and the program id, every way a page could
    // be asked for them: the query is ignored, a path with an id is no page.
    let (walkers, me_s, program) =
        (seeded.walkers.to_string(), me.to_string(), seeded.program_id.to_string());
    for query in [
        format!("?team_id={walkers}"),
        format!("?team={walkers}&program_id={program}"),
        format!("?participant_id={me_s}&id={me_s}"),
    ] {
        let (status, _, html) = portal.get_in(&other, &format!("/team{query}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(html, own_team, "/team{query} shows the Strider's own team");
        let (_, _, html) = portal.get_in(&other, &format!("/season{query}")).await;
        assert_eq!(html, own_season, "/season{query} shows the Strider's own season");
        assert!(!html.contains("Ana") && !html.contains("Team mate"), "{html}");
    }
    for path in [
        format!("/team/{walkers}"),
        format!("/season/{me_s}"),
        format!("/teams/{walkers}"),
        format!("/participants/{me_s}/season"),
        format!("/programs/{program}/leaderboard"),
    ] {
        let (status, _, html) = portal.get_in(&other, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!html.contains("Ana") && !html.contains("Walkers"), "{path}: {html}");
    }
    // A form posting an id is not a way in either.
    let posted = other
        .post(portal.url("/team"))
        .form(&[("team_id", walkers.as_str()), ("participant_id", me_s.as_str())])
        .send()
        .await
        .unwrap();
    assert_ne!(posted.status(), StatusCode::OK);
    let body = posted.text().await.unwrap();
    assert!(!body.contains("Ana") && !body.contains("Team mate"), "{body}");

    // Signed out, the pages send to sign in and show nothing.
    let (stranger, _) = browser_with_jar();
    for path in ["/season", "/team", "/team?team_id=1"] {
        let (status, to, html) = portal.get_in(&stranger, path).await;
        assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"), "{path}");
        assert!(html.is_empty(), "{path}: {html}");
    }
}

#[tokio::test]
async fn no_team_and_a_season_not_started_are_explained_plainly() {
    let portal = spawn_portal().await;
    let me = signed_in(&portal, "ALONE1").await;
    for path in ["/season", "/team"] {
        let (status, html) = portal.get_text(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(html.contains("You are not in a team yet."), "{path}: {html}");
        assert!(!html.contains("Something went wrong"), "{html}");
    }

    let start = today() + Duration::days(12);
    let new = NewProgram {
        name: "Summer season",
        start_date: start,
        weeks: 8,
        unit: "fitex_miles",
        goal_settings: &GoalSettings::default(),
        mile_rules: &MileRules::default(),
    };
    let program = programs::create_program(&portal.pool, &new).await.unwrap();
    let team = programs::create_team(&portal.pool, program, "Early birds").await.unwrap();
    programs::add_member(&portal.pool, team, me, start).await.unwrap();
    let when = start.format("%-d %B %Y").to_string();
    for path in ["/season", "/team"] {
        let (status, html) = portal.get_text(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            html.contains(&format!("Summer season starts on <strong>{when}</strong>")),
            "{html}"
        );
        assert!(html.contains("You are in team Early birds."), "{html}");
        assert!(!html.contains("<svg class=\"chart\"") && !html.contains("Leaderboard"), "{html}");
    }
}

#[tokio::test]
async fn a_season_that_is_over_shows_its_whole_run_without_today() {
    let portal = spawn_portal().await;
    let me = signed_in(&portal, "OVER1").await;
    sqlx::query("UPDATE participants SET time_zone = 'UTC' WHERE id = $1")
        .bind(me)
        .execute(&portal.pool)
        .await
        .unwrap();
    let start = today() - Duration::days(30);
    let settings = GoalSettings {
        strategy: Strategy::Guideline(Guideline::Fixed { steps: 7_000 }),
        ..GoalSettings::default()
    };
    let new = NewProgram {
        name: "Winter season",
        start_date: start,
        weeks: 2,
        unit: "steps",
        goal_settings: &settings,
        mile_rules: &MileRules::default(),
    };
    let program = programs::create_program(&portal.pool, &new).await.unwrap();
    let team = programs::create_team(&portal.pool, program, "Finishers").await.unwrap();
    programs::add_member(&portal.pool, team, me, start).await.unwrap();
    store_days(&portal.pool, me, start, &[worn(7_200); 14]).await;
    let engine = GoalsEngine {
        pool: portal.pool.clone(),
        topics: Topics::default(),
        relay_wake: Default::default(),
    };
    engine.recompute(me, start, &TraceParent::new_root()).await.unwrap();

    let (status, html) = portal.get_text("/season").await;
    assert_eq!(status, StatusCode::OK);
    let last = (start + Duration::days(13)).format("%-d %B %Y").to_string();
    assert!(html.contains(&format!("Winter season ended on {last}")), "{html}");
    assert!(!html.contains(r#"id="today""#), "no today once it is over: {html}");
    assert_eq!(chart_points(&html).len(), 14, "every day of the season: {html}");
    assert!(html.contains(r#"data-streak="current">14 days"#), "{html}");
    let (status, html) = portal.get_text("/team").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Leaderboard, week 2") && html.contains("Finishers (your team)"),
        "{html}"
    );
}
