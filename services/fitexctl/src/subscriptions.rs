//! `fitexctl subscriptions`: participants' subscriptions at the provider (Fitbit), made with
//! each participant's own access token.

use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Subcommand;
use fitex_connections::{providers, store, Connections, ConnectionsSettings, Providers};
use fitex_provider::ActivityProvider;

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
    let settings: ConnectionsSettings =
        fitex_common::config::load().context("loading configuration")?;
    let api = providers::fitbit_api(&settings.fitbit_api)?;
    let providers = Providers::new([Arc::new(api.clone()) as Arc<dyn ActivityProvider>]);
    let connections = Connections::from_settings(&settings, providers)?;
    let user = match &command {
        SubscriptionsCommand::Create { user, .. }
        | SubscriptionsCommand::List { user }
        | SubscriptionsCommand::Delete { user, .. } => user.clone(),
    };
    let fitbit = fitex_provider::ProviderId::Fitbit;
    let connection = store::find_connection(&connections.pool, fitbit, &user)
        .await?
        .with_context(|| format!("no Fitbit connection for {user:?}"))?;
    let token = match connections
        .usable_access_token(&connection)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
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
