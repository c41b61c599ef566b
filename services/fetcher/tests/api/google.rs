//! Google Health connections: the same pipeline, through the simulator's Google mode.

use std::time::Duration;

use chrono::Utc;
use fitex_connections::connect::backfill_dates;
use fitex_connections::store::{self, TokenKind};
use fitex_connections::{pending, SyncStatus};
use fitex_proto::{ActivityDayChanged, Message};
use fitex_provider::{ProviderId, TokenGrant};
use fitex_provider_simulator::{
    CreateUser, DayRecord, GoogleUserTokens, ProjectRefusal, SimulatorConfig,
};
use secrecy::SecretString;

use crate::helpers::*;

/// The grant the portal would hold after Google's consent (the user id comes from identity).
fn google_grant(tokens: &GoogleUserTokens) -> TokenGrant {
    TokenGrant {
        access_token: SecretString::from(tokens.access_token.clone()),
        refresh_token: Some(SecretString::from(tokens.refresh_token.clone())),
        expires_at: Utc::now() + chrono::Duration::seconds(tokens.expires_in as i64),
        scopes: tokens.scope.clone(),
        user_id: String::new(),
    }
}

fn record(steps: u32, manual_steps: u32, worn_minutes: u32) -> DayRecord {
    DayRecord { day: day_data(steps, worn_minutes), manual_steps }
}

/// Connects a Google consent through `fetcher` (as the portal does); returns the connection id.
async fn connect_google(fetcher: &fitex_fetcher::sync::Fetcher, tokens: &GoogleUserTokens) -> i64 {
    fetcher
        .connections
        .connect(ProviderId::GoogleHealth, TokenKind::AuthorizationCode, &google_grant(tokens))
        .await
        .expect("connect through Google")
}

/// Why a day of a connection is waiting, if it is.
async fn pending_reason(
    app: &TestFetcher,
    connection: i64,
    day: chrono::NaiveDate,
) -> Option<String> {
    sqlx::query_scalar("SELECT reason FROM pending_fetches WHERE connection_id = $1 AND day = $2")
        .bind(connection)
        .bind(day)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

/// A Google-only participant connected, with their 28-day backfill stored.
async fn connected_and_backfilled(app: &TestFetcher) -> (GoogleUserTokens, i64, i64) {
    let tokens = google_only(app, "UTC").await;
    let connection = connect_google(&app.fetcher().await, &tokens).await;
    let participant = app.participant_of(connection).await;
    wait_for("the backfill", Duration::from_secs(30), || async {
        app.stored_steps(participant).await.len() == 28
    })
    .await;
    (tokens, connection, participant)
}

/// Whether a stored day is marked as one the provider holds no data for.
async fn stored_no_data(
    app: &TestFetcher,
    participant: i64,
    day: chrono::NaiveDate,
) -> Option<bool> {
    sqlx::query_scalar("SELECT no_data FROM activity_days WHERE participant_id = $1 AND day = $2")
        .bind(participant)
        .bind(day)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

async fn google_only(app: &TestFetcher, zone: &str) -> GoogleUserTokens {
    app.sim()
        .create_google_only_user(CreateUser { timezone: zone.into(), ..CreateUser::default() })
        .await
        .expect("a Google-only user")
}

#[tokio::test]
async fn a_google_connection_backfills_from_rollups_and_keeps_manual_steps_apart() {
    let app = spawn_fetcher().await;
    let tokens = google_only(&app, "America/Chicago").await;
    let dates = backfill_dates(&"America/Chicago".parse().unwrap(), 28, Utc::now());
    let (walked, typed_in) = (dates[27], dates[26]);
    app.sim().set_day_record(&tokens.user_id, walked, record(9_000, 0, 800)).await.unwrap();
    app.sim().set_day_record(&tokens.user_id, typed_in, record(4_000, 2_500, 650)).await.unwrap();
    app.sim().reset_stats().await.unwrap();

    let fetcher = app.fetcher().await;
    let grant = google_grant(&tokens);
    let connection = fetcher
        .connections
        .connect(ProviderId::GoogleHealth, TokenKind::AuthorizationCode, &grant)
        .await
        .unwrap();
    let row = store::connection_by_id(&app.pool, connection).await.unwrap().unwrap();
    assert_eq!(row.provider.as_str(), "google_health");
    assert_eq!(row.provider_user_id, tokens.health_user_id, "keyed by the Google Health id");
    assert_eq!(row.time_zone.name(), "America/Chicago", "from users/me/settings");
    let participant = row.participant_id;
    wait_for("28 days backfilled", Duration::from_secs(30), || async {
        app.stored_steps(participant).await.len() == 28
    })
    .await;

    let (steps, manual, worn, mvpa, source) = app.stored_day(participant, walked).await.unwrap();
    assert_eq!((steps, manual, worn, mvpa), (9_000, Some(0), Some(800), 30));
    assert_eq!(source, "google_health");
    let (steps, manual, ..) = app.stored_day(participant, typed_in).await.unwrap();
    assert_eq!((steps, manual), (4_000, Some(2_500)), "hand-entered steps kept apart");
    // A day Google has nothing for (no rollup point: not worn, or not synced) is stored as no
    // data, not as a day of zero steps.
    let (steps, manual, worn, ..) = app.stored_day(participant, dates[0]).await.unwrap();
    assert_eq!((steps, manual, worn), (0, None, None));
    assert_eq!(stored_no_data(&app, participant, dates[0]).await, Some(true));
    assert_eq!(stored_no_data(&app, participant, walked).await, Some(false));

    // 28 days: one 90-day rollup each for steps, distance, heart-rate zones and sedentary time,
    // two 14-day active-minutes rollups, and the steps points listed in 6-day ranges.
    let stats = app.sim().stats().await.unwrap();
    let rollups: u64 = stats
        .api_calls_by_endpoint
        .iter()
        .filter(|(k, _)| k.starts_with("google_rollup"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(rollups, 6, "{stats:?}");
    assert_eq!(stats.api_calls_by_endpoint.get("google_data_points"), Some(&5), "{stats:?}");
    assert_eq!(stats.rate_limited, 0);
}

#[tokio::test]
async fn notifications_refetch_the_day_and_a_delete_is_carried_through() {
    let app = spawn_fetcher().await;
    let (tokens, _, participant) = connected_and_backfilled(&app).await;

    let today = Utc::now().date_naive();
    app.sim().set_day_record(&tokens.user_id, today, record(5_432, 0, 500)).await.unwrap();
    app.notify_google(&tokens.health_user_id, &[today], "UPSERT").await;
    wait_for("today stored", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&today) == Some(&5_432)
    })
    .await;

    // The participant deletes the day's data at Google: the day is read again and is now empty.
    app.sim().set_day_record(&tokens.user_id, today, DayRecord::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await; // past the settle period
    app.notify_google(&tokens.health_user_id, &[today], "DELETE").await;
    wait_for("the deletion applied", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&today) == Some(&0)
    })
    .await;
}

#[tokio::test]
async fn the_per_user_budget_defers_only_that_user() {
    // The simulator allows 8 requests a minute per user: one day costs 6.
    let app = spawn_fetcher_on(SimulatorConfig {
        google_rate_limit_per_minute: 8,
        ..SimulatorConfig::default()
    })
    .await;
    let (busy, calm) = (google_only(&app, "UTC").await, google_only(&app, "UTC").await);
    let mut settings = app.settings.clone();
    settings.base.fetcher.backfill_days = 0;
    let fetcher = fetcher_for(&settings);
    let busy_connection = connect_google(&fetcher, &busy).await;
    let calm_connection = connect_google(&fetcher, &calm).await;

    let yesterday = Utc::now().date_naive() - chrono::Duration::days(1);
    let before = yesterday - chrono::Duration::days(1);
    app.sim().set_day_record(&busy.user_id, yesterday, record(7_000, 0, 700)).await.unwrap();
    app.sim().set_day_record(&busy.user_id, before, record(6_000, 0, 700)).await.unwrap();
    app.sim().set_day_record(&calm.user_id, yesterday, record(8_000, 0, 700)).await.unwrap();
    app.notify_google(&busy.health_user_id, &[yesterday], "UPSERT").await;
    let busy_participant = app.participant_of(busy_connection).await;
    wait_for("the busy user's first day", Duration::from_secs(20), || async {
        app.stored_steps(busy_participant).await.get(&yesterday) == Some(&7_000)
    })
    .await;
    // A second day within the same minute goes over Google's limit: 429 → deferred.
    app.notify_google(&busy.health_user_id, &[before], "UPSERT").await;
    wait_for("the busy user deferred", Duration::from_secs(20), || async {
        pending_reason(&app, busy_connection, before).await.as_deref() == Some("rate_limited")
    })
    .await;
    let not_before: chrono::DateTime<Utc> = sqlx::query_scalar(
        "SELECT not_before FROM pending_fetches WHERE connection_id = $1 AND day = $2",
    )
    .bind(busy_connection)
    .bind(before)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let resets_at = store::connection_by_id(&app.pool, busy_connection)
        .await
        .unwrap()
        .expect("the busy connection")
        .rate_resets_at;
    assert!(not_before > Utc::now() + chrono::Duration::seconds(30), "waits for the quota");
    assert!(resets_at.is_some());
    assert!(app.sim().stats().await.unwrap().rate_limited >= 1);

    // The other participant is not held up.
    app.notify_google(&calm.health_user_id, &[yesterday], "UPSERT").await;
    let calm_participant = app.participant_of(calm_connection).await;
    wait_for("the calm user's day", Duration::from_secs(20), || async {
        app.stored_steps(calm_participant).await.get(&yesterday) == Some(&8_000)
    })
    .await;
}

#[tokio::test]
async fn the_client_stops_short_of_its_own_per_user_budget() {
    let sim = fitex_provider_simulator::Simulator::spawn(SimulatorConfig::default()).await.unwrap();
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database, &sim);
    use_simulated_google(&mut settings, &sim);
    settings.base.fetcher.backfill_days = 0;
    // Room for one day's requests (6) a minute, not two.
    settings.base.google_health_api.as_mut().unwrap().requests_per_minute =
        std::num::NonZeroU32::new(9).unwrap();
    let app = spawn_with(settings, sim, pool).await;
    let tokens = google_only(&app, "UTC").await;
    let fetcher = app.fetcher().await;
    let connection = connect_google(&fetcher, &tokens).await;
    let participant = app.participant_of(connection).await;
    let yesterday = Utc::now().date_naive() - chrono::Duration::days(1);
    let before = yesterday - chrono::Duration::days(1);
    app.sim().set_day_record(&tokens.user_id, yesterday, record(7_100, 0, 700)).await.unwrap();
    app.sim().set_day_record(&tokens.user_id, before, record(6_100, 0, 700)).await.unwrap();
    app.notify_google(&tokens.health_user_id, &[yesterday], "UPSERT").await;
    wait_for("the first day", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&yesterday) == Some(&7_100)
    })
    .await;
    app.notify_google(&tokens.health_user_id, &[before], "UPSERT").await;
    wait_for("the second day deferred", Duration::from_secs(20), || async {
        pending_reason(&app, connection, before).await.as_deref() == Some("rate_limited")
    })
    .await;
    let stats = app.sim().stats().await.unwrap();
    assert_eq!(stats.rate_limited, 0, "never ran into Google's 429: {stats:?}");
}

#[tokio::test]
async fn withdrawn_consent_asks_the_participant_to_reconnect_in_plain_words() {
    let app = spawn_fetcher().await;
    let tokens = google_only(&app, "UTC").await;
    let fetcher = app.fetcher().await;
    let connection = connect_google(&fetcher, &tokens).await;
    app.sim().google_revoke(&tokens.user_id).await.unwrap();
    let yesterday = Utc::now().date_naive() - chrono::Duration::days(1);
    app.notify_google(&tokens.health_user_id, &[yesterday], "UPSERT").await;
    wait_for("reconnect required", Duration::from_secs(30), || async {
        app.status(connection).await.0 == "reconnect_required"
    })
    .await;
    let (_, reason) = app.status(connection).await;
    let reason = reason.unwrap();
    assert!(reason.contains("Google Health") && reason.contains("Reconnect"), "{reason}");
    assert!(!reason.contains("401") && !reason.contains("invalid_grant"), "{reason}");
}

#[tokio::test]
async fn a_fitbit_participant_reconnecting_through_google_keeps_their_history() {
    let app = spawn_fetcher().await;
    let fitbit_user = "MIGR01";
    let fitbit_connection = app.connect_user(fitbit_user).await;
    let participant = app.participant_of(fitbit_connection).await;
    let old_day = Utc::now().date_naive() - chrono::Duration::days(40);
    app.sim().set_day(fitbit_user, old_day, day_data(11_111, 900)).await.unwrap();
    app.notify(fitbit_user, &[old_day], "activities").await;
    wait_for("Fitbit-era history", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&old_day) == Some(&11_111)
    })
    .await;
    // A day the Fitbit connection was still waiting for moves to the new connection.
    let waiting = Utc::now().date_naive() - chrono::Duration::days(35);
    app.sim().set_day(fitbit_user, waiting, day_data(5_555, 900)).await.unwrap();
    pending::defer(
        &app.pool,
        fitbit_connection,
        &[waiting],
        "awaiting_reconnect",
        Utc::now() + chrono::Duration::days(3650),
        None,
    )
    .await
    .unwrap();

    // Google's consent for the same person: identity names their Fitbit id.
    let tokens = app.sim().google_grant(fitbit_user).await.unwrap();
    let fetcher = app.fetcher().await;
    let google_connection = connect_google(&fetcher, &tokens).await;
    assert_eq!(app.participant_of(google_connection).await, participant, "the same participant");
    let (status, reason) = app.status(fitbit_connection).await;
    assert_eq!(status, "disconnected");
    assert!(reason.unwrap().contains("replaced by the Google Health connection"));
    let superseded_by = store::connection_views(&app.pool, participant)
        .await
        .unwrap()
        .into_iter()
        .find(|view| view.id == fitbit_connection)
        .expect("the Fitbit connection is kept")
        .superseded_by;
    assert_eq!(superseded_by, Some(google_connection));
    assert_eq!(app.stored_steps(participant).await.get(&old_day), Some(&11_111), "history kept");
    wait_for("the waiting day fetched through Google", Duration::from_secs(30), || async {
        app.stored_day(participant, waiting)
            .await
            .is_some_and(|d| d.0 == 5_555 && d.4 == "google_health")
    })
    .await;
    // Reconnecting through Google again (a new consent) keeps the same connection.
    let again = app.sim().google_grant(fitbit_user).await.unwrap();
    let same = connect_google(&fetcher, &again).await;
    assert_eq!(same, google_connection);
}

#[tokio::test]
async fn consent_withdrawn_without_a_word_is_found_by_the_catch_up() {
    let sim = fitex_provider_simulator::Simulator::spawn(SimulatorConfig::default()).await.unwrap();
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database, &sim);
    use_simulated_google(&mut settings, &sim);
    settings.base.fetcher.backfill_days = 1;
    settings.fetcher.catch_up_after = Duration::from_secs(2);
    settings.fetcher.catch_up_check = Duration::from_secs(1);
    let app = spawn_with(settings, sim, pool).await;
    let (withdrawn, still_in) = (google_only(&app, "UTC").await, google_only(&app, "UTC").await);
    let fetcher = app.fetcher().await;
    let gone = connect_google(&fetcher, &withdrawn).await;
    let kept = connect_google(&fetcher, &still_in).await;
    app.sim().google_revoke(&withdrawn.user_id).await.unwrap();
    let today = Utc::now().date_naive();
    app.sim().set_day_record(&still_in.user_id, today, record(3_210, 0, 400)).await.unwrap();

    // No notification comes for either (Google notifies nobody of a withdrawal, and this sync's
    // notification was lost): the catch-up finds both out.
    wait_for("the withdrawal found", Duration::from_secs(30), || async {
        app.status(gone).await.0 == "reconnect_required"
    })
    .await;
    let participant = app.participant_of(kept).await;
    wait_for("the lost day fetched", Duration::from_secs(30), || async {
        app.stored_steps(participant).await.get(&today) == Some(&3_210)
    })
    .await;
    assert_eq!(app.status(kept).await.0, "active");
    assert!(app.metrics().await.contains("fitex_fetcher_catch_up_days_total"));
}

#[tokio::test]
async fn an_expired_google_access_token_is_refreshed_and_the_refresh_token_kept() {
    let app = spawn_fetcher().await;
    let (tokens, connection, participant) = connected_and_backfilled(&app).await;
    let refresh_before: Vec<u8> = app.stored_tokens(connection).await.1.unwrap();
    // Google ends the access token early (our record still thinks it is fresh).
    app.sim().google_expire_tokens(&tokens.user_id).await.unwrap();
    app.sim().reset_stats().await.unwrap();
    let today = Utc::now().date_naive();
    app.sim().set_day_record(&tokens.user_id, today, record(4_321, 0, 300)).await.unwrap();
    app.notify_google(&tokens.health_user_id, &[today], "UPSERT").await;
    wait_for("the day after a refresh", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&today) == Some(&4_321)
    })
    .await;
    let stats = app.sim().stats().await.unwrap();
    assert_eq!(stats.token_refreshes, 1, "{stats:?}");
    assert_eq!(app.status(connection).await.0, "active");
    // Google did not send a new refresh token: the stored one is unchanged and still works.
    let stored = store::connection_by_id(&app.pool, connection).await.unwrap().unwrap();
    let (refresh_after, version) = (stored.refresh_token.unwrap(), stored.token_version);
    assert!(version >= 2);
    let cipher = &app.cipher;
    let decrypt = |bytes: &[u8]| {
        cipher
            .decrypt(bytes, &store::refresh_context(connection))
            .map(|s| secrecy::ExposeSecret::expose_secret(&s).to_owned())
            .unwrap()
    };
    assert_eq!(decrypt(&refresh_after), decrypt(&refresh_before));
    assert_eq!(decrypt(&refresh_after), tokens.refresh_token);
}

#[tokio::test]
async fn a_day_without_a_rollup_point_is_no_data_and_an_explicit_zero_is_data() {
    let app = spawn_fetcher().await;
    let (tokens, _, participant) = connected_and_backfilled(&app).await;
    let yesterday = Utc::now().date_naive() - chrono::Duration::days(1);
    let before = yesterday - chrono::Duration::days(1);
    // Nothing at Google for the backfilled days: no data, stored and published as such.
    assert_eq!(stored_no_data(&app, participant, yesterday).await, Some(true));
    assert_eq!(stored_no_data(&app, participant, before).await, Some(true));

    // The participant wore the device yesterday and did not walk: Google sends an explicit 0.
    app.sim().set_day_record(&tokens.user_id, yesterday, DayRecord::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await; // past the settle period
    app.notify_google(&tokens.health_user_id, &[yesterday], "UPSERT").await;
    wait_for("the explicit zero stored as data", Duration::from_secs(20), || async {
        stored_no_data(&app, participant, yesterday).await == Some(false)
    })
    .await;
    let (steps, manual, ..) = app.stored_day(participant, yesterday).await.unwrap();
    assert_eq!((steps, manual), (0, Some(0)));
    assert_eq!(stored_no_data(&app, participant, before).await, Some(true));

    // Every day is published with what it is: 28 backfilled days without data, then the zero.
    let records =
        app.topic_records(&app.kafka.topics.activity_days, 29, Duration::from_secs(20)).await;
    assert_eq!(records.len(), 29);
    let events: Vec<ActivityDayChanged> =
        records.iter().map(|r| ActivityDayChanged::decode(r.payload.as_slice()).unwrap()).collect();
    let of = |date: chrono::NaiveDate| {
        let date = date.to_string();
        events.iter().filter(move |e| e.date == date).map(|e| e.no_data).collect::<Vec<_>>()
    };
    assert_eq!(of(before), [true]);
    assert_eq!(of(yesterday), [true, false], "no data, then an explicit zero");
    assert!(events.iter().filter(|e| e.no_data).all(|e| e.steps == 0 && e.worn_minutes.is_none()));
}

#[tokio::test]
async fn a_project_level_403_leaves_every_connection_as_it_is_and_alerts_the_operator() {
    let app = spawn_fetcher().await;
    let (alice, alice_connection, alice_participant) = connected_and_backfilled(&app).await;
    let (bob, bob_connection, bob_participant) = connected_and_backfilled(&app).await;
    let yesterday = Utc::now().date_naive() - chrono::Duration::days(1);
    app.sim().set_day_record(&alice.user_id, yesterday, record(6_100, 0, 700)).await.unwrap();
    app.sim().set_day_record(&bob.user_id, yesterday, record(6_200, 0, 700)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await; // past the settle period

    // Google Health API disabled for the project, then a project-wide quota spent: 403s whose
    // reason is the project's, not the participants'.
    for (refusal, user, connection) in [
        (ProjectRefusal::ServiceDisabled, &alice, alice_connection),
        (ProjectRefusal::RateLimitExceeded, &bob, bob_connection),
    ] {
        app.sim().google_refuse_project(Some(refusal)).await.unwrap();
        app.notify_google(&user.health_user_id, &[yesterday], "UPSERT").await;
        wait_for("the day deferred for the project", Duration::from_secs(20), || async {
            pending_reason(&app, connection, yesterday).await.as_deref() == Some("project_refused")
        })
        .await;
    }
    for connection in [alice_connection, bob_connection] {
        assert_eq!(app.status(connection).await, ("active".to_owned(), None), "left as it is");
    }
    let reconnecting: i64 = store::count_by_status(&app.pool)
        .await
        .unwrap()
        .iter()
        .filter(|(status, _)| status != SyncStatus::Active.as_str())
        .map(|(_, count)| count)
        .sum();
    assert_eq!(reconnecting, 0);
    let metrics = app.metrics().await;
    for reason in ["SERVICE_DISABLED", "RATE_LIMIT_EXCEEDED"] {
        assert!(
            metrics.lines().any(|l| l.starts_with("fitex_fetcher_project_refusals_total")
                && l.contains("google_health")
                && l.contains(reason)),
            "no {reason} refusal counted:\n{metrics}"
        );
    }
    assert!(!metrics.contains("fitex_fetcher_reconnect_required_total"), "{metrics}");

    // The operator enables the API; the waiting days come through when due.
    app.sim().google_refuse_project(None).await.unwrap();
    sqlx::query("UPDATE pending_fetches SET not_before = now() WHERE reason = 'project_refused'")
        .execute(&app.pool)
        .await
        .unwrap();
    wait_for("both days fetched", Duration::from_secs(20), || async {
        app.stored_steps(alice_participant).await.get(&yesterday) == Some(&6_100)
            && app.stored_steps(bob_participant).await.get(&yesterday) == Some(&6_200)
    })
    .await;
}

#[tokio::test]
async fn a_consent_without_the_activity_scope_asks_the_participant_to_reconnect() {
    let app = spawn_fetcher().await;
    let person = google_only(&app, "UTC").await;
    let narrow = app
        .sim()
        .google_grant_scopes(
            &person.user_id,
            &[
                "https://www.googleapis.com/auth/googlehealth.settings.readonly",
                "https://www.googleapis.com/auth/googlehealth.profile.readonly",
            ],
        )
        .await
        .unwrap();
    let connection = connect_google(&app.fetcher().await, &narrow).await;
    wait_for("reconnect required", Duration::from_secs(30), || async {
        app.status(connection).await.0 == "reconnect_required"
    })
    .await;
    let reason = app.status(connection).await.1.unwrap();
    assert!(reason.contains("does not allow reading activity"), "{reason}");
}
