//! `fitexctl dlq`, `backfill`, `users show`, `subscriptions`, `tokens`: operating the pipeline.

use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Subcommand;
use fitex_common::kafka::KafkaSettings;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_proto::{DeadLetter, Message as _};
use indicatif::{ProgressBar, ProgressStyle};
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

pub async fn dlq(kafka: &KafkaSettings, pool: &PgPool, command: DlqCommand) -> anyhow::Result<()> {
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
                let claimed = sqlx::query(
                    "INSERT INTO dlq_replays (dead_letter_topic, partition_id, record_offset, event_id, replayed_to)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(&kafka.topics.dead_letters)
                .bind(l.partition)
                .bind(l.offset)
                .bind(&l.letter.event_id)
                .bind(&target)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed == 0 {
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

/// Schedules the last `days` local dates of one participant (or all) and shows the fetcher
/// working through them.
pub async fn backfill(
    pool: &PgPool,
    user: Option<String>,
    all: bool,
    days: u32,
    wait: bool,
) -> anyhow::Result<()> {
    if user.is_none() && !all {
        bail!("name a participant with --user, or use --all");
    }
    if days == 0 || days > 365 {
        bail!("--days must be between 1 and 365");
    }
    let connections: Vec<(i64, String)> = sqlx::query_as(
        "SELECT c.id, p.time_zone FROM provider_connections c JOIN participants p ON p.id = c.participant_id
         WHERE c.sync_status = 'active' AND ($1::text IS NULL OR c.provider_user_id = $1) ORDER BY c.id",
    )
    .bind(&user)
    .fetch_all(pool)
    .await?;
    if connections.is_empty() {
        bail!("no active connection matches");
    }
    let now = Utc::now();
    let mut scheduled = 0usize;
    for (connection, zone) in &connections {
        let dates = fitex_fetcher::connect::backfill_dates(zone, days, now);
        fitex_fetcher::store::defer(pool, *connection, &dates, "backfill", now).await?;
        scheduled += dates.len();
    }
    println!("{scheduled} day(s) of {} participant(s) scheduled", connections.len());
    if !wait {
        return Ok(());
    }
    let ids: Vec<i64> = connections.iter().map(|(id, _)| *id).collect();
    let bar = ProgressBar::new(scheduled as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} days fetched {msg}")
            .expect("valid template"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(3600);
    loop {
        let (waiting, limited): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE reason = 'rate_limited')
             FROM pending_fetches WHERE connection_id = ANY($1) AND reason <> 'awaiting_reconnect'",
        )
        .bind(&ids)
        .fetch_one(pool)
        .await?;
        bar.set_position(scheduled.saturating_sub(waiting as usize) as u64);
        bar.set_message(if limited > 0 {
            format!("({limited} waiting for a rate-limit reset)")
        } else {
            String::new()
        });
        if waiting == 0 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bar.finish();
    Ok(())
}

/// One participant's sync status, never their tokens.
pub async fn show(pool: &PgPool, user: &str) -> anyhow::Result<()> {
    #[derive(sqlx::FromRow)]
    struct Row {
        participant_id: i64,
        provider: String,
        sync_status: String,
        status_reason: Option<String>,
        token_kind: Option<String>,
        access_expires_at: Option<chrono::DateTime<Utc>>,
        last_sync_at: Option<chrono::DateTime<Utc>>,
        time_zone: String,
        rate_remaining: Option<i32>,
        rate_resets_at: Option<chrono::DateTime<Utc>>,
        days: i64,
        pending: i64,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT c.participant_id, c.provider, c.sync_status, c.status_reason, c.token_kind,
                c.access_expires_at, c.last_sync_at, p.time_zone, c.rate_remaining, c.rate_resets_at,
                (SELECT count(*) FROM activity_days d WHERE d.participant_id = c.participant_id) AS days,
                (SELECT count(*) FROM pending_fetches f WHERE f.connection_id = c.id) AS pending
         FROM provider_connections c JOIN participants p ON p.id = c.participant_id
         WHERE c.provider_user_id = $1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { bail!("no participant with provider user id {user:?}") };
    let when = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into())
    };
    println!("participant      {} ({} user {user})", r.participant_id, r.provider);
    println!("status           {}", r.sync_status);
    if let Some(reason) = r.status_reason {
        println!("                 {reason}");
    }
    println!(
        "token            {} (expires {})",
        r.token_kind.unwrap_or_else(|| "none".into()),
        when(r.access_expires_at)
    );
    println!("last sync        {}", when(r.last_sync_at));
    println!("time zone        {}", r.time_zone);
    println!("days stored      {}  (waiting: {})", r.days, r.pending);
    if let Some(remaining) = r.rate_remaining {
        println!("rate budget      {remaining} left until {}", when(r.rate_resets_at));
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum SubscriptionsCommand {
    /// Subscribe a participant (all collections by default) at the provider.
    Create {
        #[arg(long)]
        user: String,
        /// activities, body, foods, sleep or userRevokedAccess; all when omitted.
        #[arg(long)]
        collection: Option<String>,
    },
    List {
        #[arg(long)]
        user: String,
    },
    Delete {
        #[arg(long)]
        user: String,
        #[arg(long)]
        collection: Option<String>,
        /// The subscription id (default: as `create` names it).
        #[arg(long)]
        id: Option<String>,
    },
}

/// The id FitEx gives a participant's subscription: the provider user id, and the collection.
fn subscription_id(user: &str, collection: Option<&str>) -> String {
    format!("{user}-{}", collection.unwrap_or("all"))
}

pub async fn subscriptions(command: SubscriptionsCommand) -> anyhow::Result<()> {
    let settings: fitex_fetcher::Settings =
        fitex_common::config::load().context("loading configuration")?;
    let api = fitex_fetcher::startup::fitbit_api(&settings)?;
    let providers =
        fitex_fetcher::providers::Providers::new([std::sync::Arc::new(api.clone())
            as std::sync::Arc<dyn fitex_provider::ActivityProvider>]);
    let fetcher = fitex_fetcher::sync::Fetcher::from_settings(&settings, providers)?;
    let user = match &command {
        SubscriptionsCommand::Create { user, .. }
        | SubscriptionsCommand::List { user }
        | SubscriptionsCommand::Delete { user, .. } => user.clone(),
    };
    let connection = fitex_fetcher::store::find_connection(&fetcher.pool, "fitbit", &user)
        .await?
        .with_context(|| format!("no Fitbit connection for {user:?}"))?;
    let token =
        match fetcher.usable_access_token(&connection).await.map_err(|e| anyhow::anyhow!("{e}"))? {
            Ok(token) => token,
            Err(problem) => bail!("{user} must reconnect first ({problem:?})"),
        };
    let fail = |e: fitex_provider::ProviderError| anyhow::anyhow!("the provider refused: {e}");
    match command {
        SubscriptionsCommand::Create { collection, .. } => {
            let id = subscription_id(&user, collection.as_deref());
            let outcome =
                api.create_subscription(&token, collection.as_deref(), &id).await.map_err(fail)?;
            println!("{user}: subscription {id} {outcome:?}");
        }
        SubscriptionsCommand::List { .. } => {
            let list = api.list_subscriptions(&token, None).await.map_err(fail)?;
            if list.is_empty() {
                println!("{user}: no subscriptions");
            }
            for s in list {
                let collection =
                    if s.collection_type.is_empty() { "all" } else { s.collection_type.as_str() };
                println!(
                    "{user}: {} ({collection}, subscriber {})",
                    s.subscription_id, s.subscriber_id
                );
            }
        }
        SubscriptionsCommand::Delete { collection, id, .. } => {
            let id = id.unwrap_or_else(|| subscription_id(&user, collection.as_deref()));
            let deleted =
                api.delete_subscription(&token, collection.as_deref(), &id).await.map_err(fail)?;
            println!(
                "{user}: subscription {id} {}",
                if deleted { "deleted" } else { "did not exist" }
            );
        }
    }
    Ok(())
}

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

pub async fn tokens(pool: &PgPool, command: TokensCommand) -> anyhow::Result<()> {
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
            type TokenRow = (String, String, chrono::DateTime<Utc>, Option<chrono::DateTime<Utc>>);
            let rows: Vec<TokenRow> = sqlx::query_as(
                "SELECT name, scope, created_at, revoked_at FROM api_tokens ORDER BY id",
            )
            .fetch_all(pool)
            .await?;
            for (name, scope, created, revoked) in rows {
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
        TokensCommand::Keys => crate::token_keys::keys(pool).await?,
        TokensCommand::Reencrypt { batch_size } => {
            crate::token_keys::reencrypt(pool, batch_size).await?
        }
    }
    Ok(())
}
