//! `fitexctl import`: connecting provider accounts whose tokens were obtained elsewhere (a
//! migration, or the simulator's cohort); each is stored encrypted and backfilled.

use anyhow::{bail, Context};
use fitex_connections::{providers, Connections, ConnectionsSettings, TokenKind};
use fitex_provider::ProviderId;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize)]
struct ImportedAccount {
    /// The provider's user id (asked of the provider when empty).
    #[serde(default)]
    user_id: String,
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: i64,
    #[serde(default)]
    scope: String,
}

/// Reads a JSON array of accounts from standard input and connects each with `provider`.
pub async fn run(kind: &str, provider: ProviderId) -> anyhow::Result<()> {
    let kind = match kind {
        "authorization_code" => TokenKind::AuthorizationCode,
        "implicit" => TokenKind::Implicit,
        other => bail!("--kind must be authorization_code or implicit, not {other:?}"),
    };
    let settings: ConnectionsSettings =
        fitex_common::config::load().context("loading configuration")?;
    let providers =
        providers::configured(&settings.fitbit_api, settings.google_health_api.as_ref())?;
    if !providers.names().contains(&provider) {
        bail!(
            "--provider {:?} is not configured here (configured: {})",
            provider.as_str(),
            providers.names().iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let connections = Connections::from_settings(&settings, providers)?;
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)?;
    let accounts: Vec<ImportedAccount> =
        serde_json::from_str(&input).context("standard input is not a JSON array of accounts")?;
    let now = chrono::Utc::now();
    for account in &accounts {
        let grant = fitex_provider::TokenGrant {
            access_token: SecretString::from(account.access_token.clone()),
            refresh_token: account.refresh_token.clone().map(SecretString::from),
            expires_at: now + chrono::Duration::seconds(account.expires_in),
            scopes: account.scope.clone(),
            user_id: account.user_id.clone(),
        };
        let connection = connections
            .connect(provider, kind, &grant)
            .await
            .with_context(|| format!("connecting {}", account.user_id))?;
        println!("connected {} (connection {connection}); backfill scheduled", account.user_id);
    }
    println!("{} account(s) connected", accounts.len());
    Ok(())
}
