//! The run's figures: each answered change's timings as CSV (`--points`, for the plot) and the
//! one `RESULT key=value …` line `bench/pipeline.sh` reads.

use std::collections::{BTreeMap, HashMap, HashSet};
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
    /// The steps PostgreSQL holds for the participants' last days once the wait was over, by
    /// (participant id, date): what a change that got no goal event is checked against.
    pub stored_after: &'a HashMap<(i64, NaiveDate), u32>,
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
    /// Changes without a goal event whose steps (or more) are not in the database either.
    lost: usize,
    by_team: usize,
    by_teammate: usize,
    by_trace: usize,
    last_goal_ms: f64,
}

/// Writes each answered change's timings to `path` (CSV) and returns them all.
pub fn write_points(path: &Path, run: Run<'_>) -> anyhow::Result<Timings> {
    let Run { participants, tally, seen, stored_after, load_start_ms, .. } = run;
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
        if a.goal_ms.is_none() {
            let in_database = stored_after.get(&(participants[change.who].id, change.date));
            timings.lost += usize::from(in_database.is_none_or(|steps| *steps < change.steps));
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
    let Run { participants, shapes, tally, seen, load_start_ms, load_s, waited_s, .. } = run;
    let Timings {
        e2e,
        on_topic,
        accepted,
        stored_stage,
        goals_stage,
        fetch_stage,
        not_stored,
        no_goal_event,
        lost,
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
    let changed_days: HashSet<(usize, NaiveDate)> =
        tally.changes.iter().map(|c| (c.who, c.date)).collect();
    let calls = |kind: &str| stats.api_calls_by_endpoint.get(kind).copied().unwrap_or(0);
    let (data_calls, by_endpoint) = fitex_bench::provider_calls(stats);
    let all_in = AllInCalls::of(stats);
    let notified: HashSet<usize> = tally.changes.iter().map(|c| c.who).collect();
    // The naive fetcher: a data call per notification POST (duplicates too), plus the one profile
    // call per participant per day (the run is one day) that ours makes as well.
    let naive_all_in = tally.posts_ok + notified.len() as u64;
    let days_in_database = changed_days_in_database(run);
    let shapes = shapes.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(",");
    let p = |v: &[f64], q: f64| percentile(v, q);
    format!(
        "RESULT participants={} syncs_shape={shapes} changes={} changed_user_days={} posts={} posts_ok={} \
         duplicate_posts={} failed_requests={} notifications_on_topic={} load_s={load_s:.1} \
         send_span_s={send_span_s:.1} accepted_per_s={:.1} peak_per_s={peak_rate} \
         post_p50_ms={:.2} post_p99_ms={:.2} dispatch_lag_ms={:.0} \
         data_calls={data_calls} profile_calls={} calls_by_endpoint={by_endpoint} rate_limited={} \
         calls_per_day={:.3} naive_calls_per_day={:.3} \
         all_in_calls={} all_in_by_kind={} all_in_by_status={} token_calls={} subscription_calls={} \
         identity_calls={} unauthorized_calls={} rate_limited_calls={} all_in_per_change={:.3} \
         all_in_per_changed_day={:.3} participants_notified={} naive_all_in_calls={naive_all_in} \
         naive_all_in_per_change={:.3} \
         answered={} answered_by_trace={by_trace} answered_by_team_event={by_team} answered_by_teammate_event={by_teammate} not_stored={not_stored} no_goal_event={no_goal_event} \
         lost={lost} changed_days_in_database={days_in_database} \
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
        all_in.total,
        all_in.by_kind,
        all_in.by_status,
        all_in.token,
        all_in.subscriptions,
        all_in.identity,
        all_in.unauthorized,
        all_in.rate_limited,
        all_in.total as f64 / tally.changes.len().max(1) as f64,
        all_in.total as f64 / changed_days.len().max(1) as f64,
        notified.len(),
        naive_all_in as f64 / tally.changes.len().max(1) as f64,
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

/// The simulator's all-in account of provider calls: every call a budget pays for, whatever its
/// answer (see `Stats::all_in_calls_by_kind`).
#[derive(Debug, PartialEq)]
struct AllInCalls {
    total: u64,
    /// Token endpoint calls (refreshes, whatever their answer).
    token: u64,
    subscriptions: u64,
    /// Profile and time-zone calls (Fitbit's profile, Google's settings and identity).
    identity: u64,
    /// Calls answered 401.
    unauthorized: u64,
    /// Calls answered 429.
    rate_limited: u64,
    /// Every kind's count as `kind:n,…`.
    by_kind: String,
    /// Every HTTP status's count as `status:n,…`.
    by_status: String,
}

impl AllInCalls {
    fn of(stats: &Stats) -> Self {
        let kinds = &stats.all_in_calls_by_kind;
        let kind = |name: &str| kinds.get(name).copied().unwrap_or(0);
        let status = |code: &str| stats.all_in_calls_by_status.get(code).copied().unwrap_or(0);
        let listed = |map: &BTreeMap<String, u64>| {
            map.iter().map(|(k, n)| format!("{k}:{n}")).collect::<Vec<_>>().join(",")
        };
        AllInCalls {
            total: kinds.values().sum(),
            token: kind("oauth2_token") + kind("google_token"),
            subscriptions: kind("subscriptions") + kind("google_subscriptions"),
            identity: kind("profile") + kind("google_settings") + kind("google_identity"),
            unauthorized: status("401"),
            rate_limited: status("429"),
            by_kind: listed(kinds),
            by_status: listed(&stats.all_in_calls_by_status),
        }
    }
}

/// How many changed participant-days PostgreSQL holds at their last sent steps (or more) once
/// the wait was over.
fn changed_days_in_database(run: Run<'_>) -> usize {
    let mut last_sent: HashMap<(usize, NaiveDate), u32> = HashMap::new();
    for change in &run.tally.changes {
        let steps = last_sent.entry((change.who, change.date)).or_default();
        *steps = (*steps).max(change.steps);
    }
    last_sent
        .iter()
        .filter(|((who, date), sent)| {
            run.stored_after.get(&(run.participants[*who].id, *date)).is_some_and(|s| s >= *sent)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_all_in_account_counts_refused_and_token_calls_by_kind_and_status() {
        let mut stats = Stats::default();
        for (kind, n) in [
            ("activities_day", 10),
            ("oauth2_token", 2),
            ("profile", 3),
            ("subscriptions", 1),
            ("google_identity", 1),
        ] {
            stats.all_in_calls_by_kind.insert(kind.into(), n);
        }
        for (status, n) in [("200", 12), ("401", 3), ("429", 2)] {
            stats.all_in_calls_by_status.insert(status.into(), n);
        }
        let all_in = AllInCalls::of(&stats);
        assert_eq!(
            all_in,
            AllInCalls {
                total: 17,
                token: 2,
                subscriptions: 1,
                identity: 4,
                unauthorized: 3,
                rate_limited: 2,
                by_kind:
                    "activities_day:10,google_identity:1,oauth2_token:2,profile:3,subscriptions:1"
                        .into(),
                by_status: "200:12,401:3,429:2".into(),
            }
        );
    }
}
