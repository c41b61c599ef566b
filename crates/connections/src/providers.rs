//! The platforms this deployment reads, and their clients built from the settings. Every
//! connection names its own provider, so Fitbit-era and Google Health connections are synced side
//! by side through the same seam.

use std::collections::BTreeMap;
use std::sync::Arc;

use fitex_fitbit::FitbitApi;
use fitex_google_health::GoogleHealthApi;
use fitex_provider::{ActivityProvider, ProviderId};

use crate::error::{SetupError, SyncError};
use crate::settings::{FitbitApiConfig, GoogleHealthApiConfig};

/// The Fitbit Web API client `config` describes.
pub fn fitbit_api(config: &FitbitApiConfig) -> Result<FitbitApi, SetupError> {
    Ok(FitbitApi::new(config.api_settings())?)
}

/// The Google Health API client `config` describes, when there is one.
pub fn google_health_api(
    config: Option<&GoogleHealthApiConfig>,
) -> Result<Option<GoogleHealthApi>, SetupError> {
    let Some(config) = config else { return Ok(None) };
    Ok(Some(GoogleHealthApi::new(config.api_settings())?))
}

/// Every provider the settings configure: Fitbit always (its connections keep their history
/// even once the platform is gone), Google Health when configured.
pub fn configured(
    fitbit: &FitbitApiConfig,
    google: Option<&GoogleHealthApiConfig>,
) -> Result<Providers, SetupError> {
    let mut list: Vec<Arc<dyn ActivityProvider>> = vec![Arc::new(fitbit_api(fitbit)?)];
    if let Some(google) = google_health_api(google)? {
        list.push(Arc::new(google));
    }
    Ok(Providers::new(list))
}

#[derive(Clone, Default)]
pub struct Providers {
    by_id: BTreeMap<ProviderId, Arc<dyn ActivityProvider>>,
}

impl Providers {
    pub fn new(providers: impl IntoIterator<Item = Arc<dyn ActivityProvider>>) -> Self {
        Providers { by_id: providers.into_iter().map(|p| (p.name(), p)).collect() }
    }

    /// The provider a connection names; a connection of a provider this deployment does not
    /// configure cannot be synced (not worth retrying).
    pub fn get(&self, provider: ProviderId) -> Result<&Arc<dyn ActivityProvider>, SyncError> {
        self.by_id.get(&provider).ok_or_else(|| {
            SyncError::Permanent(format!("no {provider} provider is configured in this deployment"))
        })
    }

    /// The providers configured, in a stable order.
    pub fn names(&self) -> Vec<ProviderId> {
        self.by_id.keys().copied().collect()
    }
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_id.keys().map(|p| p.as_str())).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn fitbit() -> FitbitApiConfig {
        FitbitApiConfig {
            api_base_url: "http://127.0.0.1:9".into(),
            token_url: "http://127.0.0.1:9/oauth2/token".into(),
            client_id: "client".into(),
            client_secret: SecretString::from("secret"),
            request_timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn a_connection_of_a_provider_not_configured_here_cannot_be_synced() {
        let providers = configured(&fitbit(), None).unwrap();
        assert_eq!(providers.names(), vec![ProviderId::Fitbit]);
        assert!(providers.get(ProviderId::Fitbit).is_ok());
        match providers.get(ProviderId::GoogleHealth) {
            Err(SyncError::Permanent(reason)) => {
                assert!(reason.contains("google_health"), "{reason}")
            }
            other => panic!("expected a permanent error, got {:?}", other.map(|p| p.name())),
        }
        assert_eq!(format!("{providers:?}"), "[\"fitbit\"]");
    }
}
