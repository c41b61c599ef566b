//! `fitexctl subscriptions`: participants' subscriptions at the provider (Fitbit), made with
//! each participant's own access token.

use anyhow::{bail, Context};
use clap::Subcommand;

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

pub async fn run(command: SubscriptionsCommand) -> anyhow::Result<()> {
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
    let fitbit = fitex_provider::ProviderId::Fitbit;
    let connection = fitex_fetcher::store::find_connection(&fetcher.pool, fitbit, &user)
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
