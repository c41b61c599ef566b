//! `fitexctl migrate` and `fitexctl topics ensure`: setting up a deployment's database and Kafka
//! topics (both idempotent).

use anyhow::Context;
use clap::Subcommand;
use fitex_common::database::DatabaseSettings;
use fitex_common::kafka::KafkaSettings;

#[derive(Subcommand)]
pub enum TopicsCommand {
    /// Create every topic the services use (existing ones are left alone).
    Ensure,
}

/// Creates the database if needed and applies every pending migration.
pub async fn migrate(database: &DatabaseSettings) -> anyhow::Result<()> {
    fitex_common::database::create_database_if_missing(database, &database.database_name)
        .await
        .with_context(|| format!("creating database {}", database.database_name))?;
    let pool = database.lazy_pool();
    fitex_common::database::migrate(&pool).await.context("applying migrations")?;
    println!("database {} migrated", database.database_name);
    Ok(())
}

pub async fn topics(kafka: &KafkaSettings, command: TopicsCommand) -> anyhow::Result<()> {
    match command {
        TopicsCommand::Ensure => {
            let topics = kafka.topics.all();
            fitex_common::kafka::ensure_topics(kafka, &topics)
                .await
                .with_context(|| format!("creating topics on {}", kafka.brokers))?;
            for topic in topics {
                println!("topic {} ({} partitions) ready", topic.name, topic.partitions);
            }
            Ok(())
        }
    }
}
