//! `fitexctl outbox status`: the Kafka outbox (records waiting in PostgreSQL for the broker).

use anyhow::Context;
use clap::Subcommand;
use fitex_common::database::DatabaseSettings;
use fitex_common::outbox::{self, SourceBacklog};

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// How many records wait in the outbox, per source, and the oldest.
    Status,
}

pub async fn run(database: &DatabaseSettings, command: OutboxCommand) -> anyhow::Result<()> {
    match command {
        OutboxCommand::Status => status(database).await,
    }
}

async fn status(database: &DatabaseSettings) -> anyhow::Result<()> {
    let pool = database.lazy_pool();
    let sources = outbox::backlog(&pool).await.context("reading the outbox")?;
    if sources.is_empty() {
        println!("outbox empty");
    }
    for SourceBacklog { source, waiting, oldest, last_error } in sources {
        let oldest = oldest.map(|t| t.to_rfc3339()).unwrap_or_default();
        println!(
            "{source}: {waiting} waiting, oldest {oldest}, last error: {}",
            last_error.unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}
