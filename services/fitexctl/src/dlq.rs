//! `fitexctl dlq`: dead-lettered events — list them, or put each back on its topic once.

use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Subcommand;
use fitex_common::dead_letter;
use fitex_common::kafka::KafkaSettings;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_proto::{DeadLetter, Message as _};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::TopicPartitionList;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum DlqCommand {
    /// Every dead-lettered event: where it came from, why, after how many attempts.
    List,
    /// Put dead-lettered events back on their topic (each once: replaying again skips them).
    Replay {
        /// Only this event id.
        #[arg(long)]
        event: Option<String>,
    },
}

struct Letter {
    partition: i32,
    offset: i64,
    key: String,
    letter: DeadLetter,
}

/// Reads the whole dead-letter topic.
fn read_letters(kafka: &KafkaSettings) -> anyhow::Result<Vec<Letter>> {
    let topic = &kafka.topics.dead_letters;
    let consumer: BaseConsumer = kafka
        .consumer_config(&format!("fitexctl-dlq-{}", Uuid::new_v4().simple()), "fitexctl")
        .create()?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("reading metadata of {topic} from {}", kafka.brokers))?;
    let mut assignment = TopicPartitionList::new();
    let mut remaining = 0i64;
    for partition in metadata.topics()[0].partitions() {
        let (low, high) =
            consumer.fetch_watermarks(topic, partition.id(), Duration::from_secs(10))?;
        remaining += high - low;
        assignment.add_partition_offset(topic, partition.id(), rdkafka::Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let mut letters = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // The high watermarks can trail the last readable record (tansu does: docs/reliability.md), so
    // they only say how many letters at least; reading goes on until the topic has been quiet for
    // a moment.
    let quiet_for = Duration::from_millis(1_500);
    let mut last_record = std::time::Instant::now();
    while std::time::Instant::now() < deadline
        && ((letters.len() as i64) < remaining || last_record.elapsed() < quiet_for)
    {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
        last_record = std::time::Instant::now();
        let message = message?;
        let letter = DeadLetter::decode(message.payload().unwrap_or_default())
            .context("decoding a DeadLetter")?;
        letters.push(Letter {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default(),
            letter,
        });
    }
    Ok(letters)
}

pub async fn run(kafka: &KafkaSettings, pool: &PgPool, command: DlqCommand) -> anyhow::Result<()> {
    let letters = tokio::task::spawn_blocking({
        let kafka = kafka.clone();
        move || read_letters(&kafka)
    })
    .await??;
    match command {
        DlqCommand::List => {
            if letters.is_empty() {
                println!("no dead letters in {}", kafka.topics.dead_letters);
            }
            for l in &letters {
                println!(
                    "[p{} @{}] key={} event={} from={} attempts={} reason: {}",
                    l.partition,
                    l.offset,
                    l.key,
                    l.letter.event_id,
                    l.letter.source_topic,
                    l.letter.attempts,
                    l.letter.reason
                );
            }
        }
        DlqCommand::Replay { event } => {
            let producer = kafka.recovering_producer("fitexctl")?;
            let mut replayed = 0;
            let mut skipped = 0;
            for l in
                letters.iter().filter(|l| event.as_ref().is_none_or(|e| *e == l.letter.event_id))
            {
                // The retry topic is the fetcher's own; its records go back to the notifications
                // topic, with a fresh attempt count.
                let target = if l.letter.source_topic == kafka.topics.fetch_retries {
                    kafka.topics.notifications.clone()
                } else {
                    l.letter.source_topic.clone()
                };
                let mut tx = pool.begin().await?;
                let replay = dead_letter::Replay {
                    dead_letter_topic: &kafka.topics.dead_letters,
                    partition: l.partition,
                    offset: l.offset,
                    event_id: &l.letter.event_id,
                    replayed_to: &target,
                };
                if !dead_letter::claim_replay(&mut tx, &replay).await? {
                    skipped += 1;
                    continue;
                }
                let headers: Vec<(String, String)> = l
                    .letter
                    .headers
                    .iter()
                    .filter(|(k, _)| {
                        !matches!(k.as_str(), "attempt" | "not_before_ms" | "last_error")
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .chain([("replayed_at".to_string(), Utc::now().to_rfc3339())])
                    .collect();
                let record = OutgoingRecord {
                    event_id: Uuid::now_v7(),
                    topic: target,
                    key: l.key.clone(),
                    payload: l.letter.payload.clone(),
                    headers,
                };
                let failures =
                    outbox::send_all(&producer, &[record], Duration::from_secs(10)).await;
                if let Some((_, failure)) = failures.first() {
                    // Not committed: the replay can be run again.
                    bail!("could not replay event {}: {failure}", l.letter.event_id);
                }
                tx.commit().await?;
                replayed += 1;
            }
            println!("replayed {replayed} dead letter(s); {skipped} already replayed before");
        }
    }
    Ok(())
}
