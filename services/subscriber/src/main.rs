use anyhow::Context;
use fitex_subscriber::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings: Settings = fitex_common::config::or_refuse_to_start(fitex_common::config::load());
    fitex_common::config::or_refuse_to_start(settings.validate());
    fitex_common::secrets::refuse_to_start_unless_safe(settings.check_secrets());
    fitex_common::telemetry::init("subscriber", &settings.telemetry);
    let app = Application::build(settings).await.context("starting the subscriber")?;
    tracing::info!(port = app.port(), "subscriber listening");
    app.run_until_stopped().await.context("running the subscriber")
}
