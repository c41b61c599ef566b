use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn the_read_api_requires_the_bearer_token() {
    let app = spawn_goals().await;
    for token in [None, Some("wrong")] {
        let mut request = app.client.get(format!("{}/v1/participants/1/goal", app.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    let spec = app.client.get(format!("{}/v1/openapi.json", app.base_url)).send().await.unwrap();
    assert_eq!(spec.status().as_u16(), 200, "the API description is public");
    let spec: serde_json::Value = spec.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.0.3");
    assert_eq!(app.get("/v1/participants/999999/goal").await.status().as_u16(), 404);
}

#[tokio::test]
async fn goal_progress_leaderboard_and_export_are_served() {
    let app = spawn_goals().await;
    let program = app.program("Winter season", 7, "fitex_miles").await;
    let start = today() - chrono::Duration::days(7);
    let (north, south) = (app.team(program, "North").await, app.team(program, "South").await);
    let a = app.member(north, start).await;
    let b = app.member(south, start).await;
    for offset in 0..=7 {
        let date = start + chrono::Duration::days(offset);
        app.store_day(a, date, 9000).await;
        app.store_day(b, date, 4000).await;
    }
    app.publish_day(a, start, 9000).await;
    app.publish_day(b, start, 4000).await;
    wait_for("both participants' goals", Duration::from_secs(20), || async {
        app.goal_rows(a).await.len() == 8 && app.goal_rows(b).await.len() == 8
    })
    .await;

    let goal: serde_json::Value =
        app.get(&format!("/v1/participants/{a}/goal")).await.json().await.unwrap();
    assert_eq!(goal["program_id"], program);
    assert_eq!(goal["unit"], "fitex_miles");
    assert_eq!(goal["today"]["steps"], 9000);
    assert!(
        (goal["today"]["progress"].as_f64().unwrap() - 4.5).abs() < 1e-9,
        "9,000 steps = 4.5 FitEx miles"
    );
    assert!(goal["goal"]["explanation"].as_str().unwrap().len() > 10);

    let history: serde_json::Value =
        app.get(&format!("/v1/participants/{a}/goals")).await.json().await.unwrap();
    assert_eq!(history["goals"].as_array().unwrap().len(), 8);

    wait_for("team progress", Duration::from_secs(20), || async {
        let body: serde_json::Value =
            app.get(&format!("/v1/teams/{north}/progress")).await.json().await.unwrap();
        body["weeks"].as_array().is_some_and(|w| !w.is_empty())
    })
    .await;
    let board: serde_json::Value =
        app.get(&format!("/v1/programs/{program}/leaderboard?week=1")).await.json().await.unwrap();
    let teams = board["teams"].as_array().unwrap();
    assert_eq!(teams.len(), 2);
    assert_eq!(teams[0]["rank"], 1);
    assert_eq!(
        app.get(&format!("/v1/programs/{program}/leaderboard?week=99")).await.status().as_u16(),
        400
    );

    let csv = app.get(&format!("/v1/programs/{program}/export.csv")).await;
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "participant_id,team_id,date,steps,worn_minutes,validity,goal_steps,goal_provisional,goal_strategy,final"
    );
    assert_eq!(lines.count(), 16, "8 days for each of 2 participants");
    assert!(csv.contains(&format!("{a},{north},{start},9000,800,valid,")));
}

#[tokio::test]
async fn staff_and_service_tokens_have_scopes_and_can_be_revoked() {
    use fitex_common::api_tokens::{self, Scope};
    let app = spawn_goals().await;
    let program = app.program("Scoped season", 7, "steps").await;
    let team = app.team(program, "North").await;
    let participant = app.member(team, today() - chrono::Duration::days(7)).await;
    let read = api_tokens::issue(&app.pool, "dashboard", Scope::Read).await.unwrap();
    let coach = api_tokens::issue(&app.pool, "coach-app", Scope::Participant).await.unwrap();
    let admin = api_tokens::issue(&app.pool, "staff", Scope::Admin).await.unwrap();
    let get = |token: &str, path: &str| {
        let request =
            app.client.get(format!("{}{path}", app.base_url)).bearer_auth(token.to_string());
        async move { request.send().await.unwrap() }
    };
    let aggregates =
        [format!("/v1/programs/{program}/leaderboard"), format!("/v1/teams/{team}/progress")];
    let participant_level = [
        format!("/v1/participants/{participant}/goal"),
        format!("/v1/participants/{participant}/goals"),
    ];
    let export = format!("/v1/programs/{program}/export.csv");

    for path in &aggregates {
        for token in [&read, &coach, &admin] {
            assert_eq!(get(token, path).await.status().as_u16(), 200, "{path} is team-level");
        }
    }
    // The attack: a `read` token (a leaderboard screen) asks for one participant's time zone,
    // daily steps and valid days.
    for path in &participant_level {
        let refused = get(&read, path).await;
        assert_eq!(refused.status().as_u16(), 403, "read scope cannot read {path}");
        assert_eq!(refused.headers()["content-type"], "application/json");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "this needs a token with the participant scope");
        assert!(!body.to_string().contains("time_zone"), "{body}");
        for token in [&coach, &admin] {
            let served = get(token, path).await;
            assert_eq!(served.status().as_u16(), 200, "{path}");
            let body: serde_json::Value = served.json().await.unwrap();
            assert_eq!(body["participant_id"], participant);
        }
    }
    for (token, expected) in [(&read, 403), (&coach, 403), (&admin, 200)] {
        assert_eq!(get(token, &export).await.status().as_u16(), expected, "export is admin-only");
    }

    assert!(api_tokens::revoke(&app.pool, "dashboard").await.unwrap());
    assert_eq!(get(&read, &aggregates[0]).await.status().as_u16(), 401, "revoked");
    assert!(api_tokens::revoke(&app.pool, "coach-app").await.unwrap());
    assert_eq!(get(&coach, &participant_level[0]).await.status().as_u16(), 401, "revoked");
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(&app.pool).await.unwrap();
    assert!(
        stored.iter().all(|h| h.len() == 32 && !String::from_utf8_lossy(h).contains("fxs_")),
        "only hashes kept"
    );
}

#[tokio::test]
async fn a_day_without_data_is_non_wear_not_an_inactive_day() {
    let app = spawn_goals().await;
    // A program whose rules make a genuine day of zero steps (worn all day) a valid day.
    let settings =
        r#"{"validity": {"non_wear_below_steps": 0, "min_steps_without_heart_rate": 0}}"#;
    let start = today() - chrono::Duration::days(3);
    let program: i64 = sqlx::query_scalar(
        "INSERT INTO programs (name, start_date, weeks, unit, goal_settings, mile_rules)
         VALUES ('No-data season', $1, 8, 'steps', $2::jsonb, '{}'::jsonb) RETURNING id",
    )
    .bind(start)
    .bind(settings)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let team = app.team(program, "East").await;
    let a = app.member(team, start).await;
    let (zero, gap) = (start, start + chrono::Duration::days(1));
    app.store_day(a, zero, 0).await;
    // What the fetcher stores for a day the provider holds nothing for.
    sqlx::query(
        "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
             lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
             source, fetched_at, no_data)
         VALUES ($1, $2, 0, 0, 0, 0, 0, 0, NULL, 'google_health', now(), true)",
    )
    .bind(a)
    .bind(gap)
    .execute(&app.pool)
    .await
    .unwrap();
    app.publish_day(a, zero, 0).await;
    wait_for("the participant's goals", Duration::from_secs(20), || async {
        !app.goal_rows(a).await.is_empty()
    })
    .await;
    let csv = app.get(&format!("/v1/programs/{program}/export.csv")).await.text().await.unwrap();
    assert!(csv.contains(&format!("{a},{team},{zero},0,800,valid,")), "{csv}");
    assert!(csv.contains(&format!("{a},{team},{gap},0,,non_wear,")), "{csv}");
}

#[tokio::test]
async fn the_api_description_names_the_scope_each_route_enforces() {
    use fitex_common::api_tokens::{self, Scope};
    let app = spawn_goals().await;
    let program = app.program("Described season", 7, "steps").await;
    let team = app.team(program, "North").await;
    let participant = app.member(team, today() - chrono::Duration::days(7)).await;
    let spec: serde_json::Value = serde_json::from_str(fitex_goals_service::api::OPENAPI).unwrap();
    let mut tokens = Vec::new();
    for scope in Scope::ALL {
        let token = api_tokens::issue(&app.pool, scope.as_str(), scope).await.unwrap();
        tokens.push((scope, token));
    }
    let mut checked = 0;
    for (template, item) in spec["paths"].as_object().unwrap() {
        if template == "/v1/openapi.json" {
            continue;
        }
        let operation = &item["get"];
        let needed = operation["x-required-scope"].as_str().expect("x-required-scope");
        let needed = Scope::parse(needed).expect("a scope fitexctl issues");
        assert!(operation["description"]
            .as_str()
            .unwrap()
            .contains(&format!("`{}`", needed.as_str())));
        let id = match template.split('/').nth(2) {
            Some("participants") => participant,
            Some("teams") => team,
            _ => program,
        };
        let path = template.replace("{id}", &id.to_string());
        for (scope, token) in &tokens {
            let status =
                app.client.get(format!("{}{path}", app.base_url)).bearer_auth(token).send().await;
            let status = status.unwrap().status().as_u16();
            let expected = if scope.allows(needed) { 200 } else { 403 };
            assert_eq!(status, expected, "{} token on {path}", scope.as_str());
            if expected == 403 {
                assert!(operation["responses"]["403"].is_object(), "{template} documents 403");
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 5, "every /v1 route is described");
}

#[tokio::test]
async fn a_deleted_participant_is_hidden_until_purged() {
    let app = spawn_goals().await;
    let program = app.program("Hidden season", 7, "steps").await;
    let start = today() - chrono::Duration::days(7);
    let team = app.team(program, "Cedar").await;
    let (gone, stays) = (app.member(team, start).await, app.member(team, start).await);
    for participant in [gone, stays] {
        app.store_day(participant, start, 6000).await;
        app.publish_day(participant, start, 6000).await;
    }
    wait_for("both participants' goals", Duration::from_secs(20), || async {
        !app.goal_rows(gone).await.is_empty() && !app.goal_rows(stays).await.is_empty()
    })
    .await;
    assert_eq!(app.get(&format!("/v1/participants/{gone}/goal")).await.status(), 200);

    // Deleted at the provider (soft): hidden at once, though the purge is days away.
    sqlx::query(
        "UPDATE participants SET deleted_at = now(), purge_after = now() + interval '7 days'
         WHERE id = $1",
    )
    .bind(gone)
    .execute(&app.pool)
    .await
    .unwrap();
    for route in ["goal", "goals"] {
        let answer = app.get(&format!("/v1/participants/{gone}/{route}")).await;
        assert_eq!(answer.status(), 404, "/{route} of a deleted participant");
    }
    assert_eq!(app.get(&format!("/v1/participants/{stays}/goals")).await.status(), 200);
    let csv = app.get(&format!("/v1/programs/{program}/export.csv")).await.text().await.unwrap();
    assert!(csv.lines().any(|l| l.starts_with(&format!("{stays},"))), "{csv}");
    assert!(!csv.lines().any(|l| l.starts_with(&format!("{gone},"))), "{csv}");
}
