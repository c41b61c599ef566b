//! The platforms this deployment reads. Every connection names its own provider, so Fitbit-era
//! and Google Health connections are synced side by side through the same seam.

use std::collections::BTreeMap;
use std::sync::Arc;

use fitex_provider::{ActivityProvider, ProviderId};

use crate::error::SyncError;

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
