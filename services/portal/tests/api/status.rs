use fitex_connections::reconnect_reason;
use fitex_connections::store::{self, SyncStatus};
use fitex_provider::TokenProblem;
use reqwest::StatusCode;

use crate::helpers::spawn_portal;

#[tokio::test]
async fn reconnect_required_is_explained_plainly_with_a_reconnect_button() {
    let portal = spawn_portal().await;
    assert_eq!(portal.connect_with_oauth("RECON1").await.status(), StatusCode::SEE_OTHER);
    let (connection_id, _, _, _) = portal.connection("RECON1").await;
    let reason = reconnect_reason(TokenProblem::Invalid, "fitbit");
    store::set_status(&portal.pool, connection_id, SyncStatus::ReconnectRequired, &reason)
        .await
        .unwrap();

    let (status, html) = portal.get_text("/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your Fitbit access has expired or was revoked."), "{html}");
    assert!(html.contains("Reconnect needed"), "{html}");
    assert!(html.contains("href=\"/connect/fitbit\""), "{html}");
    assert!(html.contains("Reconnect Fitbit"), "{html}");
    assert!(!html.contains("401"), "no error codes: {html}");

    // Reconnecting through the button makes it active again.
    assert_eq!(portal.connect_with_oauth("RECON1").await.status(), StatusCode::SEE_OTHER);
    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains("Syncing") && !html.contains("Reconnect needed"), "{html}");
}

#[tokio::test]
async fn goals_show_only_for_enrolled_participants() {
    let portal = spawn_portal().await;
    portal.connect_with_oauth("GOAL1").await;
    let (_, participant_id, _, _) = portal.connection("GOAL1").await;
    let (_, html) = portal.get_text("/status").await;
    assert!(!html.contains("Today") && !html.contains("this week"), "{html}");

    let today = "America/New_York"
        .parse::<fitex_common::zone::ParticipantZone>()
        .unwrap()
        .today(chrono::Utc::now());
    let start = today - chrono::Duration::days(8);
    let (program_id,): (i64,) = sqlx::query_as(
        "INSERT INTO programs (name, start_date, weeks, unit, goal_settings, mile_rules)
         VALUES ('Spring <Season>', $1, 8, 'steps', '{}', '{}') RETURNING id",
    )
    .bind(start)
    .fetch_one(&portal.pool)
    .await
    .unwrap();
    let (team_id,): (i64,) =
        sqlx::query_as("INSERT INTO teams (program_id, name) VALUES ($1, 'Walkers') RETURNING id")
            .bind(program_id)
            .fetch_one(&portal.pool)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO team_members (team_id, participant_id, joined_on) VALUES ($1, $2, $3)",
    )
    .bind(team_id)
    .bind(participant_id)
    .bind(start)
    .execute(&portal.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO goal_history (participant_id, program_id, effective_date, steps, strategy,
             inputs, citation, provisional, explanation, computed_at)
         VALUES ($1, $2, $3, 7500, 'percent_increase', '{}', 'x', false, 'Your baseline plus 10 %.', now())",
    )
    .bind(participant_id)
    .bind(program_id)
    .bind(start + chrono::Duration::days(7))
    .execute(&portal.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO team_progress (team_id, week, goal, progress, percent_of_goal, members,
             members_meeting_goal, share_meeting_goal, computed_at)
         VALUES ($1, 2, 40000, 12000, 30, 3, 1, 0.33, now())",
    )
    .bind(team_id)
    .execute(&portal.pool)
    .await
    .unwrap();

    let (_, html) = portal.get_text("/status").await;
    assert!(html.contains("Spring &lt;Season&gt; — week 2 of 8"), "{html}");
    assert!(html.contains("of 7500 steps"), "{html}");
    assert!(html.contains("Your baseline plus 10 %."), "{html}");
    assert!(html.contains("Team Walkers this week"), "{html}");
    assert!(html.contains("12000 steps of 40000 steps (30 %)"), "{html}");
    assert!(html.contains("1 of 3 members"), "{html}");
}
