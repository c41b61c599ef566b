use anyhow::Context;
use fitex_portal::{Application, Settings};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load().context("loading configuration")?;
    fitex_common::telemetry::init("portal", &settings.base.telemetry);
    let app = Application::build(settings).await.context("starting the portal")?;
    tracing::info!(port = app.port(), "portal running");
    app.run_until_stopped().await.context("serving")
}
