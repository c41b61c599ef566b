//! "Log activity" through the portal, PostgreSQL and the outbox: each bad input is told on the
//! form, by its field, and nothing is stored; a good entry is stored with its source and announced
//! for every day it touches, as the fetcher announces a sync (its outbox, source `fetcher`); it
//! counts in FitEx miles once the goals engine recomputed; nothing changes after the grace
//! deadline; and another participant's entry is never reached through an id. Then the page in
//! headless Chromium, with axe-core, at 1280 and 360 px (tests/browser/activity.cjs).

use chrono::{Duration, NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::outbox::ACTIVITY_SOURCE;
use fitex_common::trace_context::TraceParent;
use fitex_goals::manual::{ActivityKind, EntryProblem, Intensity, ManualEntry};
use fitex_goals::{GoalSettings, MileRules, DEFAULT_GRACE_HOURS};
use fitex_goals_store::manual::{self, ActivityOutbox, EnteredBy, SeasonWindow};
use fitex_goals_store::programs::{self, NewProgram};
use fitex_goals_store::{store, GoalsEngine};
use fitex_proto::{ActivityDayChanged, DataSource, Message};
use reqwest::header::LOCATION;
use reqwest::StatusCode;

use crate::browser::{
    assert_accessible_and_readable, assert_screenshots, browser_tools_with_axe,
    in_a_season_in_the_browser, reported, run_script,
};
use crate::helpers::{
    browser_with_jar, csrf_in, spawn_portal, spawn_portal_plain_http, TestPortal,
};
use crate::season::{attribute, seed_season, signed_in, tags, today};

/// A form's fields, as a browser posts them.
pub type Fields = Vec<(&'static str, String)>;

/// 45 minutes of moderate swimming on `day`, without the tracker.
pub fn swim(day: NaiveDate) -> Fields {
    vec![
        ("day", day.to_string()),
        ("kind", "swimming".into()),
        ("minutes", "45".into()),
        ("intensity", "moderate".into()),
        ("device_worn", "no".into()),
    ]
}

/// `fields` with `name` set to `value`, or left out when `value` is `None`.
fn with(fields: &Fields, name: &str, value: Option<&str>) -> Fields {
    let mut changed: Fields = fields.iter().filter(|(n, _)| *n != name).cloned().collect();
    if let Some(value) = value {
        let name =
            fields.iter().map(|(n, _)| *n).find(|n| *n == name).expect("a field of the form");
        changed.push((name, value.to_string()));
    }
    changed
}

/// Posts `fields` with the session's CSRF token to `path`: (status, `Location` or "", body).
pub async fn post(
    portal: &TestPortal,
    path: &str,
    fields: &[(&str, String)],
) -> (StatusCode, String, String) {
    let (_, page) = portal.get_text("/status").await;
    let csrf = csrf_in(&page);
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    form.push(("csrf", &csrf));
    let response = portal.client.post(portal.url(path)).form(&form).send().await.unwrap();
    let to = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_string());
    (response.status(), to.unwrap_or_default(), response.text().await.unwrap())
}

/// The activity events waiting in the fetcher's outbox (its relay publishes them), oldest first.
async fn announced(portal: &TestPortal) -> Vec<ActivityDayChanged> {
    let topic = Topics::default().activity_days;
    let payloads = fitex_testkit::outbox_payloads(&portal.pool, ACTIVITY_SOURCE, &topic).await;
    payloads.iter().map(|p| ActivityDayChanged::decode(p.as_slice()).unwrap()).collect()
}

/// A stored entry: id, day, kind, minutes, intensity, device worn, source, entered by.
type Row = (i64, NaiveDate, String, i32, String, bool, String, String);

/// The participant's stored entries, in id order.
async fn stored(portal: &TestPortal, participant: i64) -> Vec<Row> {
    sqlx::query_as(
        "SELECT id, day, kind, minutes, intensity, device_worn, source, entered_by
         FROM manual_activities WHERE participant_id = $1 ORDER BY id",
    )
    .bind(participant)
    .fetch_all(&portal.pool)
    .await
    .unwrap()
}

/// The message shown by `field`, if any.
fn field_error(html: &str, field: &str) -> Option<String> {
    let marker = format!(r#"id="{field}-error"><span class="visually-hidden">Error: </span>"#);
    let start = html.find(&marker)? + marker.len();
    html[start..].split("</p>").next().map(str::to_string)
}

/// The error summary at the top of the page, if any.
fn error_summary(html: &str) -> Option<&str> {
    let start = html.find(r#"<div class="error-summary" role="alert""#)?;
    html[start..].split("</div>").next()
}

/// The opening tag of the control that `field`'s summary link leads to.
fn control<'a>(html: &'a str, field: &str) -> &'a str {
    let prefix = match field {
        "kind" => r#"<select id="kind""#.to_string(),
        "device_worn" => r#"<input type="radio" id="device_worn-yes""#.to_string(),
        other => format!(r#"<input id="{other}""#),
    };
    tags(html, &prefix).pop().unwrap_or_else(|| panic!("no {prefix} in {html}"))
}

/// `me` in the only team of a new program (`name`, counting `unit`) of `weeks` from `start`, whose
/// entries settle `grace_hours` after its last day; the program's id.
async fn enrol(
    portal: &TestPortal,
    me: i64,
    (name, unit): (&str, &str),
    start: NaiveDate,
    weeks: u32,
    grace_hours: u32,
) -> i64 {
    let (goal_settings, mile_rules) = (GoalSettings::default(), MileRules::default());
    let new = NewProgram {
        name,
        start_date: start,
        weeks,
        unit,
        goal_settings: &goal_settings,
        mile_rules: &mile_rules,
    };
    let program =
        programs::create_program_with_grace(&portal.pool, &new, grace_hours).await.unwrap();
    let team = programs::create_team(&portal.pool, program, "Team one").await.unwrap();
    programs::add_member(&portal.pool, team, me, start).await.unwrap();
    program
}

/// The signed-in participant in a running FitEx-miles season (`season::seed_season`: started 10
/// days ago, 8 weeks, in UTC).
async fn in_a_season(user: &str) -> (TestPortal, i64, crate::season::Seeded) {
    let portal = spawn_portal().await;
    let me = signed_in(&portal, user).await;
    let seeded = seed_season(&portal.pool, me, &format!("{user} season")).await;
    (portal, me, seeded)
}

#[tokio::test]
async fn each_bad_input_is_told_by_its_field_and_nothing_is_stored() {
    let (portal, me, seeded) = in_a_season("FORM1").await;
    let (start, today) = (seeded.start, seeded.today);
    let last_day = start + Duration::days(8 * 7 - 1);
    let full_day = today - Duration::days(1);
    let almost_a_day = with(&swim(full_day), "minutes", Some("1400"));
    assert_eq!(post(&portal, "/activity", &almost_a_day).await.1, "/activity");
    let (entries, events) = (stored(&portal, me).await, announced(&portal).await.len());
    assert_eq!((entries.len(), events), (1, 1));

    let good = swim(today);
    let outside = EntryProblem::OutsideSeason { start, last_day };
    let cases: Vec<(&str, Fields, EntryProblem)> = vec![
        ("0 minutes", with(&good, "minutes", Some("0")), EntryProblem::NoMinutes),
        ("1,441 minutes", with(&good, "minutes", Some("1441")), EntryProblem::MoreThanADay),
        (
            "a day before the season",
            with(&good, "day", Some(&(start - Duration::days(1)).to_string())),
            outside.clone(),
        ),
        (
            "a day after the season",
            with(&good, "day", Some(&(last_day + Duration::days(1)).to_string())),
            outside,
        ),
        (
            "tomorrow",
            with(&good, "day", Some(&(today + Duration::days(1)).to_string())),
            EntryProblem::InTheFuture { day: today + Duration::days(1) },
        ),
        ("an unknown kind", with(&good, "kind", Some("skydiving")), EntryProblem::UnknownKind),
        (
            "a day past 24 hours",
            with(&swim(full_day), "minutes", Some("41")),
            EntryProblem::DayOverfull { day: full_day, already: 1400, minutes: 41 },
        ),
        ("no tracker answer", with(&good, "device_worn", None), EntryProblem::DeviceWornUnanswered),
    ];
    for (case, fields, problem) in cases {
        let (status, _, html) = post(&portal, "/activity", &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{case}");
        let message = problem.to_string();
        let field = problem.field();
        // At the top, a link to the field; by the field, the message; the field marked.
        let summary =
            error_summary(&html).unwrap_or_else(|| panic!("{case}: no summary in {html}"));
        let target = if field == "device_worn" { "device_worn-yes" } else { field };
        let link = format!(r##"<a href="#{target}">{message}</a>"##);
        assert!(summary.contains(&link), "{case}: {link} in {summary}");
        assert_eq!(field_error(&html, field).as_deref(), Some(message.as_str()), "{case}");
        let tag = control(&html, field);
        assert_eq!(attribute(tag, "aria-invalid").as_deref(), Some("true"), "{case}: {tag}");
        if field != "device_worn" {
            let described = attribute(tag, "aria-describedby").unwrap_or_default();
            assert!(described.split(' ').any(|id| id == format!("{field}-error")), "{case}: {tag}");
        }
        // What was typed is kept.
        for (name, value) in &fields {
            if *name == "minutes" || *name == "day" {
                assert!(control(&html, name).contains(&format!(r#"value="{value}""#)), "{case}");
            }
        }
        // Nothing stored, nothing announced.
        assert_eq!(stored(&portal, me).await, entries, "{case}");
        assert_eq!(announced(&portal).await.len(), events, "{case}");
    }
}

#[tokio::test]
async fn a_good_entry_is_stored_as_manual_and_announced_for_its_day() {
    let (portal, me, seeded) = in_a_season("GOOD1").await;
    let day = seeded.today - Duration::days(2);
    let vigorous = with(&swim(day), "intensity", Some("vigorous"));
    let (status, to, _) = post(&portal, "/activity", &vigorous).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/activity"));

    let rows = stored(&portal, me).await;
    let [(id, stored_day, kind, minutes, intensity, worn, source, entered_by)] = &rows[..] else {
        panic!("one entry: {rows:?}");
    };
    assert_eq!(
        (*stored_day, kind.as_str(), *minutes, intensity.as_str(), *worn),
        (day, "swimming", 45, "vigorous", false)
    );
    assert_eq!((source.as_str(), entered_by.as_str()), ("manual", "participant"));

    // Announced like a sync, for its day, saying where it came from.
    let events = announced(&portal).await;
    let [event] = &events[..] else { panic!("one event: {events:?}") };
    assert_eq!((event.participant_id, event.date.as_str()), (me, day.to_string().as_str()));
    assert_eq!(event.source, DataSource::Manual as i32);
    assert_eq!(event.entered_by, "participant");
    let logged = event.manual.as_ref().expect("the day's logged minutes");
    assert_eq!((logged.unworn_vigorous_minutes, logged.worn_moderate_minutes), (45, 0));
    assert_eq!((event.steps, event.no_data), (8_000, false), "the provider's day as stored");

    // Back on the page: said once, and listed.
    let (_, html) = portal.get_text("/activity").await;
    let saved = format!("Saved: 45 minutes of swimming on {}.", day.format("%-d %B"));
    assert!(html.contains(&saved), "{saved} in {html}");
    let entry = tags(&html, &format!(r#"<li data-entry="{id}""#)).pop().expect("the entry listed");
    assert_eq!(attribute(entry, "data-day"), Some(day.to_string()));
    assert!(html.contains(&format!(r#"href="/activity/{id}/edit""#)), "{html}");
    let (_, again) = portal.get_text("/activity").await;
    assert!(!again.contains(&saved), "the note is shown once");
}

#[tokio::test]
async fn editing_and_deleting_announce_every_day_they_touch() {
    let (portal, me, seeded) = in_a_season("EDIT1").await;
    let (first_day, moved_to) =
        (seeded.today - Duration::days(3), seeded.today - Duration::days(1));
    assert_eq!(post(&portal, "/activity", &swim(first_day)).await.0, StatusCode::SEE_OTHER);
    let id = stored(&portal, me).await[0].0;
    let edit = format!("/activity/{id}");

    let (status, html) = portal.get_text(&format!("{edit}/edit")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(r#"action="{edit}""#)), "{html}");
    assert!(control(&html, "day").contains(&format!(r#"value="{first_day}""#)), "{html}");
    assert!(html.contains(r#"<option value="swimming" selected>"#), "{html}");
    assert!(html.contains(r#"value="no" checked"#), "{html}");

    // A bad change comes back on the edit page, and changes nothing.
    let ride = vec![
        ("day", moved_to.to_string()),
        ("kind", "cycling".into()),
        ("minutes", "30".into()),
        ("intensity", "moderate".into()),
        ("device_worn", "yes".into()),
    ];
    let (status, _, html) = post(&portal, &edit, &with(&ride, "minutes", Some("-5"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("<h1>Change an entry</h1>") && html.contains(r#"value="-5""#), "{html}");
    assert_eq!(stored(&portal, me).await[0].1, first_day);
    assert_eq!(announced(&portal).await.len(), 1);

    // Moved to another day: both days are announced, the first now without it.
    let (status, to, _) = post(&portal, &edit, &ride).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/activity"));
    let row = &stored(&portal, me).await[0];
    assert_eq!((row.1, row.2.as_str(), row.3, row.5), (moved_to, "cycling", 30, true));
    let events = announced(&portal).await;
    let changed: Vec<(String, i32, i32)> = events[1..]
        .iter()
        .map(|e| {
            let m = e.manual.unwrap_or_default();
            assert_eq!(e.source, DataSource::Manual as i32);
            (e.date.clone(), m.unworn_moderate_minutes, m.worn_moderate_minutes)
        })
        .collect();
    assert_eq!(changed, [(first_day.to_string(), 0, 0), (moved_to.to_string(), 0, 30)]);
    let (_, html) = portal.get_text("/activity").await;
    assert!(
        html.contains(&format!("Changed: 30 minutes of cycling on {}.", moved_to.format("%-d %B")))
    );

    let (status, to, _) = post(&portal, &format!("{edit}/delete"), &[]).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/activity"));
    assert!(stored(&portal, me).await.is_empty());
    let events = announced(&portal).await;
    let last = events.last().unwrap();
    assert_eq!((events.len(), last.date.clone()), (4, moved_to.to_string()));
    assert_eq!(last.manual.unwrap_or_default().worn_moderate_minutes, 0);
    let (_, html) = portal.get_text("/activity").await;
    assert!(
        html.contains("Deleted: 30 minutes of cycling on") && html.contains("Nothing logged yet.")
    );
}

#[tokio::test]
async fn another_participants_entry_is_never_reached_through_an_id() {
    let (portal, me, seeded) = in_a_season("IDS3").await;
    // Ana, in the same team, logged a swim.
    let program = store::program(&portal.pool, seeded.program_id).await.unwrap().unwrap();
    let window = SeasonWindow::of(&program);
    let trace = TraceParent::new_root();
    let topic = Topics::default().activity_days;
    let anas_swim = ManualEntry {
        day: seeded.today - Duration::days(1),
        kind: ActivityKind::Swimming,
        minutes: 50,
        intensity: Intensity::Moderate,
        device_worn: false,
    };
    let events_to = ActivityOutbox { topic: &topic, trace: &trace };
    let participant = EnteredBy::Participant;
    let anas = manual::add(
        &portal.pool,
        events_to,
        seeded.ana,
        &window,
        &anas_swim,
        &participant,
        Utc::now(),
    )
    .await
    .unwrap();
    let ana_before = stored(&portal, seeded.ana).await;
    let events = announced(&portal).await.len();

    let (_, own) = portal.get_text("/activity").await;
    assert!(!own.contains(&format!(r#"data-entry="{anas}""#)), "{own}");
    let good = swim(seeded.today);
    for id in
        [anas.to_string(), "abc".into(), "-1".into(), "0".into(), "1.5".into(), "9".repeat(30)]
    {
        let (status, html) = portal.get_text(&format!("/activity/{id}/edit")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "edit {id}");
        assert!(!html.contains("50 minutes") && !html.contains("<form class=\"entry\""), "{html}");
        assert_eq!(
            post(&portal, &format!("/activity/{id}"), &good).await.0,
            StatusCode::NOT_FOUND,
            "{id}"
        );
        let delete = post(&portal, &format!("/activity/{id}/delete"), &[]).await.0;
        assert_eq!(delete, StatusCode::NOT_FOUND, "delete {id}");
    }
    // An id in the form is no way in either: the entry is the signed-in participant's own.
    let naming_ana =
        [good.clone(), vec![("participant_id", seeded.ana.to_string()), ("id", anas.to_string())]]
            .concat();
    assert_eq!(post(&portal, "/activity", &naming_ana).await.0, StatusCode::SEE_OTHER);
    assert_eq!(stored(&portal, me).await.len(), 1);
    assert_eq!(stored(&portal, seeded.ana).await, ana_before, "Ana's entry is untouched");
    let after = announced(&portal).await;
    assert_eq!(after.len(), events + 1);
    assert_eq!(after.last().unwrap().participant_id, me);

    // Signed out: to the start page, nothing shown or stored.
    let (stranger, _) = browser_with_jar();
    let anas_edit = format!("/activity/{anas}/edit");
    for path in ["/activity", anas_edit.as_str()] {
        let (status, to, html) = portal.get_in(&stranger, path).await;
        assert_eq!(
            (status, to.as_str(), html.as_str()),
            (StatusCode::SEE_OTHER, "/", ""),
            "{path}"
        );
    }
    let posted = stranger.post(portal.url("/activity")).form(&good).send().await.unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored(&portal, me).await.len(), 1);
}

#[tokio::test]
async fn after_the_grace_deadline_nothing_is_added_changed_or_deleted() {
    let portal = spawn_portal().await;
    let me = signed_in(&portal, "LATE1").await;
    let pool = &portal.pool;
    sqlx::query("UPDATE participants SET time_zone = 'UTC' WHERE id = $1")
        .bind(me)
        .execute(pool)
        .await
        .unwrap();
    // Two weeks that ended a month ago, without a grace period.
    let start = today() - Duration::days(45);
    let program = enrol(&portal, me, ("Winter season", "fitex_miles"), start, 2, 0).await;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO manual_activities
             (participant_id, day, kind, minutes, intensity, device_worn, entered_by)
         VALUES ($1, $2, 'cycling', 50, 'moderate', true, 'participant') RETURNING id",
    )
    .bind(me)
    .bind(start + Duration::days(3))
    .fetch_one(pool)
    .await
    .unwrap();
    let row = store::program(pool, program).await.unwrap().unwrap();
    let settled =
        EntryProblem::SeasonSettled { deadline: row.program.grace_deadline() }.to_string();
    let before = stored(&portal, me).await;

    let (status, html) = portal.get_text("/activity").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&settled), "{settled} in {html}");
    assert!(html.contains(&format!(r#"data-entry="{id}""#)), "the entry is still shown: {html}");
    assert!(!html.contains(r#"<form class="entry""#) && !html.contains("/edit\""), "{html}");

    let a_ride = with(&swim(start + Duration::days(4)), "kind", Some("cycling"));
    for (path, fields) in [
        ("/activity".to_string(), a_ride.clone()),
        // Even a form with bad fields gets only the season's message.
        ("/activity".to_string(), with(&a_ride, "minutes", Some("0"))),
        (format!("/activity/{id}"), a_ride.clone()),
        (format!("/activity/{id}/delete"), vec![]),
    ] {
        let (status, _, html) = post(&portal, &path, &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let summary = error_summary(&html).unwrap_or_else(|| panic!("{path}: {html}"));
        assert!(summary.contains(&format!("<li>{settled}</li>")), "{path}: {summary}");
        assert!(field_error(&html, "minutes").is_none(), "{path}: {html}");
        assert_eq!(stored(&portal, me).await, before, "{path}");
    }
    let (status, html) = portal.get_text(&format!("/activity/{id}/edit")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&settled) && !html.contains(r#"<form class="entry""#), "{html}");
    assert!(announced(&portal).await.is_empty(), "nothing announced");
}

#[tokio::test]
async fn no_team_and_a_season_not_started_are_explained_as_on_the_season_pages() {
    let portal = spawn_portal().await;
    let me = signed_in(&portal, "ALONE2").await;
    let (status, html) = portal.get_text("/activity").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You are not in a team yet.") && !html.contains("<form class=\"entry\""));
    let (status, _, html) = post(&portal, "/activity", &swim(today())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("You are not in a team yet."), "{html}");

    let start = today() + Duration::days(12);
    enrol(&portal, me, ("Summer season", "steps"), start, 8, DEFAULT_GRACE_HOURS).await;
    let (_, season) = portal.get_text("/season").await;
    let (_, html) = portal.get_text("/activity").await;
    let when = format!("Summer season starts on <strong>{}</strong>", start.format("%-d %B %Y"));
    assert!(season.contains(&when) && html.contains(&when), "{html}");
    assert!(!html.contains("<form class=\"entry\""), "{html}");
    assert_eq!(
        post(&portal, "/activity", &swim(today())).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert!(stored(&portal, me).await.is_empty());
}

#[tokio::test]
async fn a_logged_activity_counts_in_fitex_miles_once_recomputed() {
    let (portal, me, seeded) = in_a_season("MILES1").await;
    let (_, before) = portal.get_text("/season").await;
    assert!(before.contains("32.3 of 14.0 FitEx miles"), "{before}");
    let week = |weeks: Vec<fitex_goals::TeamWeek>| {
        let week = weeks.into_iter().find(|w| w.week == 2).expect("week 2");
        (week.progress * 10.0).round()
    };
    assert_eq!(week(store::team_weeks(&portal.pool, seeded.walkers).await.unwrap()), 583.0);

    // An hour's swim without the tracker today: 60 / 15 = 4 FitEx miles more.
    let hour = with(&swim(seeded.today), "minutes", Some("60"));
    assert_eq!(post(&portal, "/activity", &hour).await.0, StatusCode::SEE_OTHER);
    let engine = GoalsEngine {
        pool: portal.pool.clone(),
        topics: Topics::default(),
        relay_wake: Default::default(),
    };
    engine.recompute(me, seeded.today, &TraceParent::new_root()).await.unwrap();

    let (_, after) = portal.get_text("/season").await;
    assert!(after.contains("36.3 of 14.0 FitEx miles"), "{after}");
    let today = tags(&after, "<g class=\"day ")
        .into_iter()
        .find(|tag| attribute(tag, "data-date") == Some(seeded.today.to_string()))
        .expect("today on the chart");
    assert_eq!(attribute(today, "data-source").as_deref(), Some("device+manual"), "{today}");
    assert_eq!(attribute(today, "data-logged-minutes").as_deref(), Some("60"), "{today}");
    assert_eq!(week(store::team_weeks(&portal.pool, seeded.walkers).await.unwrap()), 623.0);
}

#[tokio::test]
async fn logging_activity_in_the_browser_tells_each_problem_plainly_and_passes_axe() {
    let test = "logging_activity_in_the_browser_tells_each_problem_plainly_and_passes_axe";
    let Some((browser, axe)) = browser_tools_with_axe(test) else { return };
    let portal = spawn_portal_plain_http().await;
    let (dir, me, seeded) =
        in_a_season_in_the_browser(&browser, &portal, "BROWSE4", "activity").await;
    let state = dir.join("state.json");
    let (state, shots) = (state.to_str().unwrap(), dir.to_str().unwrap());
    let today = seeded.today.to_string();

    let output = run_script(
        &browser,
        "activity.cjs",
        &[&portal.base, state, shots, &today],
        &[("AXE_CORE", &axe)],
    )
    .await;

    // Logged in the browser at each width, stored, and listed as stored.
    let logged = reported(&output, "LOGGED");
    assert_eq!(logged.len(), 2, "{output}");
    let rows = stored(&portal, me).await;
    let expected: Vec<(NaiveDate, &str, i32)> =
        vec![(seeded.today, "cycling", 40), (seeded.today, "swimming", 25)];
    let got: Vec<(NaiveDate, &str, i32)> = rows.iter().map(|r| (r.1, r.2.as_str(), r.3)).collect();
    assert_eq!(got, expected);
    for (step, row) in logged.iter().zip(&rows) {
        assert_eq!(
            (step["status"].as_u64(), step["path"].as_str()),
            (Some(200), Some("/activity"))
        );
        let minutes = row.3;
        let kind = row.2.parse::<ActivityKind>().unwrap().label().to_lowercase();
        let note =
            format!("Saved: {minutes} minutes of {kind} on {}.", seeded.today.format("%-d %B"));
        assert_eq!(step["note"].as_str(), Some(note.as_str()));
        let listed = step["entries"].as_array().unwrap();
        assert!(listed.iter().any(|e| e["id"].as_i64() == Some(row.0)), "{step}");
    }

    // The bad one: 422, the summary's links lead to their fields, each field tells its problem.
    let problems =
        [EntryProblem::UnknownKind, EntryProblem::NoMinutes, EntryProblem::DeviceWornUnanswered];
    let errors = reported(&output, "ERRORS");
    assert_eq!(errors.len(), 2, "{output}");
    for step in &errors {
        assert_eq!(step["status"].as_u64(), Some(422), "{step}");
        assert_eq!(step["summaryRole"].as_str(), Some("alert"));
        assert_eq!(step["title"].as_str(), Some("Error: Log activity · FitEx"));
        assert_eq!(step["minutesKept"].as_str(), Some("0"), "the value typed is kept");
        let links: Vec<(String, String)> = step["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["text"].as_str().unwrap().to_string(),
                    l["leadsTo"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let wanted: Vec<(String, String)> =
            problems.iter().map(|p| (p.to_string(), p.field().to_string())).collect();
        assert_eq!(links, wanted, "{step}");
        for field in step["fields"].as_array().unwrap() {
            let name = field["field"].as_str().unwrap();
            let problem = problems.iter().find(|p| p.field() == name);
            let message = problem.map(|p| format!("Error: {p}"));
            assert_eq!(field["message"].as_str(), message.as_deref(), "{field}");
            let bad = problem.is_some();
            assert_eq!(field["invalid"].as_bool(), Some(bad), "{field}");
            assert_eq!(field["describedByError"].as_bool(), Some(bad), "{field}");
        }
    }
    assert_eq!(stored(&portal, me).await.len(), 2, "the bad ones stored nothing");

    // No serious or critical axe-core violation, no horizontal scrolling, with and without errors.
    assert_accessible_and_readable(&output, 4);
    assert_screenshots(
        &dir,
        [
            "activity-1280.png",
            "activity-360.png",
            "activity-errors-1280.png",
            "activity-errors-360.png",
        ],
    );
    eprintln!("screenshots in {}", dir.display());
}
