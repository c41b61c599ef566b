//! `fitexctl`: the operators' command line. Reads the same configuration as the services.

use std::time::Duration;

mod google;
mod operations;
mod programs;
mod token_keys;
mod users;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use fitex_common::database::DatabaseSettings;
use fitex_common::kafka::KafkaSettings;
use fitex_proto::{Message, ProviderNotification};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message as _};
use rdkafka::TopicPartitionList;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Parser)]
#[command(name = "fitexctl", version, about = "Operate a FitEx Sync deployment")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if needed and apply every pending migration.
    Migrate,
    /// Kafka topics.
    Topics {
        #[command(subcommand)]
        command: TopicsCommand,
    },
    /// Events on a topic.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Participants and their sync status.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Connect provider accounts whose tokens were obtained elsewhere (a migration, or the
    /// simulator's cohort): reads a JSON array of {user_id, access_token, refresh_token?,
    /// expires_in, scope} from standard input; each is stored encrypted and backfilled.
    Import {
        /// `authorization_code` (with refresh tokens) or `implicit` (pasted long-lived tokens).
        #[arg(long, default_value = "authorization_code")]
        kind: String,
        /// `fitbit` or `google_health` (a Google Health user is linked to their Fitbit-era
        /// participant through their legacy Fitbit id).
        #[arg(long, default_value = "fitbit")]
        provider: String,
    },
    /// Programs (seasons): create and list.
    Programs {
        #[command(subcommand)]
        command: programs::ProgramsCommand,
    },
    /// Teams and their members.
    Teams {
        #[command(subcommand)]
        command: programs::TeamsCommand,
    },
    /// Goals: recompute a program's, or show today's goal of each member.
    Goals {
        #[command(subcommand)]
        command: GoalsCommand,
    },
    /// A program's team leaderboard for a week (default: the latest).
    Leaderboard {
        #[arg(long)]
        program: i64,
        #[arg(long)]
        week: Option<u32>,
    },
    /// Staff and service tokens for the HTTP APIs; the encryption keys of stored provider tokens.
    Tokens {
        #[command(subcommand)]
        command: operations::TokensCommand,
    },
    /// Participants' subscriptions at the provider.
    Subscriptions {
        #[command(subcommand)]
        command: operations::SubscriptionsCommand,
    },
    /// Google Health: the project's webhook subscriber and per-participant subscriptions.
    Google {
        #[command(subcommand)]
        command: google::GoogleCommand,
    },
    /// Dead-lettered events: list them, or put them back on their topic.
    Dlq {
        #[command(subcommand)]
        command: operations::DlqCommand,
    },
    /// Fetch the last N days again for one participant or all, within their rate budgets.
    Backfill {
        #[arg(long)]
        user: Option<String>,
        #[arg(long, conflicts_with = "user")]
        all: bool,
        #[arg(long, default_value_t = 28)]
        days: u32,
        /// Return once scheduled instead of showing progress until done.
        #[arg(long)]
        no_wait: bool,
    },
    /// The Kafka outbox (records waiting for the broker).
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Send sample Fitbit notifications, signed with the configured client secret, to a subscriber.
    /// Exit 0 when URL answers 2xx within 3 s (container health checks; the image has no curl).
    Probe { url: String },
    SendSample {
        /// The subscriber's Fitbit webhook URL.
        #[arg(long, default_value = "http://127.0.0.1:8080/webhooks/fitbit")]
        url: String,
        /// How many users to notify about (one request per user, one activities notification each,
        /// plus the reference test vectors).
        #[arg(long, default_value_t = 5)]
        users: usize,
    },
}

#[derive(Subcommand)]
enum TopicsCommand {
    /// Create every topic the services use (existing ones are left alone).
    Ensure,
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Print the provider notifications on the notifications topic, from the beginning.
    Tail {
        /// Stop after this many events.
        #[arg(long, default_value_t = 20)]
        count: usize,
        /// Stop after this many seconds without reaching `count`.
        #[arg(long, default_value_t = 10)]
        timeout_s: u64,
    },
}

#[derive(Subcommand)]
enum GoalsCommand {
    /// Recompute every member's goals and their teams' progress from the program start.
    Recompute {
        #[arg(long)]
        program: i64,
    },
    /// Each member's latest goal, with how it was set.
    Show {
        #[arg(long)]
        program: i64,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Every participant: provider account, sync status, days stored, last sync (never tokens).
    List,
    /// One participant's sync status, token kind and expiry, rate budget (never the tokens).
    Show {
        #[arg(long)]
        user: String,
    },
    /// Counts: participants by status, days stored, days waiting.
    #[command(alias = "status")]
    Summary,
    /// Delete a participant everywhere: tokens, days, goals, team membership (their teams are
    /// recomputed without them), with tombstones for downstream consumers.
    #[command(group(clap::ArgGroup::new("who").required(true).args(["participant", "user"])))]
    Delete {
        /// The FitEx participant id.
        #[arg(long)]
        participant: Option<i64>,
        /// Or their provider user id.
        #[arg(long)]
        user: Option<String>,
        /// Really delete (without it, only says what would be deleted).
        #[arg(long)]
        yes: bool,
        /// Purge at once, instead of hiding now and purging after `fetcher.purge_after_s`.
        #[arg(long)]
        now: bool,
    },
    /// Bring back a deleted participant whose purge has not begun (they reconnect to sync again).
    Restore {
        #[arg(long)]
        participant: i64,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// How many records wait in the outbox, per source, and the oldest.
    Status,
}

#[derive(Deserialize)]
struct Settings {
    database: DatabaseSettings,
    kafka: KafkaSettings,
    fitbit: FitbitSettings,
}

#[derive(Deserialize)]
struct FitbitSettings {
    client_secrets: Vec<SecretString>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Piped into `head` and the like, end quietly like other command-line tools instead of
    // panicking on a closed pipe.
    #[cfg(unix)]
    // SAFETY: only restores the default process-wide disposition of SIGPIPE; no Rust code runs
    // in a signal handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Command::Probe { url } = &cli.command {
        return probe(url).await;
    }
    let settings: Settings = fitex_common::config::load().context("loading configuration")?;
    match cli.command {
        Command::Probe { .. } => unreachable!("handled above"),
        Command::Migrate => migrate(&settings.database).await,
        Command::Topics { command: TopicsCommand::Ensure } => {
            let topics = settings.kafka.topics.all();
            fitex_common::kafka::ensure_topics(&settings.kafka, &topics)
                .await
                .with_context(|| format!("creating topics on {}", settings.kafka.brokers))?;
            for topic in topics {
                println!("topic {} ({} partitions) ready", topic.name, topic.partitions);
            }
            Ok(())
        }
        Command::Events { command: EventsCommand::Tail { count, timeout_s } } => {
            tail(&settings.kafka, count, Duration::from_secs(timeout_s))
        }
        Command::Outbox { command: OutboxCommand::Status } => {
            outbox_status(&settings.database).await
        }
        Command::SendSample { url, users } => send_sample(&settings.fitbit, &url, users).await,
        Command::Users { command: UsersCommand::List } => users_list(&settings.database).await,
        Command::Users { command: UsersCommand::Summary } => {
            users_summary(&settings.database).await
        }
        Command::Users { command: UsersCommand::Delete { participant, user, yes, now } } => {
            let who = match (participant, user) {
                (Some(id), _) => users::Who::Participant(id),
                (None, Some(user)) => users::Who::ProviderUser(user),
                (None, None) => unreachable!("clap requires one"),
            };
            let fetcher: fitex_fetcher::Settings =
                fitex_common::config::load().context("loading configuration")?;
            let when = if now {
                users::When::Now
            } else {
                users::When::After(chrono::Duration::seconds(fetcher.fetcher.purge_after_s as i64))
            };
            users::delete(&settings.database.lazy_pool(), &settings.kafka.topics, who, yes, when)
                .await
        }
        Command::Users { command: UsersCommand::Restore { participant } } => {
            users::restore(&settings.database.lazy_pool(), participant).await
        }
        Command::Users { command: UsersCommand::Show { user } } => {
            operations::show(&settings.database.lazy_pool(), &user).await
        }
        Command::Subscriptions { command } => operations::subscriptions(command).await,
        Command::Google { command } => google::run(command).await,
        Command::Tokens { command } => {
            operations::tokens(&settings.database.lazy_pool(), command).await
        }
        Command::Dlq { command } => {
            operations::dlq(&settings.kafka, &settings.database.lazy_pool(), command).await
        }
        Command::Backfill { user, all, days, no_wait } => {
            operations::backfill(&settings.database.lazy_pool(), user, all, days, !no_wait).await
        }
        Command::Import { kind, provider } => import(&kind, &provider).await,
        Command::Programs { command } => {
            programs::programs(&settings.database.lazy_pool(), command).await
        }
        Command::Teams { command } => {
            programs::teams(&settings.database.lazy_pool(), command).await
        }
        Command::Goals { command: GoalsCommand::Recompute { program } } => {
            let goals: fitex_goals_service::Settings =
                fitex_common::config::load().context("loading configuration")?;
            programs::recompute(&goals, program).await
        }
        Command::Goals { command: GoalsCommand::Show { program } } => {
            programs::goals_today(&settings.database.lazy_pool(), program).await
        }
        Command::Leaderboard { program, week } => {
            programs::standings(&settings.database.lazy_pool(), program, week).await
        }
    }
}

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

async fn import(kind: &str, provider: &str) -> anyhow::Result<()> {
    use fitex_fetcher::store::TokenKind;
    let kind = match kind {
        "authorization_code" => TokenKind::AuthorizationCode,
        "implicit" => TokenKind::Implicit,
        other => bail!("--kind must be authorization_code or implicit, not {other:?}"),
    };
    let settings: fitex_fetcher::Settings =
        fitex_common::config::load().context("loading configuration")?;
    let providers = fitex_fetcher::startup::providers(&settings)?;
    if !providers.names().contains(&provider) {
        bail!(
            "--provider {provider:?} is not configured here (configured: {})",
            providers.names().join(", ")
        );
    }
    let fetcher = fitex_fetcher::sync::Fetcher::from_settings(&settings, providers)?;
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
        let connection = fetcher
            .connect(provider, kind, &grant)
            .await
            .with_context(|| format!("connecting {}", account.user_id))?;
        println!("connected {} (connection {connection}); backfill scheduled", account.user_id);
    }
    println!("{} account(s) connected", accounts.len());
    Ok(())
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    provider: String,
    provider_user: String,
    status: String,
    reason: Option<String>,
    days: i64,
    last_sync: Option<chrono::DateTime<chrono::Utc>>,
    zone: String,
}

async fn users_list(database: &DatabaseSettings) -> anyhow::Result<()> {
    let pool = database.lazy_pool();
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT p.id, c.provider, c.provider_user_id AS provider_user, c.sync_status AS status,
                    CASE WHEN p.purge_after IS NOT NULL
                         THEN 'deleted: purged everywhere on '
                              || to_char(p.purge_after AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                              || ' UTC unless restored (fitexctl users restore)'
                         WHEN p.deleted_at IS NOT NULL THEN 'deleted: being purged'
                         ELSE c.status_reason END AS reason,
                    (SELECT count(*) FROM activity_days d WHERE d.participant_id = p.id) AS days,
                    c.last_sync_at AS last_sync, p.time_zone AS zone
             FROM participants p JOIN provider_connections c ON c.participant_id = p.id
             ORDER BY p.id",
    )
    .fetch_all(&pool)
    .await
    .context("reading participants")?;
    println!(
        "{:>5}  {:<8} {:<10} {:<19} {:>5}  {:<20} {:<20}",
        "id", "provider", "user", "status", "days", "last sync (UTC)", "time zone"
    );
    for UserRow { id, provider, provider_user: user, status, reason, days, last_sync, zone } in rows
    {
        let last = last_sync
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "never".into());
        println!("{id:>5}  {provider:<8} {user:<10} {status:<19} {days:>5}  {last:<20} {zone:<20}");
        if let Some(reason) = reason {
            println!("       ↳ {reason}");
        }
    }
    Ok(())
}

async fn users_summary(database: &DatabaseSettings) -> anyhow::Result<()> {
    let pool = database.lazy_pool();
    let (participants, active, reconnect, disconnected, days, pending, waiting): (i64, i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM participants),
                    (SELECT count(*) FROM provider_connections WHERE sync_status = 'active'),
                    (SELECT count(*) FROM provider_connections WHERE sync_status = 'reconnect_required'),
                    (SELECT count(*) FROM provider_connections WHERE sync_status = 'disconnected'),
                    (SELECT count(*) FROM activity_days),
                    (SELECT count(*) FROM pending_fetches WHERE reason <> 'awaiting_reconnect'),
                    (SELECT count(*) FROM pending_fetches WHERE reason = 'awaiting_reconnect')",
        )
        .fetch_one(&pool)
        .await
        .context("reading the summary")?;
    println!(
        "participants={participants} active={active} reconnect_required={reconnect} disconnected={disconnected} days_stored={days} days_pending={pending} days_awaiting_reconnect={waiting}"
    );
    Ok(())
}

async fn probe(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?;
    let response = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    if !response.status().is_success() {
        bail!("GET {url} → {}", response.status());
    }
    Ok(())
}

async fn migrate(database: &DatabaseSettings) -> anyhow::Result<()> {
    fitex_common::database::create_database_if_missing(database, &database.database_name)
        .await
        .with_context(|| format!("creating database {}", database.database_name))?;
    let pool = database.lazy_pool();
    fitex_common::database::migrate(&pool).await.context("applying migrations")?;
    println!("database {} migrated", database.database_name);
    Ok(())
}

async fn outbox_status(database: &DatabaseSettings) -> anyhow::Result<()> {
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

fn tail(kafka: &KafkaSettings, count: usize, timeout: Duration) -> anyhow::Result<()> {
    let topic = &kafka.topics.notifications;
    let consumer: BaseConsumer = kafka
        .consumer_config(&format!("fitexctl-tail-{}", std::process::id()), "fitexctl")
        .create()
        .context("creating a consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("reading metadata of {topic} from {}", kafka.brokers))?;
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment.add_partition_offset(topic, partition.id(), rdkafka::Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let deadline = std::time::Instant::now() + timeout;
    let mut seen = 0;
    while seen < count && std::time::Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message?;
        let event = ProviderNotification::decode(message.payload().unwrap_or_default())
            .context("decoding a ProviderNotification")?;
        let traceparent = message
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == "traceparent").and_then(|h| h.value))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        seen += 1;
        println!(
            "[p{} @{}] key={} {} date={} subscription={} event={} traceparent={}",
            message.partition(),
            message.offset(),
            message.key().map(String::from_utf8_lossy).unwrap_or_default(),
            event.collection_type,
            if event.date.is_empty() { "-" } else { &event.date },
            event.subscription_id,
            event.event_id,
            traceparent,
        );
    }
    println!("{seen} event(s) read from {topic}");
    Ok(())
}

async fn send_sample(fitbit: &FitbitSettings, url: &str, users: usize) -> anyhow::Result<()> {
    let Some(secret) = fitbit.client_secrets.first() else {
        bail!("fitbit.client_secrets is empty: nothing to sign with");
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let today = chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let mut bodies: Vec<String> = (0..users)
        .map(|i| {
            let user = format!("DEMO{i:02}");
            format!(
                r#"[{{"collectionType":"activities","date":"{today}","ownerId":"{user}","ownerType":"user","subscriptionId":"{user}-activities"}}]"#
            )
        })
        .collect();
    // One batch for several users and types, as Fitbit sends after a multi-user sync.
    bodies.push(format!(
        r#"[{{"collectionType":"activities","date":"{today}","ownerId":"B4TZHW","ownerType":"user","subscriptionId":"B4TZHW-activities"}},{{"collectionType":"sleep","date":"{today}","ownerId":"B4TZHW","ownerType":"user","subscriptionId":"B4TZHW-sleep"}},{{"collectionType":"userRevokedAccess","ownerId":"22AAAA","ownerType":"user","subscriptionId":"22AAAA-all"}}]"#
    ));
    for body in &bodies {
        let signature = fitex_fitbit::sign(secret.expose_secret(), body.as_bytes());
        let response = client
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-Fitbit-Signature", signature)
            .body(body.clone())
            .send()
            .await
            .with_context(|| format!("posting to {url}"))?;
        println!(
            "POST {} notification(s) → {}",
            body.matches("ownerId").count(),
            response.status()
        );
    }
    // And one forged request, which the subscriber must refuse.
    let forged = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Fitbit-Signature", "e6OUUBQCnrnhuvS7PvLRUOmF0TU=")
        .body(bodies[0].clone())
        .send()
        .await?;
    println!("POST with a forged signature → {} (expected 404)", forged.status());
    Ok(())
}
