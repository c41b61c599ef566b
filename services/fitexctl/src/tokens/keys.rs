//! `fitexctl tokens keys` and `fitexctl tokens reencrypt`: which token encryption keys the stored
//! provider tokens use, and moving every one of them onto the current (first) key so an old key
//! can be removed from `tokens.encryption_keys`.
//!
//! Only key ids, counts and connection ids are ever printed, never token material.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use fitex_common::token_cipher::{CipherError, TokenCipher};
use fitex_connections::settings::TokenSettings;
use fitex_connections::token_keys::{self, TokenColumn};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sqlx::PgPool;

#[derive(Deserialize)]
struct Settings {
    tokens: TokenSettings,
}

/// The configured key ring (`tokens.encryption_keys`, newest first).
pub fn configured_cipher() -> anyhow::Result<(TokenCipher, Vec<String>)> {
    let settings: Settings = fitex_common::config::load().context("loading configuration")?;
    let cipher = TokenCipher::from_config(&settings.tokens.encryption_keys)
        .context("tokens.encryption_keys (FITEX__TOKENS__ENCRYPTION_KEYS)")?;
    let ids = settings
        .tokens
        .encryption_keys
        .iter()
        .map(|entry| entry.expose_secret().split(':').next().unwrap_or_default().to_string())
        .collect();
    Ok((cipher, ids))
}

/// The key id a stored ciphertext names, or `(malformed)`.
fn key_label(ciphertext: &[u8]) -> String {
    match TokenCipher::key_id_of(ciphertext) {
        Some(id) if ciphertext.first() == Some(&1) => id.to_string(),
        _ => "(malformed)".to_string(),
    }
}

/// `fitexctl tokens keys`: tokens per key id, and what each configured key is for.
pub async fn keys(pool: &PgPool) -> anyhow::Result<()> {
    let (cipher, configured) = configured_cipher()?;
    print_key_usage(pool, &cipher, &configured).await
}

async fn print_key_usage(
    pool: &PgPool,
    cipher: &TokenCipher,
    configured: &[String],
) -> anyhow::Result<()> {
    let rows = token_keys::tokens_per_key(pool).await.context("counting stored tokens per key")?;
    let mut usage: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (column, key_id, count) in rows {
        let label = key_id
            .map(|id| String::from_utf8_lossy(&id).into_owned())
            .unwrap_or_else(|| "(malformed)".into());
        let entry = usage.entry(label).or_default();
        if column == "access_token" {
            entry.0 += count;
        } else {
            entry.1 += count;
        }
    }
    for id in configured {
        usage.entry(id.clone()).or_default();
    }
    println!("{:<16} {:>8} {:>8}  key", "key id", "access", "refresh");
    // Configured keys in their configured order, then the others.
    let mut order: Vec<&String> = configured.iter().collect();
    order.extend(usage.keys().filter(|id| !configured.contains(id)));
    for id in order {
        let (access, refresh) = usage[id];
        let role = if id == cipher.current_key_id() {
            "current: encrypts new tokens".to_string()
        } else if configured.contains(id) {
            if access + refresh == 0 {
                "configured, unused: can be removed".to_string()
            } else {
                "configured, decrypts only: run `fitexctl tokens reencrypt`".to_string()
            }
        } else {
            "NOT CONFIGURED: these tokens cannot be decrypted".to_string()
        };
        println!("{id:<16} {access:>8} {refresh:>8}  {role}");
    }
    Ok(())
}

/// What re-encryption did.
#[derive(Debug, Default)]
struct Report {
    /// Connections whose tokens were rewritten.
    rows: usize,
    /// Tokens rewritten, by the key they were under.
    from_key: BTreeMap<String, (usize, usize)>,
    /// Tokens that were already under the current key.
    already_current: usize,
    /// Connections with a token that could not be decrypted: id → (column, key, why).
    unreadable: BTreeMap<i64, Vec<(TokenColumn, String, &'static str)>>,
    /// Rows whose tokens changed between the batch read and the lock (re-read under the lock).
    changed_meanwhile: usize,
}

/// `fitexctl tokens reencrypt`: rewrites every stored token that is not under the current key,
/// `batch_size` connections at a time, each in its own transaction holding the row lock.
pub async fn reencrypt(pool: &PgPool, batch_size: i64) -> anyhow::Result<()> {
    if batch_size < 1 {
        bail!("--batch-size must be at least 1");
    }
    let (cipher, configured) = configured_cipher()?;
    let current = cipher.current_key_id().to_string();
    println!(
        "re-encrypting stored provider tokens under key {current} (configured: {})",
        configured.join(", ")
    );
    let mut report = Report::default();
    let mut after = 0i64;
    loop {
        let batch = token_keys::connections_with_tokens(pool, after, batch_size)
            .await
            .context("reading a batch of connections")?;
        let Some(last) = batch.last() else { break };
        after = last.0;
        for (id, version, access, refresh) in batch {
            let on_current =
                |c: &Option<Vec<u8>>| c.as_deref().is_none_or(|c| key_label(c) == current);
            if on_current(&access) && on_current(&refresh) {
                report.already_current += access.iter().chain(refresh.iter()).count();
                continue;
            }
            reencrypt_row(pool, &cipher, id, version, &mut report)
                .await
                .with_context(|| format!("re-encrypting connection {id}"))?;
        }
    }

    let moved: usize = report.from_key.values().map(|(a, r)| a + r).sum();
    println!("re-encrypted {moved} token(s) of {} connection(s) under key {current}", report.rows);
    for (key, (access, refresh)) in &report.from_key {
        println!(
            "  from key {key}: {} token(s) ({access} access, {refresh} refresh)",
            access + refresh
        );
    }
    println!("already under key {current}: {} token(s)", report.already_current);
    if report.changed_meanwhile > 0 {
        println!(
            "{} connection(s) got new tokens while this ran (a refresh or reconnection); they were read again under the row lock",
            report.changed_meanwhile
        );
    }
    if !report.unreadable.is_empty() {
        let tokens: usize = report.unreadable.values().map(Vec::len).sum();
        println!(
            "could not decrypt {tokens} token(s) of {} connection(s); left unchanged:",
            report.unreadable.len()
        );
        for (id, problems) in &report.unreadable {
            let what: Vec<String> = problems
                .iter()
                .map(|(column, key, why)| format!("{} (key {key}: {why})", column.name()))
                .collect();
            println!("  connection {id}: {}", what.join(", "));
        }
    }
    println!();
    print_key_usage(pool, &cipher, &configured).await?;
    if !report.unreadable.is_empty() {
        bail!(
            "{} connection(s) have tokens no configured key decrypts: put their key back in \
             tokens.encryption_keys, or have those participants reconnect",
            report.unreadable.len()
        );
    }
    Ok(())
}

/// One connection, in its own transaction: lock the row, read its tokens again (a refresh may have
/// replaced them since the batch was read), rewrite those not under the current key.
///
/// `token_version` is not bumped: the tokens themselves are unchanged, and the fetcher's
/// single-flight refresh reads a changed version as "someone refreshed already", which would make a
/// forced refresh after a 401 reuse the refused token instead of refreshing. Holding the row lock
/// (the refresh takes the same `FOR UPDATE`) is what keeps a concurrent refresh from being lost.
async fn reencrypt_row(
    pool: &PgPool,
    cipher: &TokenCipher,
    id: i64,
    seen_version: i64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let current = cipher.current_key_id();
    let mut tx = pool.begin().await?;
    let Some(seen) = token_keys::lock_tokens(&mut tx, id).await? else {
        return Ok(()); // deleted meanwhile
    };
    let (version, access, refresh) = &seen;
    if *version != seen_version {
        report.changed_meanwhile += 1;
    }
    let mut rewritten: Vec<(TokenColumn, String, Vec<u8>)> = Vec::new();
    for (column, stored) in [(TokenColumn::Access, access), (TokenColumn::Refresh, refresh)] {
        let Some(stored) = stored else { continue };
        let key = key_label(stored);
        if key == current {
            report.already_current += 1;
            continue;
        }
        match cipher.decrypt(stored, &column.context(id)) {
            Ok(plain) => {
                let sealed = cipher.encrypt(plain.expose_secret(), &column.context(id));
                rewritten.push((column, key, sealed));
            }
            Err(error) => {
                let why = match error {
                    CipherError::UnknownKey(_) => "key not configured",
                    CipherError::Authentication => "does not authenticate",
                    CipherError::Malformed => "malformed",
                    CipherError::NoKeys | CipherError::BadKey(_) => "no usable key",
                };
                report.unreadable.entry(id).or_default().push((column, key, why));
            }
        }
    }
    if rewritten.is_empty() {
        tx.rollback().await?;
        return Ok(());
    }
    let new_access = rewritten.iter().find(|(c, ..)| *c == TokenColumn::Access).map(|(.., s)| s);
    let new_refresh = rewritten.iter().find(|(c, ..)| *c == TokenColumn::Refresh).map(|(.., s)| s);
    // Only what was read under this lock is replaced (same version, same ciphertexts).
    if !token_keys::replace_ciphertexts(&mut tx, id, &seen, new_access, new_refresh).await? {
        bail!("connection {id} changed under its row lock");
    }
    tx.commit().await?;
    report.rows += 1;
    for (column, key, _) in rewritten {
        let entry = report.from_key.entry(key).or_default();
        match column {
            TokenColumn::Access => entry.0 += 1,
            TokenColumn::Refresh => entry.1 += 1,
        }
    }
    Ok(())
}
