//! `fitexctl backfill`: fetching the last N days again for one participant or all, within their
//! rate budgets, with the fetcher's progress shown until done.

use std::time::Duration;

use anyhow::bail;
use chrono::Utc;
use fitex_connections::connect::backfill_dates;
use fitex_connections::{pending, store};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;

/// Schedules the last `days` local dates of one participant (or all) and shows the fetcher
/// working through them.
pub async fn run(
    pool: &PgPool,
    user: Option<String>,
    all: bool,
    days: u32,
    wait: bool,
) -> anyhow::Result<()> {
    if user.is_none() && !all {
        bail!("name a participant with --user, or use --all");
    }
    if days == 0 || days > 365 {
        bail!("--days must be between 1 and 365");
    }
    let connections = store::active_connections(pool, user.as_deref()).await?;
    if connections.is_empty() {
        bail!("no active connection matches");
    }
    let now = Utc::now();
    let mut scheduled = 0usize;
    for (connection, zone) in &connections {
        let dates = backfill_dates(zone, days, now);
        pending::defer(pool, *connection, &dates, "backfill", now, None).await?;
        scheduled += dates.len();
    }
    println!("{scheduled} day(s) of {} participant(s) scheduled", connections.len());
    if !wait {
        return Ok(());
    }
    let ids: Vec<i64> = connections.iter().map(|(id, _)| *id).collect();
    let bar = ProgressBar::new(scheduled as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} days fetched {msg}")
            .expect("valid template"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(3600);
    loop {
        let (waiting, limited) = pending::waiting_count(pool, &ids).await?;
        bar.set_position(scheduled.saturating_sub(waiting as usize) as u64);
        bar.set_message(if limited > 0 {
            format!("({limited} waiting for a rate-limit reset)")
        } else {
            String::new()
        });
        if waiting == 0 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bar.finish();
    Ok(())
}
