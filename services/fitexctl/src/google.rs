//! `fitexctl google`: the project's Google Health subscriber (the webhook registration) and,
//! for the `MANUAL` policy, per-participant subscriptions. Authenticated as the project's service
//! account (a key file, as Google's console downloads it); its token comes from `gcp_auth`.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use fitex_google_health::subscribers::{
    CreatePolicy, OperationOutcome, ProjectSubscribers, Subscriber, SubscriberConfig, PROJECT_SCOPE,
};
use gcp_auth::TokenProvider;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Subcommand)]
pub enum GoogleCommand {
    /// The project's subscriber: where Google sends change notifications.
    Subscriber {
        #[command(subcommand)]
        command: SubscriberCommand,
        #[command(flatten)]
        credentials: Credentials,
    },
    /// Per-participant subscriptions (only for data types with the MANUAL policy).
    Subscriptions {
        #[command(subcommand)]
        command: SubscriptionsCommand,
        #[command(flatten)]
        credentials: Credentials,
    },
}

#[derive(clap::Args)]
pub struct Credentials {
    /// The service account's key file (JSON). Default: $GOOGLE_APPLICATION_CREDENTIALS.
    #[arg(long, env = "GOOGLE_APPLICATION_CREDENTIALS", global = true)]
    credentials: Option<std::path::PathBuf>,
    /// The Google Cloud project (default: the key file's project_id).
    #[arg(long, global = true)]
    project: Option<String>,
}

#[derive(Subcommand)]
pub enum SubscriberCommand {
    /// Register the subscriber service's Google Health webhook; Google verifies it first.
    Create {
        /// 4-36 lower-case letters, digits and '-'.
        #[arg(long, default_value = "fitex-sync")]
        id: String,
        /// The public URL of the webhook, e.g. https://sync.example.org/webhooks/google-health.
        #[arg(long)]
        endpoint: String,
        /// AUTOMATIC (every consenting participant) or MANUAL (`fitexctl google subscriptions add`).
        #[arg(long, default_value = "AUTOMATIC")]
        policy: CreatePolicy,
        /// Data types to be notified of (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "steps")]
        data_types: Vec<String>,
    },
    List,
    /// Change the endpoint, the policy or data types, or send the current secret again (after
    /// rotating it in the configuration; Google verifies the endpoint again).
    Patch {
        #[arg(long, default_value = "fitex-sync")]
        id: String,
        #[arg(long)]
        endpoint: Option<String>,
        /// Send the newest configured endpoint secret.
        #[arg(long)]
        secret: bool,
        #[arg(long)]
        policy: Option<CreatePolicy>,
        #[arg(long, value_delimiter = ',')]
        data_types: Option<Vec<String>>,
    },
    Delete {
        #[arg(long, default_value = "fitex-sync")]
        id: String,
        /// Also delete its per-participant subscriptions.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum SubscriptionsCommand {
    /// Subscribe a participant (by their Google Health user id, or their FitEx participant id).
    Add {
        #[arg(long, default_value = "fitex-sync")]
        subscriber: String,
        #[arg(long)]
        user: String,
        #[arg(long, value_delimiter = ',', default_value = "steps")]
        data_types: Vec<String>,
    },
    List {
        #[arg(long, default_value = "fitex-sync")]
        subscriber: String,
    },
    Remove {
        #[arg(long, default_value = "fitex-sync")]
        subscriber: String,
        /// The subscription's name (or its last part), as `list` shows it.
        #[arg(long)]
        subscription: String,
    },
}

/// What `fitexctl google` reads of the configuration.
#[derive(Deserialize)]
struct GoogleSettings {
    google_health: Option<EndpointSecrets>,
    google_health_api: Option<ApiBase>,
    database: fitex_common::database::DatabaseSettings,
}

#[derive(Deserialize)]
struct EndpointSecrets {
    endpoint_secrets: Vec<SecretString>,
}

#[derive(Deserialize)]
struct ApiBase {
    api_base_url: String,
    request_timeout_ms: u64,
}

impl GoogleSettings {
    fn newest_secret(&self) -> anyhow::Result<SecretString> {
        self.google_health
            .as_ref()
            .and_then(|g| g.endpoint_secrets.first().cloned())
            .context("google_health.endpoint_secrets is not configured (the subscriber needs it)")
    }
}

/// A project access token from the service account's key file.
async fn project_client(
    credentials: &Credentials,
    settings: &GoogleSettings,
) -> anyhow::Result<ProjectSubscribers> {
    let api =
        settings.google_health_api.as_ref().context("[google_health_api] is not configured")?;
    let path = credentials.credentials.as_ref().context(
        "no service-account key: pass --credentials FILE or set GOOGLE_APPLICATION_CREDENTIALS",
    )?;
    let account = gcp_auth::CustomServiceAccount::from_file(path)
        .with_context(|| format!("reading the service-account key {}", path.display()))?;
    let project = match &credentials.project {
        Some(project) => project.clone(),
        None => account
            .project_id()
            .context("the key file names no project_id: pass --project")?
            .to_owned(),
    };
    let token = account
        .token(&[PROJECT_SCOPE])
        .await
        .context("the service account could not get an access token")?;
    Ok(ProjectSubscribers::new(
        &api.api_base_url,
        &project,
        SecretString::from(token.as_str().to_owned()),
        Duration::from_millis(api.request_timeout_ms.max(30_000)),
    )?)
}

fn show(subscriber: &Subscriber) {
    let configs: Vec<String> = subscriber
        .subscriber_configs
        .iter()
        .map(|c| format!("{}: {}", c.data_types.join("+"), c.subscription_create_policy))
        .collect();
    println!(
        "{:<20} {:<8} {:<50} {}",
        subscriber.id(),
        subscriber.state,
        subscriber.endpoint_uri,
        configs.join(", ")
    );
}

fn report(what: &str, outcome: OperationOutcome) {
    match outcome {
        OperationOutcome::Done(Some(subscriber)) => {
            println!("{what}; Google verified the endpoint:");
            show(&subscriber);
        }
        OperationOutcome::Done(None) => println!("{what}"),
        OperationOutcome::Pending(operation) => {
            println!("{what}; Google is still verifying the endpoint ({operation})")
        }
    }
}

fn configs(policy: CreatePolicy, data_types: Vec<String>) -> anyhow::Result<Vec<SubscriberConfig>> {
    if data_types.is_empty() || data_types.iter().any(|t| t.trim().is_empty()) {
        bail!("--data-types must name at least one data type");
    }
    Ok(vec![SubscriberConfig { data_types, subscription_create_policy: policy }])
}

/// A participant's Google Health user id: given directly, or found from their FitEx id.
async fn health_user_id(settings: &GoogleSettings, user: &str) -> anyhow::Result<String> {
    let Ok(participant) = user.parse::<i64>() else { return Ok(user.to_owned()) };
    let pool = settings.database.lazy_pool();
    let google = fitex_provider::ProviderId::GoogleHealth;
    fitex_connections::store::provider_user_id_of(&pool, participant, google)
        .await?
        .with_context(|| format!("participant {participant} has no Google Health connection"))
}

pub async fn run(command: GoogleCommand) -> anyhow::Result<()> {
    let settings: GoogleSettings = fitex_common::config::load().context("loading configuration")?;
    match command {
        GoogleCommand::Subscriber { command, credentials } => {
            let client = project_client(&credentials, &settings).await?;
            match command {
                SubscriberCommand::Create { id, endpoint, policy, data_types } => {
                    let secret = settings.newest_secret()?;
                    let outcome = client
                        .create(&id, &endpoint, &secret, &configs(policy, data_types)?)
                        .await?;
                    report(&format!("subscriber {id} created"), outcome);
                }
                SubscriberCommand::List => {
                    let subscribers = client.list().await?;
                    if subscribers.is_empty() {
                        println!("no subscribers");
                    }
                    for subscriber in &subscribers {
                        show(subscriber);
                    }
                }
                SubscriberCommand::Patch { id, endpoint, secret, policy, data_types } => {
                    let secret = if secret { Some(settings.newest_secret()?) } else { None };
                    let configs = match (policy, data_types) {
                        (None, None) => None,
                        (policy, data_types) => Some(configs(
                            policy.unwrap_or(CreatePolicy::Automatic),
                            data_types.unwrap_or_else(|| vec!["steps".into()]),
                        )?),
                    };
                    let outcome = client
                        .patch(&id, endpoint.as_deref(), secret.as_ref(), configs.as_deref())
                        .await?;
                    report(&format!("subscriber {id} updated"), outcome);
                }
                SubscriberCommand::Delete { id, force } => {
                    client.delete(&id, force).await?;
                    println!("subscriber {id} deleted");
                }
            }
        }
        GoogleCommand::Subscriptions { command, credentials } => {
            let client = project_client(&credentials, &settings).await?;
            match command {
                SubscriptionsCommand::Add { subscriber, user, data_types } => {
                    let user = health_user_id(&settings, &user).await?;
                    let subscription =
                        client.subscribe_user(&subscriber, &user, &data_types).await?;
                    println!("subscribed {} ({})", subscription.user, subscription.name);
                }
                SubscriptionsCommand::List { subscriber } => {
                    let subscriptions = client.user_subscriptions(&subscriber).await?;
                    if subscriptions.is_empty() {
                        println!("no subscriptions");
                    }
                    for s in subscriptions {
                        println!("{:<70} {:<30} {}", s.name, s.user, s.data_types.join(","));
                    }
                }
                SubscriptionsCommand::Remove { subscriber, subscription } => {
                    client.unsubscribe(&subscriber, &subscription).await?;
                    println!("subscription {subscription} removed");
                }
            }
        }
    }
    Ok(())
}
