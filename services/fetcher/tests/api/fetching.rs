use std::time::Duration;

use fitex_proto::{ActivityDayChanged, DeadLetter, Message, Provider, ProviderNotification};
use fitex_provider_simulator::Fault;

use crate::helpers::*;

#[tokio::test]
async fn a_notification_becomes_a_stored_row_and_one_activity_event() {
    let app = spawn_fetcher().await;
    let connection = app.connect_user("FETCH01").await;
    let participant = app.participant_of(connection).await;
    app.sim().set_day("FETCH01", day("2026-11-20"), day_data(8123, 840)).await.unwrap();

    app.notify("FETCH01", &[day("2026-11-20")], "activities").await;
    wait_for("the day to be stored", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-20")) == Some(&8123)
    })
    .await;
    let (worn, distance): (Option<i32>, f64) = sqlx::query_as(
        "SELECT worn_minutes, distance_km FROM activity_days WHERE participant_id = $1",
    )
    .bind(participant)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(worn, Some(840), "wear time from the heart-rate zones");
    assert!((distance - 8123.0 * 0.00075).abs() < 0.01);

    let events =
        app.topic_records(&app.kafka.topics.activity_days, 1, Duration::from_secs(20)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].key.as_deref(), Some(participant.to_string().as_str()));
    let event = ActivityDayChanged::decode(events[0].payload.as_slice()).unwrap();
    assert_eq!(
        (event.date.as_str(), event.steps, event.worn_minutes),
        ("2026-11-20", 8123, Some(840))
    );
    assert_eq!(event.participant_id, participant);
    assert_eq!(event.time_zone, "America/New_York", "time zone read from the profile");

    // The same values again: stored once, no second event.
    app.notify("FETCH01", &[day("2026-11-20")], "activities").await;
    wait_for("the second fetch", Duration::from_secs(20), || async { app.data_calls().await >= 2 })
        .await;
    let events =
        app.topic_records(&app.kafka.topics.activity_days, 2, Duration::from_secs(3)).await;
    assert_eq!(events.len(), 1, "unchanged values publish nothing");
}

#[tokio::test]
async fn a_notification_naming_an_unknown_provider_is_dead_lettered_not_taken_for_fitbit() {
    let app = spawn_fetcher().await;
    app.connect_user("STRANGE1").await;
    app.sim().set_day("STRANGE1", day("2026-11-20"), day_data(5000, 700)).await.unwrap();
    let kind = fitex_proto::ChangeKind::ActivityDayChanged as i32;
    // No provider at all (the old reading took it for Fitbit), and one from a newer writer.
    for provider in [Provider::Unspecified as i32, 7] {
        app.publish_notification(&ProviderNotification {
            event_id: format!("strange-{provider}"),
            provider,
            collection_type: "activities".into(),
            owner_id: "STRANGE1".into(),
            date: "2026-11-20".into(),
            change_kind: kind,
            ..ProviderNotification::default()
        })
        .await;
    }

    let letters =
        app.topic_records(&app.kafka.topics.dead_letters, 2, Duration::from_secs(30)).await;
    assert_eq!(letters.len(), 2, "each is dead-lettered");
    let mut reasons: Vec<String> = letters
        .iter()
        .map(|l| DeadLetter::decode(l.payload.as_slice()).unwrap())
        .inspect(|letter| assert_eq!(letter.source_topic, app.kafka.topics.notifications))
        .map(|letter| letter.reason)
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        ["a record naming an unknown provider (value 7)", "a record naming no provider (value 0)"]
    );
    assert_eq!(letters[0].key.as_deref(), Some("STRANGE1"));
    let calls = app.sim().stats().await.unwrap().api_calls_by_endpoint;
    assert_eq!(calls.values().sum::<u64>(), 0, "nothing was asked of Fitbit: {calls:?}");
}

#[tokio::test]
async fn a_notification_written_before_notices_carried_their_kind_is_still_acted_on() {
    let app = spawn_fetcher().await;
    let connection = app.connect_user("LEGACY1").await;
    let participant = app.participant_of(connection).await;
    app.sim().set_day("LEGACY1", day("2026-11-20"), day_data(6100, 700)).await.unwrap();
    app.publish_notification(&ProviderNotification {
        event_id: "legacy-1".into(),
        provider: Provider::Fitbit as i32,
        collection_type: "activities".into(),
        owner_id: "LEGACY1".into(),
        owner_type: "user".into(),
        date: "2026-11-20".into(),
        change_kind: fitex_proto::ChangeKind::Unspecified as i32,
        ..ProviderNotification::default()
    })
    .await;
    wait_for("the day to be stored", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-20")) == Some(&6100)
    })
    .await;
}

#[tokio::test]
async fn a_burst_of_twenty_notifications_for_one_user_day_costs_one_api_call() {
    let app = spawn_fetcher().await;
    let connection = app.connect_user("BURST01").await;
    let participant = app.participant_of(connection).await;
    app.sim().set_day("BURST01", day("2026-11-21"), day_data(4321, 700)).await.unwrap();
    let dates = vec![day("2026-11-21"); 20];
    app.notify("BURST01", &dates, "activities").await;
    wait_for("the day to be stored", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-21")) == Some(&4321)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.data_calls().await, 1, "one daily-summary call for twenty notifications");
}

#[tokio::test]
async fn rate_limited_users_wait_for_the_reset_and_are_then_stored() {
    let app = spawn_fetcher().await;
    let connection = app.connect_user("LIMIT01").await;
    let participant = app.participant_of(connection).await;
    app.sim().set_day("LIMIT01", day("2026-11-22"), day_data(5000, 650)).await.unwrap();
    app.sim().set_rate_limit("LIMIT01", 0, 3).await.unwrap();

    app.notify("LIMIT01", &[day("2026-11-22")], "activities").await;
    wait_for("the day to be deferred", Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pending_fetches WHERE connection_id = $1 AND reason = 'rate_limited'")
            .bind(connection)
            .fetch_one(&app.pool)
            .await
            .unwrap()
            == 1
    })
    .await;
    assert!(app.stored_steps(participant).await.is_empty(), "nothing stored while limited");
    assert!(app.sim().stats().await.unwrap().rate_limited >= 1);
    wait_for("the day to be stored after the reset", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-22")) == Some(&5000)
    })
    .await;
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pending_fetches WHERE connection_id = $1")
            .bind(connection)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(pending, 0);
}

#[tokio::test]
async fn persistent_provider_errors_end_in_the_dead_letter_topic_with_the_reason() {
    let app = spawn_fetcher().await;
    app.connect_user("BROKEN1").await;
    app.sim().set_fault(Fault::status(503, 1000).for_user("BROKEN1")).await.unwrap();
    app.notify("BROKEN1", &[day("2026-11-23")], "activities").await;

    let letters =
        app.topic_records(&app.kafka.topics.dead_letters, 1, Duration::from_secs(30)).await;
    assert_eq!(letters.len(), 1, "dead-lettered after the attempts");
    let letter = DeadLetter::decode(letters[0].payload.as_slice()).unwrap();
    assert_eq!(letter.attempts, 3);
    assert!(letter.reason.contains("gave up after 3 attempts"), "{}", letter.reason);
    assert!(letter.reason.contains("503"), "{}", letter.reason);
    assert_eq!(letter.source_topic, app.kafka.topics.fetch_retries);
    assert_eq!(letters[0].key.as_deref(), Some("BROKEN1"));
    assert_eq!(app.data_calls().await, 3, "three attempts reached the provider");
    // Retry records are re-deliveries of the original event (same event id), with the attempt
    // count and the last error.
    let retries =
        app.topic_records(&app.kafka.topics.fetch_retries, 1, Duration::from_secs(5)).await;
    assert_eq!(retries[0].headers["attempt"], "1");
    assert!(retries[0].headers["last_error"].contains("503"));
    // Operators see it: the dead-letter depth and the lag gauges.
    wait_for("the dead-letter depth metric", Duration::from_secs(15), || async {
        app.metrics()
            .await
            .lines()
            .any(|l| l.starts_with("fitex_dead_letters{") && !l.ends_with(" 0"))
    })
    .await;
    assert!(app.metrics().await.contains("fitex_fetcher_consumer_lag{"));
}

#[tokio::test]
async fn redelivery_after_a_lost_offset_commit_stores_nothing_twice() {
    // A replica that crashed between its database commit and its offset commit: the records are
    // delivered again. A second fetcher in a fresh consumer group on the same database sees them all.
    let app = spawn_fetcher().await;
    let connection = app.connect_user("AGAIN01").await;
    let participant = app.participant_of(connection).await;
    for (date, steps) in [("2026-11-18", 1111), ("2026-11-19", 2222)] {
        app.sim().set_day("AGAIN01", day(date), day_data(steps, 700)).await.unwrap();
    }
    app.notify("AGAIN01", &[day("2026-11-18"), day("2026-11-19")], "activities").await;
    wait_for("both days stored", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.len() == 2
    })
    .await;
    let events =
        app.topic_records(&app.kafka.topics.activity_days, 2, Duration::from_secs(20)).await;
    assert_eq!(events.len(), 2);

    let mut settings = app.settings.clone();
    settings.fetcher.group_id = format!("{}-replayed", settings.fetcher.group_id);
    let calls_before = app.data_calls().await;
    let replay = fitex_fetcher::Application::build(settings).await.unwrap();
    let replay_handle = replay.handle();
    let replay_task = tokio::spawn(replay.run_until_stopped());
    wait_for("the replayed records to be fetched", Duration::from_secs(20), || async {
        app.data_calls().await >= calls_before + 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM activity_days WHERE participant_id = $1")
            .bind(participant)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows, 2, "no duplicate rows");
    let events =
        app.topic_records(&app.kafka.topics.activity_days, 3, Duration::from_secs(3)).await;
    assert_eq!(events.len(), 2, "no second event for unchanged days");
    replay_handle.stop(true).await;
    let _ = replay_task.await;
}

#[tokio::test]
async fn revoked_access_deletes_the_tokens_and_a_deleted_account_deletes_the_data() {
    let app = spawn_fetcher().await;
    let revoked = app.connect_user("REVOKE1").await;
    let deleted = app.connect_user("DELETE1").await;
    let deleted_participant = app.participant_of(deleted).await;
    app.sim().set_day("DELETE1", day("2026-11-20"), day_data(3000, 700)).await.unwrap();
    app.notify("DELETE1", &[day("2026-11-20")], "activities").await;
    wait_for("the day to be stored", Duration::from_secs(20), || async {
        !app.stored_steps(deleted_participant).await.is_empty()
    })
    .await;

    // Both really happened at the provider: it refuses our grants now (a notice alone is not
    // believed: tests/api/notices.rs).
    app.sim().revoke("REVOKE1").await.unwrap();
    app.sim().revoke("DELETE1").await.unwrap();
    app.notify("REVOKE1", &[day("2026-11-20")], "userRevokedAccess").await;
    app.notify("DELETE1", &[day("2026-11-20")], "deleteUser").await;
    wait_for("revocation handled", Duration::from_secs(20), || async {
        app.status(revoked).await.0 == "disconnected"
    })
    .await;
    let tokens = app.stored_tokens(revoked).await;
    assert_eq!(tokens, (None, None), "tokens deleted");
    // The deleted participant is hidden at once, their tokens deleted; the purge follows after
    // the delay (tests/api/notices.rs; tests/participant_deletion.rs runs both services' halves).
    wait_for("the deleted participant to be hidden", Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT deleted_at IS NOT NULL AND purge_after IS NOT NULL FROM participants WHERE id = $1",
        )
        .bind(deleted_participant)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    })
    .await;
    let tokens = app.stored_tokens(deleted).await;
    assert_eq!(tokens, (None, None), "the deleted participant's tokens are deleted at once");
}

#[tokio::test]
async fn repeat_syncs_of_a_day_settle_into_one_more_call_with_the_final_values() {
    let sim = fitex_provider_simulator::Simulator::spawn(Default::default()).await.unwrap();
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database, &sim);
    // New syncs, each told apart from a repeat of the one before.
    settings.fetcher.repeat_window = Duration::ZERO;
    let app = spawn_with(settings, sim, pool).await;
    let connection = app.connect_user("SETTLE1").await;
    let participant = app.participant_of(connection).await;
    app.sim().set_day("SETTLE1", day("2026-11-24"), day_data(1000, 700)).await.unwrap();
    app.notify("SETTLE1", &[day("2026-11-24")], "activities").await;
    wait_for("the first values", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-24")) == Some(&1000)
    })
    .await;
    // The device keeps syncing the same day: three more changes within the settle period (2 s),
    // each in a batch of its own (the batch window is 300 ms).
    for steps in [2000, 3000, 4000] {
        app.sim().set_day("SETTLE1", day("2026-11-24"), day_data(steps, 700)).await.unwrap();
        app.notify("SETTLE1", &[day("2026-11-24")], "activities").await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    wait_for("the final values", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-24")) == Some(&4000)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.data_calls().await, 2, "four notifications, two calls");
}

#[tokio::test]
async fn a_repeat_of_a_fetched_notification_costs_no_call_and_the_day_is_confirmed_once() {
    let app = spawn_fetcher().await;
    let connection = app.connect_user("REPEAT1").await;
    let participant = app.participant_of(connection).await;
    app.sim().set_day("REPEAT1", day("2026-11-23"), day_data(2_500, 700)).await.unwrap();
    let accepted = chrono::Utc::now();
    app.notify_accepted_at("REPEAT1", &[day("2026-11-23")], "activities", accepted).await;
    wait_for("the day", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-23")) == Some(&2_500)
    })
    .await;
    // The provider sends the notification again, accepted within the repeat window (1 s) of the
    // first but after its fetch started: no call of its own...
    let repeat = accepted + chrono::Duration::milliseconds(900);
    app.notify_accepted_at("REPEAT1", &[day("2026-11-23")], "activities", repeat).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(app.data_calls().await, 1, "a repeat is not fetched at once");
    // ...and one confirming call 4 s after the fetch, which reads a change made meanwhile.
    app.sim().set_day("REPEAT1", day("2026-11-23"), day_data(2_600, 700)).await.unwrap();
    wait_for("the confirmed day", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-23")) == Some(&2_600)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(app.data_calls().await, 2);
    assert!(app.metrics().await.contains("fitex_fetcher_deferred_total{reason=\"confirming\"} 1"));
}

#[tokio::test]
async fn a_late_copy_of_a_notification_already_fetched_costs_no_call() {
    let app = spawn_fetcher().await;
    let connection = app.connect_user("LATE01").await;
    let participant = app.participant_of(connection).await;
    app.sim().set_day("LATE01", day("2026-11-22"), day_data(3333, 700)).await.unwrap();
    let accepted = chrono::Utc::now() - chrono::Duration::seconds(5);
    app.notify_accepted_at("LATE01", &[day("2026-11-22")], "activities", accepted).await;
    wait_for("the day", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-22")) == Some(&3333)
    })
    .await;
    // The same notification again (a provider retry, a relayed copy): the fetch above started
    // after it was accepted, so it already read its data.
    app.notify_accepted_at("LATE01", &[day("2026-11-22")], "activities", accepted).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.data_calls().await, 1);
    assert!(app.metrics().await.contains("outcome=\"already_fetched\"} 1"));
}

#[tokio::test]
async fn with_a_quiet_period_a_changing_day_costs_one_call() {
    let sim = fitex_provider_simulator::Simulator::spawn(Default::default()).await.unwrap();
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database, &sim);
    settings.fetcher.quiet = Duration::from_millis(1_000);
    settings.fetcher.quiet_max = Duration::from_millis(5_000);
    let app = spawn_with(settings, sim, pool).await;
    let connection = app.connect_user("QUIET01").await;
    let participant = app.participant_of(connection).await;
    // A device syncing the same day four times, 300 ms apart, with new values each time.
    for steps in [1000, 2000, 3000, 4000] {
        app.sim().set_day("QUIET01", day("2026-11-24"), day_data(steps, 700)).await.unwrap();
        app.notify("QUIET01", &[day("2026-11-24")], "activities").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_for("the final values", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&day("2026-11-24")) == Some(&4000)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.data_calls().await, 1, "four notifications, one call");
}
