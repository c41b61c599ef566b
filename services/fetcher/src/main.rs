use anyhow::Context;
use fitex_fetcher::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = fitex_common::config::or_refuse_to_start(Settings::load());
    fitex_common::config::or_refuse_to_start(settings.validate());
    fitex_common::secrets::refuse_to_start_unless_safe(settings.check_secrets());
    fitex_common::telemetry::init("fetcher", &settings.telemetry);
    let app = Application::build(settings).await.context("starting the fetcher")?;
    tracing::info!(port = app.port(), "fetcher running");
    app.run_until_stopped().await
}
