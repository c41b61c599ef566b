//! `fitexctl probe`: a container health check (the image has no curl), run without configuration.

use std::time::Duration;

use anyhow::{bail, Context};

/// Succeeds when `url` answers 2xx within 3 s.
pub async fn run(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?;
    let response = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    if !response.status().is_success() {
        bail!("GET {url} → {}", response.status());
    }
    Ok(())
}
