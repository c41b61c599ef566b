use std::time::Duration;

use fitex_proto::{GoalChanged, Message, TeamProgressChanged};

use crate::helpers::*;

/// A participant with 14 days of history in a program that started 14 days ago, whose first
/// activity event has been turned into goals from the program start to today (15 of them).
/// Returns (team, participant, program start).
async fn seeded_with_goals(app: &TestGoals) -> (i64, i64, chrono::NaiveDate) {
    let program = app.program("Autumn season", 14, "steps").await;
    let team = app.team(program, "Walkers").await;
    let start = today() - chrono::Duration::days(14);
    let participant = app.member(team, start).await;
    for offset in 0..14 {
        app.store_day(
            participant,
            start + chrono::Duration::days(offset),
            5000 + offset as i32 * 100,
        )
        .await;
    }
    app.publish_day(participant, start, 5000).await;
    wait_for("goals from the program start to today", Duration::from_secs(20), || async {
        app.goal_rows(participant).await.len() == 15
    })
    .await;
    (team, participant, start)
}

#[tokio::test]
async fn an_activity_event_becomes_persisted_goals_and_goal_and_team_events() {
    let app = spawn_goals().await;
    let (team, participant, _) = seeded_with_goals(&app).await;
    let goals = app.goal_rows(participant).await;
    assert_eq!(goals.last().unwrap().0, today());
    // With 14 valid days the adaptive rule applies: the 60th percentile (linear) of the last 9
    // valid days (5,500..6,300 by 100) is 5,900 + 0.8 × 100 = 5,980 — today's goal, not provisional.
    assert_eq!(goals.last().unwrap().1, 5980);
    assert!(!goals.last().unwrap().2);

    let events = app.records(&app.kafka.topics.goals, 15, Duration::from_secs(20)).await;
    assert_eq!(events.len(), 15, "one goal event per new goal");
    let last = events
        .iter()
        .map(|r| GoalChanged::decode(r.payload.as_slice()).unwrap())
        .max_by_key(|e| e.effective_date.clone())
        .unwrap();
    assert_eq!((last.steps, last.strategy.as_str()), (5980, "adaptive_percentile"));
    assert_eq!(last.citation, "adams2013");
    assert_eq!(events[0].key.as_deref(), Some(participant.to_string().as_str()));

    let teams = app.records(&app.kafka.topics.team_progress, 3, Duration::from_secs(10)).await;
    assert!(!teams.is_empty(), "team progress published");
    let progress = TeamProgressChanged::decode(teams[0].payload.as_slice()).unwrap();
    assert_eq!(progress.team_id, team);
    assert_eq!(progress.unit, "steps");
}

#[tokio::test]
async fn redelivery_writes_no_duplicate_history_and_publishes_nothing_new() {
    let app = spawn_goals().await;
    let (_, participant, start) = seeded_with_goals(&app).await;
    let before = app.records(&app.kafka.topics.goals, 15, Duration::from_secs(20)).await.len();
    // The same event again (as after a crash before the offset commit).
    app.publish_day(participant, start, 5000).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.goal_rows(participant).await.len(), 15);
    let after = app.records(&app.kafka.topics.goals, 16, Duration::from_secs(3)).await.len();
    assert_eq!(before, after, "no new goal events for unchanged goals");
}

#[tokio::test]
async fn late_data_for_an_old_date_recomputes_the_later_goals() {
    let app = spawn_goals().await;
    let (_, participant, _) = seeded_with_goals(&app).await;
    let before = app.goal_rows(participant).await;
    // A late sync: three days ago was far less active than first stored (6,100 → 1,500 steps).
    // The last 9 valid days become 1,500, 5,500..6,000, 6,200, 6,300: the 60th percentile is
    // 5,800 + 0.8 × 100 = 5,880.
    let late = today() - chrono::Duration::days(3);
    app.store_day(participant, late, 1500).await;
    app.publish_day(participant, late, 1500).await;
    wait_for("today's goal to follow", Duration::from_secs(20), || async {
        app.goal_rows(participant).await.last().unwrap().1 == 5880
    })
    .await;
    assert_eq!(before.last().unwrap().1, 5980);
    let after = app.goal_rows(participant).await;
    let unchanged_until = after.iter().position(|g| g.0 > late).unwrap();
    assert_eq!(
        after[..unchanged_until],
        before[..unchanged_until],
        "goals before the late day stay"
    );
}
