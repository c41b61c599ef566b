use anyhow::Context;
use fitex_goals_service::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings: Settings = fitex_common::config::or_refuse_to_start(fitex_common::config::load());
    fitex_common::config::or_refuse_to_start(settings.validate());
    fitex_common::secrets::refuse_to_start_unless_safe(settings.check_secrets());
    fitex_common::telemetry::init("goals", &settings.telemetry);
    let app = Application::build(settings).await.context("starting the goals service")?;
    tracing::info!(port = app.port(), "goals service running");
    app.run_until_stopped().await
}
