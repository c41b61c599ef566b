//! The run's figures: each answered change's timings as CSV (`--points`, for the plot) and the
//! one `RESULT key=value …` line `bench/pipeline.sh` reads.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use fitex_bench::percentile;
use fitex_provider_simulator::Stats;

use crate::cohort::Participant;
use crate::driver::Tally;
use crate::join::{answer, index};
use crate::reader::Seen;

/// What the run did and saw, once the reader stopped.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    pub participants: &'a [Participant],
    pub shapes: &'a BTreeMap<&'static str, usize>,
    /// What was sent, its changes in the order they were sent.
    pub tally: &'a Tally,
    pub seen: &'a Seen,
    pub load_start_ms: f64,
    pub load_s: f64,
    pub waited_s: f64,
}

/// The answered changes' timings (ms from the notification's sending, ascending) by stage, and
/// how the changes were answered.
#[derive(Default)]
pub struct Timings {
    e2e: Vec<f64>,
    on_topic: Vec<f64>,
    accepted: Vec<f64>,
    stored_stage: Vec<f64>,
    goals_stage: Vec<f64>,
    fetch_stage: Vec<f64>,
    not_stored: usize,
    no_goal_event: usize,
    by_team: usize,
    by_teammate: usize,
    by_trace: usize,
    last_goal_ms: f64,
}

/// Writes each answered change's timings to `path` (CSV) and returns them all.
pub fn write_points(path: &Path, run: Run<'_>) -> anyhow::Result<Timings> {
    let Run { participants, tally, seen, load_start_ms, .. } = run;
    let index = index(seen);
    let mut points = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        points,
        "sent_s,goal_s,latency_ms,accepted_ms,notification_ms,activity_ms,fetched_ms,kind,dates"
    )?;
    let mut timings = Timings::default();
    for change in &tally.changes {
        let a = answer(change, participants, seen, &index);
        let rel = |t: Option<f64>| t.map_or(f64::NAN, |t| t - change.sent_ms);
        if let Some(n) = a.notification_ms {
            timings.on_topic.push(n - change.sent_ms);
        }
        if let Some(r) = a.accepted_ms {
            timings.accepted.push(r - change.sent_ms);
        }
        match (a.activity_ms, a.goal_ms) {
            (None, _) => timings.not_stored += 1,
            (Some(_), None) => timings.no_goal_event += 1,
            (Some(act), Some(goal)) => {
                timings.e2e.push(goal - change.sent_ms);
                timings.stored_stage.push(act - change.sent_ms);
                timings.goals_stage.push(goal - act);
                if let Some(n) = a.notification_ms {
                    timings.fetch_stage.push(act - n);
                }
                match a.goal_kind {
                    "team" => timings.by_team += 1,
                    "teammate" => timings.by_teammate += 1,
                    _ => {}
                }
                timings.by_trace += usize::from(a.by_trace);
                timings.last_goal_ms = timings.last_goal_ms.max(goal);
                writeln!(
                    points,
                    "{:.3},{:.3},{:.1},{:.1},{:.1},{:.1},{:.1},{},{}",
                    (change.sent_ms - load_start_ms) / 1000.0,
                    (goal - load_start_ms) / 1000.0,
                    goal - change.sent_ms,
                    rel(a.accepted_ms),
                    rel(a.notification_ms),
                    rel(a.activity_ms),
                    rel(a.fetched_ms),
                    a.goal_kind,
                    change.dates_in_sync
                )?;
            }
        }
    }
    points.flush()?;
    for v in [
        &mut timings.e2e,
        &mut timings.on_topic,
        &mut timings.accepted,
        &mut timings.stored_stage,
        &mut timings.goals_stage,
        &mut timings.fetch_stage,
    ] {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    Ok(timings)
}

/// The `RESULT key=value …` line, with the simulator's `stats` of the run.
pub fn result_line(run: Run<'_>, timings: Timings, stats: &Stats) -> String {
    let Run { participants, shapes, tally, seen, load_start_ms, load_s, waited_s } = run;
    let Timings {
        e2e,
        on_topic,
        accepted,
        stored_stage,
        goals_stage,
        fetch_stage,
        not_stored,
        no_goal_event,
        by_team,
        by_teammate,
        by_trace,
        last_goal_ms,
    } = timings;
    let mut post_ms = tally.post_ms.clone();
    post_ms.sort_by(|a, b| a.total_cmp(b));
    let mut relay_ms = seen.relay_ms.clone();
    relay_ms.sort_by(|a, b| a.total_cmp(b));
    // Notifications per second, by the second they were sent in.
    let mut per_second: BTreeMap<i64, u64> = BTreeMap::new();
    for sent in &tally.post_sent_ms {
        *per_second.entry(((sent - load_start_ms) / 1000.0).floor() as i64).or_default() += 1;
    }
    let peak_rate = per_second.values().copied().max().unwrap_or(0);
    let first_sent = tally.post_sent_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let last_sent = tally.post_sent_ms.iter().copied().fold(0.0, f64::max);
    let send_span_s = ((last_sent - first_sent) / 1000.0).max(1.0);
    let changed_days: std::collections::HashSet<(usize, NaiveDate)> =
        tally.changes.iter().map(|c| (c.who, c.date)).collect();
    let calls = |kind: &str| stats.api_calls_by_endpoint.get(kind).copied().unwrap_or(0);
    let (data_calls, by_endpoint) = fitex_bench::provider_calls(stats);
    let shapes = shapes.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(",");
    let p = |v: &[f64], q: f64| percentile(v, q);
    format!(
        "RESULT participants={} syncs_shape={shapes} changes={} changed_user_days={} posts={} posts_ok={} \
         duplicate_posts={} failed_requests={} notifications_on_topic={} load_s={load_s:.1} \
         send_span_s={send_span_s:.1} accepted_per_s={:.1} peak_per_s={peak_rate} \
         post_p50_ms={:.2} post_p99_ms={:.2} dispatch_lag_ms={:.0} \
         data_calls={data_calls} profile_calls={} calls_by_endpoint={by_endpoint} rate_limited={} \
         calls_per_day={:.3} naive_calls_per_day={:.3} \
         answered={} answered_by_trace={by_trace} answered_by_team_event={by_team} answered_by_teammate_event={by_teammate} not_stored={not_stored} no_goal_event={no_goal_event} \
         e2e_p50_ms={:.0} e2e_p90_ms={:.0} e2e_p99_ms={:.0} e2e_max_ms={:.0} \
         accepted_p50_ms={:.1} accepted_p99_ms={:.1} \
         notification_p50_ms={:.0} notification_p99_ms={:.0} stored_p50_ms={:.0} stored_p99_ms={:.0} \
         fetch_stage_p50_ms={:.0} fetch_stage_p99_ms={:.0} goals_stage_p50_ms={:.0} goals_stage_p99_ms={:.0} \
         relay_p50_ms={:.0} relay_p99_ms={:.0} \
         activity_events={} goal_events={} team_events={} waited_s={waited_s:.1} \
         drain_s={:.1} load_start_ms={load_start_ms:.0}",
        participants.len(),
        tally.changes.len(),
        changed_days.len(),
        tally.posts,
        tally.posts_ok,
        tally.duplicate_posts,
        tally.failed_requests,
        seen.notification_count,
        tally.posts_ok as f64 / send_span_s,
        p(&post_ms, 0.5),
        p(&post_ms, 0.99),
        tally.dispatch_lag_ms,
        calls("profile"),
        stats.rate_limited,
        data_calls as f64 / changed_days.len().max(1) as f64,
        tally.posts_ok as f64 / changed_days.len().max(1) as f64,
        e2e.len(),
        p(&e2e, 0.5),
        p(&e2e, 0.9),
        p(&e2e, 0.99),
        e2e.last().copied().unwrap_or(f64::NAN),
        p(&accepted, 0.5),
        p(&accepted, 0.99),
        p(&on_topic, 0.5),
        p(&on_topic, 0.99),
        p(&stored_stage, 0.5),
        p(&stored_stage, 0.99),
        p(&fetch_stage, 0.5),
        p(&fetch_stage, 0.99),
        p(&goals_stage, 0.5),
        p(&goals_stage, 0.99),
        p(&relay_ms, 0.5),
        p(&relay_ms, 0.99),
        seen.activities.len(),
        seen.goal_events,
        seen.team_events,
        if last_goal_ms > 0.0 { (last_goal_ms - last_sent) / 1000.0 } else { f64::NAN },
    )
}
