//! `provider-simulator`: runs the simulator of both providers (the Fitbit Web API and the Google
//! Health API) until Ctrl-C.

use std::time::Duration;

use clap::Parser;
use fitex_provider_simulator::{Simulator, SimulatorConfig};

#[derive(Debug, Parser)]
#[command(
    about = "A simulator of both activity providers, the Fitbit Web API and the Google Health API \
             (OAuth, data, subscriptions, notifications), on one port"
)]
struct Args {
    /// Address to listen on (0.0.0.0 in a container).
    #[arg(long, env = "FITBIT_SIM_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port (0: any free port).
    #[arg(long, env = "FITBIT_SIM_PORT", default_value_t = 8090)]
    port: u16,
    /// Pre-made users SIM0001… with data and tokens (`GET /_sim/cohort`).
    #[arg(long, default_value_t = 0)]
    cohort_size: usize,
    /// Days of cohort history, ending yesterday (UTC).
    #[arg(long, default_value_t = 28)]
    days: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to push signed notifications, e.g. http://127.0.0.1:8080/webhooks/fitbit.
    #[arg(long, env = "FITBIT_SIM_SUBSCRIBER_URL")]
    subscriber_url: Option<String>,
    #[arg(long, default_value = "SIMCLIENT")]
    client_id: String,
    #[arg(long, env = "FITBIT_SIM_CLIENT_SECRET", default_value = "sim-client-secret")]
    client_secret: String,
    #[arg(long, default_value_t = 150)]
    rate_limit_per_hour: u32,
    #[arg(long, default_value_t = 28_800)]
    access_token_ttl_secs: u64,
    #[arg(long, default_value = "1")]
    subscriber_id: String,
    /// The Google OAuth client id FitEx uses (Google Health mode).
    #[arg(long, default_value = "sim-google-client.apps.googleusercontent.com")]
    google_client_id: String,
    #[arg(
        long,
        env = "FITBIT_SIM_GOOGLE_CLIENT_SECRET",
        default_value = "sim-google-client-secret"
    )]
    google_client_secret: String,
    #[arg(long, default_value_t = 3_600)]
    google_access_token_ttl_secs: u64,
    /// Google Health API calls per user per minute.
    #[arg(long, default_value_t = 300)]
    google_rate_limit_per_minute: u32,
    /// The Google Cloud project of the subscribers and the service account.
    #[arg(long, default_value = "fitex-sim")]
    google_project: String,
    /// Whether Google notifications carry `Authorization: <secret>` (false: as live reports say).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    google_send_authorization: bool,
    /// How Google notification bodies are framed: `object` (as documented) or `array` (as live
    /// deliveries are reported to arrive).
    #[arg(long, default_value = "object")]
    google_notification_form: fitex_provider_simulator::NotificationForm,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        // stdout carries only the base URL, for scripts to read.
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = SimulatorConfig {
        client_id: args.client_id,
        client_secret: args.client_secret,
        access_token_ttl: Duration::from_secs(args.access_token_ttl_secs),
        rate_limit_per_hour: args.rate_limit_per_hour,
        seed: args.seed,
        cohort_size: args.cohort_size,
        cohort_days: args.days,
        subscriber_url: args.subscriber_url,
        subscriber_id: args.subscriber_id,
        google_client_id: args.google_client_id,
        google_client_secret: args.google_client_secret,
        google_access_token_ttl: Duration::from_secs(args.google_access_token_ttl_secs),
        google_rate_limit_per_minute: args.google_rate_limit_per_minute,
        google_project: args.google_project,
        google_send_authorization: args.google_send_authorization,
        google_notification_form: args.google_notification_form,
        ..SimulatorConfig::default()
    };
    let simulator = Simulator::spawn_at(config, &args.host, args.port).await?;
    println!("{}", simulator.base_url());
    tokio::signal::ctrl_c().await?;
    simulator.stop().await;
    Ok(())
}
