//! `fitexctl season close|correct` and `audit list` as operators run them, against PostgreSQL and
//! the real goals binary (whose relay publishes the SeasonClosed that `season close` leaves in
//! its outbox): a season closes only after its grace period, once; a closed season's total is
//! corrected only with who and why, and the audit log shows it.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_e2e::{infrastructure_env, Fitexctl, ServiceProcess};
use fitex_goals_store::programs;
use fitex_proto::{Message, SeasonClosed};
use sqlx::PgPool;

/// A member of `team` from `start` with 14 days of `steps`.
async fn member_with_days(pool: &PgPool, team: i64, start: NaiveDate, steps: i32) {
    let participant: i64 =
        sqlx::query_scalar("INSERT INTO participants (time_zone) VALUES ('UTC') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    programs::add_member(pool, team, participant, start).await.unwrap();
    sqlx::query(
        "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
             lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
             source, fetched_at)
         SELECT $1, $2::date + n, $3, 1.0, 600, 200, 0, 0, 800, 'fitbit', now()
         FROM generate_series(0, 13) AS n",
    )
    .bind(participant)
    .bind(start)
    .bind(steps)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_season_closes_after_its_grace_period_and_a_correction_needs_who_and_why() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let env = infrastructure_env(&kafka, &database);
    let ctl = Fitexctl { env: env.clone() };
    // The goals service relays the operator's SeasonClosed; its own closer passes once at start
    // and then not for an hour, so the close below is the operator's.
    let port = fitex_testkit::free_port();
    let mut goals_env = env.clone();
    goals_env.push(("FITEX__GOALS__PORT", port.to_string()));
    goals_env.push(("FITEX__GOALS__SEASON_CLOSE_INTERVAL_MS", "3600000".to_string()));
    let goals = ServiceProcess::start("fitex-goals", &goals_env);
    goals.wait_healthy(&format!("http://127.0.0.1:{port}/healthz")).await;

    let (ok, refused) =
        ctl.run(&["programs", "create", "--name", "Too long", "--grace-hours", "5000"], None);
    assert!(!ok && refused.contains("--grace-hours must be at most 2160"), "{refused}");
    // A two-week season that ended 16 days ago, with a 90-day grace period.
    let start = Utc::now().date_naive() - chrono::Duration::days(30);
    let created = ctl.ok(&[
        "programs",
        "create",
        "--name",
        "Spring e2e",
        "--start",
        &start.to_string(),
        "--weeks",
        "2",
        "--unit",
        "steps",
        "--strategy",
        "guideline_fixed:7000",
        "--grace-hours",
        "2160",
    ]);
    assert!(created.contains("grace 2160 hours"), "{created}");
    let program: i64 = created.split_whitespace().nth(1).unwrap().parse().unwrap();
    let other = ctl.ok(&["programs", "create", "--name", "Other e2e"]);
    for (name, steps) in [("North", 9_000), ("South", 4_000)] {
        let team = ctl.ok(&["teams", "create", "--program", &program.to_string(), "--name", name]);
        let team: i64 = team.split_whitespace().nth(1).unwrap().parse().unwrap();
        member_with_days(&pool, team, start, steps).await;
    }
    ctl.ok(&["goals", "recompute", "--program", &program.to_string()]);

    // Refused while the grace period runs: the close, and any correction.
    let deadline = start + chrono::Duration::days(14 + 90);
    let (ok, early) = ctl.run(&["season", "close", "--program", "Spring e2e"], None);
    assert!(!ok, "{early}");
    assert!(
        early.contains(&format!(
            "Spring e2e is not closed: its grace period runs until {deadline} 12:00"
        )),
        "{early}"
    );
    let correct = |progress: &str, by: &str, reason: &str| {
        let args = [
            "season",
            "correct",
            "--program",
            "Spring e2e",
            "--team",
            "South",
            "--progress",
            progress,
            "--by",
            by,
            "--reason",
            reason,
        ];
        ctl.run(&args, None)
    };
    let (ok, open) = correct("70000", "maria", "sync lost in week 2");
    assert!(!ok && open.contains("Spring e2e is not closed yet"), "{open}");

    // The grace period ends (as if 90 days went by): the operator closes it, once.
    sqlx::query("UPDATE programs SET grace_hours = 0 WHERE id = $1")
        .bind(program)
        .execute(&pool)
        .await
        .unwrap();
    let closed = ctl.ok(&["season", "close", "--program", "Spring e2e"]);
    assert!(closed.contains("Spring e2e is closed: its results are final (week 2"), "{closed}");
    assert!(closed.contains("   1  North") && closed.contains("   2  South"), "{closed}");
    let again = ctl.ok(&["season", "close", "--program", &program.to_string()]);
    assert!(again.contains("was already closed on") && again.contains("(by fitexctl)"), "{again}");
    let topic = kafka.topics.seasons.clone();
    let records =
        fitex_testkit::read_records_async(&kafka.brokers, &topic, 2, Duration::from_secs(20)).await;
    assert_eq!(
        records.len(),
        1,
        "one SeasonClosed, relayed by the goals service:\n{}",
        goals.logs()
    );
    let event = SeasonClosed::decode(records[0].payload.as_slice()).unwrap();
    assert_eq!((event.program_id, event.program_name.as_str()), (program, "Spring e2e"));

    // Corrections need who and why, a team of the season, and a progress that is a number ≥ 0.
    for (progress, by, reason, why) in [
        ("70000", "maria", "", "a correction needs a reason"),
        ("70000", "maria", "   ", "a correction needs a reason"),
        ("70000", " ", "sync lost", "a correction needs the name of who makes it"),
        ("-5", "maria", "sync lost", "must be a number of 0 or more"),
    ] {
        let (ok, refused) = correct(progress, by, reason);
        assert!(!ok && refused.contains(why), "{progress} {by:?} {reason:?}: {refused}");
    }
    let (ok, refused) = ctl.run(
        &[
            "season",
            "correct",
            "--program",
            "Spring e2e",
            "--team",
            "Nobody",
            "--progress",
            "1",
            "--by",
            "maria",
            "--reason",
            "why",
        ],
        None,
    );
    assert!(!ok && refused.contains("Spring e2e has no team named \"Nobody\""), "{refused}");
    assert_eq!(ctl.ok(&["audit", "list"]).trim(), "no changes recorded");

    let corrected = correct("70000", "maria", "South's sync was lost in week 2").1;
    assert!(
        corrected.contains("Spring e2e, team South, week 2: progress 28000.0 -> 70000.0")
            && corrected.contains("final rank 2 -> 1"),
        "{corrected}"
    );
    let board = ctl.ok(&["leaderboard", "--program", &program.to_string()]);
    assert!(board.contains("week 2 final leaderboard"), "{board}");
    let first = board.lines().find(|l| l.trim_start().starts_with("1 ")).unwrap_or_default();
    assert!(first.contains("South") && first.contains("70000.0"), "{board}");
    let live: f64 = sqlx::query_scalar(
        "SELECT tp.progress FROM team_progress tp JOIN teams t ON t.id = tp.team_id
         WHERE t.program_id = $1 AND t.name = 'South' AND tp.week = 2",
    )
    .bind(program)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(live, 28_000.0, "team_progress keeps what was synced");

    // The audit log: when, who, what (before and after), why; per program.
    let log = ctl.ok(&["audit", "list", "--program", "Spring e2e"]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log}");
    let today = Utc::now().date_naive().to_string();
    for part in [
        today.as_str(),
        "by maria",
        "season_correct",
        "Spring e2e: team South (id ",
        "week 2",
        "\"progress\":28000",
        "\"final_rank\":2",
        "\"progress\":70000",
        "why: South's sync was lost in week 2",
    ] {
        assert!(lines[0].contains(part), "{part} in {log}");
    }
    let other = other.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(ctl.ok(&["audit", "list", "--program", &other]).trim(), "no changes recorded");
}
