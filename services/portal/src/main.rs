use anyhow::Context;
use fitex_portal::{Application, Settings};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = fitex_common::config::or_refuse_to_start(Settings::load());
    fitex_common::config::or_refuse_to_start(settings.validate());
    fitex_common::secrets::refuse_to_start_unless_safe(settings.check_secrets());
    fitex_common::telemetry::init("portal", &settings.telemetry);
    let app = Application::build(settings).await.context("starting the portal")?;
    tracing::info!(port = app.port(), "portal running");
    app.run_until_stopped().await.context("serving")
}
