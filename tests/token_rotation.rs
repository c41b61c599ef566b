//! Rotating the token encryption key, as docs/operations.md tells operators to: tokens written under
//! key A stay readable once B is put in front (`B,A`); `fitexctl tokens reencrypt` moves every one
//! to B, after which `B` alone reads them all; a token under a key nobody configured is reported by
//! connection id and left untouched; a second run changes nothing; and a token refresh that happens
//! while the command runs is not lost. No output ever contains token or key material.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use fitex_common::token_cipher::TokenCipher;
use fitex_connections::store::{self, TokenKind};
use fitex_connections::{providers, Connections, ConnectionsSettings};
use fitex_e2e::{config_dir, connect_simulated_fitbit_user, service_binary};
use fitex_provider::TokenGrant;
use fitex_provider_simulator::{CreateUser, Simulator, SimulatorHandle};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

const KEY_A: &str = "ka:oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=";
const KEY_B: &str = "kb:srKysrKysrKysrKysrKysrKysrKysrKysrKysrKysrI=";
/// A key no configuration lists (a row left from a key removed too early).
const KEY_X: &str = "kx:w8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8M=";

fn cipher(keys: &[&str]) -> TokenCipher {
    let keys: Vec<SecretString> = keys.iter().map(|k| SecretString::from(k.to_string())).collect();
    TokenCipher::from_config(&keys).unwrap()
}

/// `fitexctl` against the test's database with `keys` as `FITEX__TOKENS__ENCRYPTION_KEYS`.
fn fitexctl(database: &str, keys: &[&str], args: &[&str]) -> (bool, String) {
    let output = Command::new(service_binary("fitexctl"))
        .args(args)
        .env("FITEX_CONFIG_DIR", config_dir())
        .env("FITEX__DATABASE__DATABASE_NAME", database)
        .env("FITEX__TOKENS__ENCRYPTION_KEYS", keys.join(","))
        .output()
        .expect("run fitexctl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// Fails if `output` holds any of `secrets` (printed as its position, never the secret).
fn assert_no_secrets(output: &str, secrets: &[&str]) {
    for (i, secret) in secrets.iter().enumerate() {
        assert!(!output.contains(secret), "secret #{i} printed by fitexctl");
    }
}

/// The connection core's settings pointed at the simulator and the test database, with `keys`.
fn settings(sim: &SimulatorHandle, database: &str, keys: &[&str]) -> ConnectionsSettings {
    let mut settings: ConnectionsSettings =
        fitex_common::config::load_from(std::path::Path::new(config_dir()), "test").unwrap();
    settings.database = fitex_testkit::database_settings(database);
    settings.fitbit_api.api_base_url = sim.base_url();
    settings.fitbit_api.token_url = format!("{}/oauth2/token", sim.base_url());
    settings.fitbit_api.client_id = "SIMCLIENT".into();
    settings.fitbit_api.client_secret = SecretString::from("sim-client-secret");
    settings.tokens.encryption_keys =
        keys.iter().map(|k| SecretString::from(k.to_string())).collect();
    settings
}

/// The connection core as a fetcher (or the portal) restarted with `settings` holds it.
fn fetcher(settings: &ConnectionsSettings) -> Connections {
    let providers =
        providers::configured(&settings.fitbit_api, settings.google_health_api.as_ref()).unwrap();
    Connections::from_settings(settings, providers).unwrap()
}

/// A simulator user's tokens, stored encrypted under `cipher`'s current key.
async fn connect(
    pool: &PgPool,
    sim: &SimulatorHandle,
    cipher: &TokenCipher,
    user: &str,
) -> (i64, String, String) {
    let user = CreateUser { user_id: Some(user.into()), ..Default::default() };
    let c = connect_simulated_fitbit_user(pool, &sim.client(), cipher, user).await;
    (c.connection_id, c.access_token, c.refresh_token)
}

type StoredTokens = (i64, Option<Vec<u8>>, Option<Vec<u8>>, i64);

async fn stored(pool: &PgPool) -> Vec<StoredTokens> {
    sqlx::query_as(
        "SELECT id, access_token, refresh_token, token_version FROM provider_connections ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A key's line of `fitexctl tokens keys`: (access tokens, refresh tokens, what the key is).
fn key_row(output: &str, key: &str) -> Option<(i64, i64, String)> {
    output.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? != key {
            return None;
        }
        let access = words.next()?.parse().ok()?;
        let refresh = words.next()?.parse().ok()?;
        Some((access, refresh, words.collect::<Vec<_>>().join(" ")))
    })
}

fn key_ids(row: &StoredTokens) -> (String, String) {
    let id = |c: &Option<Vec<u8>>| {
        TokenCipher::key_id_of(c.as_deref().unwrap_or_default()).unwrap_or("none").to_string()
    };
    (id(&row.1), id(&row.2))
}

async fn access_token_of(fetcher: &Connections, id: i64) -> String {
    let connection = store::connection_by_id(&fetcher.pool, id).await.unwrap().unwrap();
    fetcher
        .usable_access_token(&connection)
        .await
        .expect("the stored token decrypts")
        .expect("the token is usable")
        .expose_secret()
        .to_string()
}

/// The access token a refresh through `fetcher` gets now, however fresh the stored one is (as a
/// fetcher refreshes after a 401): the stored refresh token must decrypt under its keys.
async fn refreshed_access_token_of(fetcher: &Connections, id: i64) -> String {
    let connection = store::connection_by_id(&fetcher.pool, id).await.unwrap().unwrap();
    fetcher
        .refresh_single_flight(id, connection.token_version, true)
        .await
        .expect("the stored refresh token decrypts")
        .expect("the provider refreshes")
        .expose_secret()
        .to_string()
}

#[tokio::test]
async fn rotating_the_encryption_key_and_reencrypting_every_stored_token() {
    let sim = Simulator::spawn(Default::default()).await.unwrap();
    let (database, pool) = fitex_testkit::test_database().await;
    let db = database.database_name.clone();

    // Key A in use: two participants connect; a third row was written under a key since lost.
    let (kept, kept_access, kept_refresh) = connect(&pool, &sim, &cipher(&[KEY_A]), "ROT01").await;
    let (refreshed, _, refreshed_refresh) = connect(&pool, &sim, &cipher(&[KEY_A]), "ROT02").await;
    let (lost, lost_access, lost_refresh) = connect(&pool, &sim, &cipher(&[KEY_X]), "ROT03").await;
    let secrets = [
        kept_access.as_str(),
        kept_refresh.as_str(),
        refreshed_refresh.as_str(),
        lost_access.as_str(),
        lost_refresh.as_str(),
        KEY_A.split_once(':').unwrap().1,
        KEY_B.split_once(':').unwrap().1,
        KEY_X.split_once(':').unwrap().1,
    ];
    let (ok, keys) = fitexctl(&db, &[KEY_A], &["tokens", "keys"]);
    assert!(ok, "{keys}");
    let row = key_row(&keys, "ka").unwrap_or_else(|| panic!("no ka line: {keys}"));
    assert!(row.0 == 2 && row.1 == 2 && row.2.starts_with("current"), "{keys}");
    let row = key_row(&keys, "kx").unwrap_or_else(|| panic!("no kx line: {keys}"));
    assert!(row.0 == 1 && row.1 == 1 && row.2.starts_with("NOT CONFIGURED"), "{keys}");

    // Rotated to B,A: what A encrypted still reads, and what is written now goes under B.
    let rotated = fetcher(&settings(&sim, &db, &[KEY_B, KEY_A]));
    assert_eq!(access_token_of(&rotated, kept).await, kept_access, "A's token reads under B,A");
    let refreshed_access = refreshed_access_token_of(&rotated, refreshed).await;
    let before = stored(&pool).await;
    assert_eq!(key_ids(&before[0]), ("ka".into(), "ka".into()));
    assert_eq!(key_ids(&before[1]), ("kb".into(), "kb".into()), "a refresh writes under B");
    assert_eq!(key_ids(&before[2]), ("kx".into(), "kx".into()));

    // Re-encryption moves A's tokens to B and reports, without touching, what it cannot read.
    let (ok, first) = fitexctl(&db, &[KEY_B, KEY_A], &["tokens", "reencrypt", "--batch-size", "2"]);
    assert!(!ok, "unreadable tokens make the command fail: {first}");
    assert!(first.contains("re-encrypted 2 token(s) of 1 connection(s) under key kb"), "{first}");
    assert!(first.contains("from key ka: 2 token(s) (1 access, 1 refresh)"), "{first}");
    assert!(first.contains("already under key kb: 2 token(s)"), "{first}");
    assert!(first.contains("could not decrypt 2 token(s) of 1 connection(s)"), "{first}");
    assert!(
        first.contains(&format!(
            "connection {lost}: access_token (key kx: key not configured), refresh_token (key kx: key not configured)"
        )),
        "{first}"
    );
    let row = key_row(&first, "kb").unwrap_or_else(|| panic!("no kb line: {first}"));
    assert!(row.0 == 2 && row.1 == 2 && row.2.starts_with("current"), "{first}");
    let row = key_row(&first, "ka").unwrap_or_else(|| panic!("no ka line: {first}"));
    assert!(row.0 == 0 && row.1 == 0 && row.2.starts_with("configured, unused"), "{first}");
    assert_no_secrets(&first, &secrets);
    assert_no_secrets(&first, &[&refreshed_access]);
    let after = stored(&pool).await;
    assert_eq!(key_ids(&after[0]), ("kb".into(), "kb".into()));
    assert_eq!(after[0].3, before[0].3, "re-encryption is not a new token: same version");
    assert_eq!(after[1], before[1], "already under B: untouched");
    assert_eq!(after[2], before[2], "unreadable: untouched");

    // Running it again changes nothing.
    let (_, second) = fitexctl(&db, &[KEY_B, KEY_A], &["tokens", "reencrypt"]);
    assert!(second.contains("re-encrypted 0 token(s) of 0 connection(s)"), "{second}");
    assert!(second.contains("already under key kb: 4 token(s)"), "{second}");
    assert!(second.contains(&format!("connection {lost}: access_token")), "{second}");
    assert_eq!(stored(&pool).await, after, "a second run is a no-op");

    // A removed: B alone reads every token (including through a refresh).
    let b_only = fetcher(&settings(&sim, &db, &[KEY_B]));
    assert_eq!(access_token_of(&b_only, kept).await, kept_access);
    assert_eq!(access_token_of(&b_only, refreshed).await, refreshed_access);
    let renewed = refreshed_access_token_of(&b_only, kept).await;
    assert_ne!(renewed, kept_access, "the refresh token re-encrypted under B refreshes");
    let (ok, keys) = fitexctl(&db, &[KEY_B], &["tokens", "keys"]);
    assert!(ok, "{keys}");
    let row = key_row(&keys, "kb").unwrap_or_else(|| panic!("no kb line: {keys}"));
    assert!(row.0 == 2 && row.1 == 2 && row.2.starts_with("current"), "{keys}");
    assert!(key_row(&keys, "ka").is_none(), "{keys}");
    assert_no_secrets(&keys, &secrets);
    assert_no_secrets(&keys, &[&renewed]);
    sim.stop().await;
}

#[tokio::test]
async fn a_token_refresh_while_reencrypting_is_not_lost() {
    let sim = Simulator::spawn(Default::default()).await.unwrap();
    let (database, pool) = fitex_testkit::test_database().await;
    let db = database.database_name.clone();
    let old = cipher(&[KEY_A]);
    let (id, _, _) = connect(&pool, &sim, &old, "RACE01").await;
    let version = stored(&pool).await[0].3;

    // A fetcher not yet restarted with the new keys holds the row lock for a refresh...
    let mut refresh = pool.begin().await.unwrap();
    store::lock_connection(&mut refresh, id).await.unwrap().unwrap();
    let reencrypt = tokio::process::Command::new(service_binary("fitexctl"))
        .args(["tokens", "reencrypt"])
        .env("FITEX_CONFIG_DIR", config_dir())
        .env("FITEX__DATABASE__DATABASE_NAME", &db)
        .env("FITEX__TOKENS__ENCRYPTION_KEYS", format!("{KEY_B},{KEY_A}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // ...so re-encryption, having read the row, waits for the lock...
    fitex_testkit::wait_for("fitexctl to wait for the row lock", Duration::from_secs(30), || {
        let pool = pool.clone();
        let db = db.clone();
        async move {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            )
            .bind(db)
            .fetch_one(&pool)
            .await
            .unwrap();
            waiting > 0
        }
    })
    .await;
    // ...while the refresh stores new tokens (still under A) and commits.
    let grant = TokenGrant {
        access_token: SecretString::from("access-token-from-the-concurrent-refresh"),
        refresh_token: Some(SecretString::from("refresh-token-from-the-concurrent-refresh")),
        expires_at: Utc::now() + chrono::Duration::hours(8),
        scopes: "activity".into(),
        user_id: "RACE01".into(),
    };
    store::store_grant(&mut refresh, &old, id, TokenKind::AuthorizationCode, &grant).await.unwrap();
    refresh.commit().await.unwrap();

    let output = tokio::time::timeout(Duration::from_secs(60), reencrypt.wait_with_output())
        .await
        .expect("fitexctl finishes once the lock is released")
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 connection(s) got new tokens while this ran"), "{text}");
    assert!(text.contains("from key ka: 2 token(s)"), "{text}");
    assert!(!text.contains("concurrent-refresh"), "tokens printed: {text}");
    let row = &stored(&pool).await[0];
    assert_eq!(row.3, version + 1, "only the refresh moved the version");
    assert_eq!(key_ids(row), ("kb".into(), "kb".into()), "the refreshed tokens, under B");
    let b_only = cipher(&[KEY_B]);
    let access = b_only.decrypt(row.1.as_ref().unwrap(), &store::access_context(id)).unwrap();
    let refresh = b_only.decrypt(row.2.as_ref().unwrap(), &store::refresh_context(id)).unwrap();
    assert_eq!(access.expose_secret(), "access-token-from-the-concurrent-refresh");
    assert_eq!(refresh.expose_secret(), "refresh-token-from-the-concurrent-refresh");
    sim.stop().await;
}
