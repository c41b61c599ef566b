//! `fitexctl`: the operators' command line. Reads the same configuration as the services. This
//! file is the command tree; each command group lives in the module named after it.

mod activity;
mod audit;
mod backfill;
mod dlq;
mod events;
mod google;
mod import;
mod outbox;
mod probe;
mod programs;
mod season;
mod send_sample;
mod settings;
mod setup;
mod subscriptions;
mod tokens;
mod users;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::settings::Settings;

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
        command: setup::TopicsCommand,
    },
    /// Events on a topic.
    Events {
        #[command(subcommand)]
        command: events::EventsCommand,
    },
    /// Participants and their sync status.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
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
        #[arg(long, default_value_t = fitex_provider::ProviderId::Fitbit)]
        provider: fitex_provider::ProviderId,
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
        command: programs::GoalsCommand,
    },
    /// A program's team leaderboard for a week (default: the latest).
    Leaderboard {
        #[arg(long)]
        program: i64,
        #[arg(long)]
        week: Option<u32>,
    },
    /// Activity logged by hand for a participant (a coordinator helping): add, list, delete.
    Activity {
        #[command(subcommand)]
        command: activity::ActivityCommand,
    },
    /// A season's close: close it now once its grace period is over, or correct a closed
    /// season's frozen total (audited).
    Season {
        #[command(subcommand)]
        command: season::SeasonCommand,
    },
    /// What operators changed by hand: who, when, what and why.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Staff and service tokens for the HTTP APIs; the encryption keys of stored provider tokens.
    Tokens {
        #[command(subcommand)]
        command: tokens::TokensCommand,
    },
    /// Participants' subscriptions at the provider.
    Subscriptions {
        #[command(subcommand)]
        command: subscriptions::SubscriptionsCommand,
    },
    /// Google Health: the project's webhook subscriber and per-participant subscriptions.
    Google {
        #[command(subcommand)]
        command: google::GoogleCommand,
    },
    /// Dead-lettered events: list them, or put them back on their topic.
    Dlq {
        #[command(subcommand)]
        command: dlq::DlqCommand,
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
        command: outbox::OutboxCommand,
    },
    /// Exit 0 when URL answers 2xx within 3 s (container health checks; the image has no curl).
    Probe { url: String },
    /// Send sample Fitbit notifications, signed with the configured client secret, to a subscriber.
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

#[allow(unsafe_code, reason = "resetting SIGPIPE has no safe wrapper in libc")]
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
    // A health check needs no configuration.
    if let Command::Probe { url } = &cli.command {
        return probe::run(url).await;
    }
    let settings: Settings = fitex_common::config::load().context("loading configuration")?;
    let pool = || settings.database.lazy_pool();
    match cli.command {
        Command::Probe { .. } => unreachable!("handled above"),
        Command::Migrate => setup::migrate(&settings.database).await,
        Command::Topics { command } => setup::topics(&settings.kafka, command).await,
        Command::Events { command } => events::run(&settings.kafka, command),
        Command::Outbox { command } => outbox::run(&settings.database, command).await,
        Command::SendSample { url, users } => send_sample::run(&settings.fitbit, &url, users).await,
        Command::Users { command } => users::run(&settings, command).await,
        Command::Subscriptions { command } => subscriptions::run(command).await,
        Command::Google { command } => google::run(command).await,
        Command::Tokens { command } => tokens::run(&pool(), command).await,
        Command::Dlq { command } => dlq::run(&settings.kafka, &pool(), command).await,
        Command::Backfill { user, all, days, no_wait } => {
            backfill::run(&pool(), user, all, days, !no_wait).await
        }
        Command::Import { kind, provider } => import::run(&kind, provider).await,
        Command::Programs { command } => programs::programs(&pool(), command).await,
        Command::Teams { command } => programs::teams(&pool(), command).await,
        Command::Goals { command } => {
            programs::goals(&settings.database, &settings.kafka, command).await
        }
        Command::Leaderboard { program, week } => programs::standings(&pool(), program, week).await,
        Command::Season { command } => season::run(&settings.kafka, &pool(), command).await,
        Command::Audit { command } => audit::run(&pool(), command).await,
        Command::Activity { command } => activity::run(&settings.kafka, &pool(), command).await,
    }
}
