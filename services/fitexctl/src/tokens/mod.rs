//! `fitexctl tokens`: staff and service tokens for the HTTP APIs (issue, list, revoke), and the
//! encryption keys of stored provider tokens (`keys`, `reencrypt`: see [`keys`]).

mod keys;

use anyhow::{bail, Context};
use clap::Subcommand;
use sqlx::PgPool;

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Issue a token; it is printed once and stored hashed. Scopes: `read` (team progress and
    /// leaderboards), `participant` (also one participant's goals, days and time zone), `admin`
    /// (program staff: also the participant-level export).
    Issue {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "read")]
        scope: String,
    },
    /// Names, scopes and dates (never the tokens).
    List,
    Revoke {
        #[arg(long)]
        name: String,
    },
    /// Which token encryption keys the stored provider tokens use (key ids and counts only).
    Keys,
    /// Re-encrypt every stored provider token under the current (first) encryption key, so an
    /// old key can be removed; tokens no configured key decrypts are listed and left alone.
    Reencrypt {
        /// Connections read per batch (each is rewritten in its own short transaction).
        #[arg(long, default_value_t = 200)]
        batch_size: i64,
    },
}

pub async fn run(pool: &PgPool, command: TokensCommand) -> anyhow::Result<()> {
    use fitex_common::api_tokens::{self, Scope};
    match command {
        TokensCommand::Issue { name, scope } => {
            let Some(scope) = Scope::parse(&scope) else {
                bail!("--scope must be read, participant or admin")
            };
            let token = api_tokens::issue(pool, &name, scope)
                .await
                .with_context(|| format!("issuing {name:?} (names are unique)"))?;
            println!("{name} ({}): {token}", scope.as_str());
            println!("Store it now: only its hash is kept, it cannot be shown again.");
        }
        TokensCommand::List => {
            for api_tokens::IssuedToken { name, scope, created_at: created, revoked_at: revoked } in
                api_tokens::list(pool).await?
            {
                let state = revoked
                    .map(|r| format!("revoked {}", r.to_rfc3339()))
                    .unwrap_or_else(|| "active".into());
                println!("{name:<24} {scope:<11} issued {}  {state}", created.to_rfc3339());
            }
        }
        TokensCommand::Revoke { name } => {
            if !api_tokens::revoke(pool, &name).await? {
                bail!("no active token named {name:?}");
            }
            println!("{name} revoked");
        }
        TokensCommand::Keys => keys::keys(pool).await?,
        TokensCommand::Reencrypt { batch_size } => keys::reencrypt(pool, batch_size).await?,
    }
    Ok(())
}
