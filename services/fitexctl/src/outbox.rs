//! `fitexctl outbox status`: the Kafka outbox (records waiting in PostgreSQL for the broker).

use anyhow::Context;
use clap::Subcommand;
use fitex_common::database::DatabaseSettings;

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
    type OutboxRow = (String, i64, Option<chrono::DateTime<chrono::Utc>>, Option<String>);
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "SELECT source, count(*), min(created_at),
                (array_agg(last_error ORDER BY id DESC) FILTER (WHERE last_error IS NOT NULL))[1]
         FROM kafka_outbox GROUP BY source ORDER BY source",
    )
    .fetch_all(&pool)
    .await
    .context("reading the outbox")?;
    if rows.is_empty() {
        println!("outbox empty");
    }
    for (source, count, oldest, error) in rows {
        let oldest = oldest.map(|t| t.to_rfc3339()).unwrap_or_default();
        println!(
            "{source}: {count} waiting, oldest {oldest}, last error: {}",
            error.unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}
