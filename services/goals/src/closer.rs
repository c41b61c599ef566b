//! The season closer: every `goals.season_close_interval_ms`, closes the seasons whose grace period
//! is over (`fitex_goals_store::season_close`). Every replica runs it; a season closes once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use fitex_common::shutdown::Shutdown;
use fitex_goals_store::GoalsEngine;

/// Runs until `shutdown`, a pass at start and then every `interval`. A failed pass is logged and
/// tried again at the next.
pub async fn run(engine: Arc<GoalsEngine>, interval: Duration, shutdown: Shutdown) {
    let closed_total = metrics::counter!("fitex_goals_seasons_closed_total");
    loop {
        match engine.close_due_seasons(Utc::now()).await {
            Ok(closed) => {
                closed_total.increment(closed.len() as u64);
                for season in closed {
                    tracing::info!(
                        program = season.program_id,
                        leaderboard_week = season.leaderboard_week,
                        grace_deadline = %season.grace_deadline,
                        "season closed: final leaderboard frozen"
                    );
                }
            }
            Err(error) => tracing::warn!(%error, "closing due seasons failed; trying again later"),
        }
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
