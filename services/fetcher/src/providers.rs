//! The platforms this deployment reads, by name. Every connection names its own provider, so
//! Fitbit-era and Google Health connections are synced side by side through the same seam.

use std::collections::BTreeMap;
use std::sync::Arc;

use fitex_provider::ActivityProvider;

use crate::sync::SyncError;

#[derive(Clone, Default)]
pub struct Providers {
    by_name: BTreeMap<&'static str, Arc<dyn ActivityProvider>>,
}

impl Providers {
    pub fn new(providers: impl IntoIterator<Item = Arc<dyn ActivityProvider>>) -> Self {
        Providers { by_name: providers.into_iter().map(|p| (p.name(), p)).collect() }
    }

    /// The provider a connection names; a connection of a provider this deployment does not
    /// configure cannot be synced (not worth retrying).
    pub fn get(&self, name: &str) -> Result<&Arc<dyn ActivityProvider>, SyncError> {
        self.by_name.get(name).ok_or_else(|| {
            SyncError::Permanent(format!("no {name} provider is configured in this deployment"))
        })
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.by_name.keys().copied().collect()
    }
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}
