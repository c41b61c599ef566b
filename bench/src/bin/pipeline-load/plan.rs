//! What load to make: when each participant syncs over the run and which steps each sync
//! carries (the model is in `main`'s documentation). Pure: the same shape, seed, cohort and start
//! give the same plan.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cohort::Participant;

/// The shape of the day the load compresses (the command line's part of it).
#[derive(clap::Args)]
// Not the program's description in `--help`, which clap would take from this doc comment.
#[command(about = None, long_about = None)]
pub struct LoadShape {
    /// Length of the load: every sync starts within it.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    #[arg(long, default_value_t = 3)]
    pub min_syncs: usize,
    #[arg(long, default_value_t = 6)]
    pub max_syncs: usize,
    /// Least time between two syncs of one participant (a real day's syncs are minutes apart;
    /// the fetcher's settle window, 3 s, is not compressed with the day).
    #[arg(long, default_value_t = 5000)]
    pub min_gap_ms: u64,
    /// Share of syncs whose notification Fitbit sends again (1–2 identical POSTs).
    #[arg(long, default_value_t = 0.3)]
    pub duplicate_share: f64,
    /// Share of participants whose first sync also carries yesterday.
    #[arg(long, default_value_t = 0.2)]
    pub multi_share: f64,
    /// Of those, the share that also carries the day before yesterday.
    #[arg(long, default_value_t = 0.25)]
    pub three_day_share: f64,
}

impl LoadShape {
    /// Refuses a shape the plan cannot honour.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.min_syncs >= 1 && self.seconds >= 10,
            "at least one sync and 10 seconds"
        );
        anyhow::ensure!(
            self.min_gap_ms * (self.max_syncs as u64) < self.seconds * 1000,
            "{} syncs {} ms apart do not fit in {} s",
            self.max_syncs,
            self.min_gap_ms,
            self.seconds
        );
        Ok(())
    }
}

/// One sync: the dates it changes (oldest first, today last), each with its new steps.
pub struct Sync {
    pub at_ms: u64,
    pub who: usize,
    pub dates: Vec<(NaiveDate, u32)>,
    /// Identical POSTs of today's notification sent again after `duplicate_delay_ms`.
    pub duplicates: usize,
    pub duplicate_delay_ms: u64,
}

/// Every participant's syncs over the run starting at `start`, in time order, with a count of
/// the plan's shapes (participants, syncs, multi-day first syncs, duplicated syncs).
pub fn plan(
    shape: &LoadShape,
    seed: u64,
    participants: &[Participant],
    stored: &HashMap<(i64, NaiveDate), u32>,
    start: DateTime<Utc>,
) -> (Vec<Sync>, BTreeMap<&'static str, usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let span = shape.seconds * 1000;
    let mut syncs = Vec::new();
    let mut shapes = BTreeMap::new();
    // The latest steps planned per (participant, date): each change raises them.
    let mut current: HashMap<(usize, NaiveDate), u32> = HashMap::new();
    for (who, p) in participants.iter().enumerate() {
        let count = rng.random_range(shape.min_syncs..=shape.max_syncs.max(shape.min_syncs));
        // Order statistics of `count` uniform moments over what the gaps leave, then the gaps.
        let room = span.saturating_sub(shape.min_gap_ms * (count as u64 - 1)).max(1);
        let mut moments: Vec<u64> = (0..count).map(|_| rng.random_range(0..room)).collect();
        moments.sort_unstable();
        let final_steps = (p.usual * rng.random_range(0.7..1.3)).max(1500.0);
        let multi = rng.random_bool(shape.multi_share);
        let three = multi && rng.random_bool(shape.three_day_share);
        *shapes.entry("participants").or_default() += 1;
        if multi {
            *shapes
                .entry(if three { "three_day_first_syncs" } else { "two_day_first_syncs" })
                .or_default() += 1;
        }
        for (k, moment) in moments.into_iter().enumerate() {
            let at_ms = moment + k as u64 * shape.min_gap_ms;
            let when = start + chrono::Duration::milliseconds(at_ms as i64);
            let today = when.with_timezone(&p.zone).date_naive();
            let mut dates = Vec::new();
            let back = if k == 0 && multi {
                if three {
                    2
                } else {
                    1
                }
            } else {
                0
            };
            for b in (1..=back).rev() {
                let date = today - chrono::Duration::days(b);
                let cur = current
                    .get(&(who, date))
                    .copied()
                    .or_else(|| stored.get(&(p.id, date)).copied())
                    .unwrap_or(0);
                let steps = cur + rng.random_range(200..2500);
                current.insert((who, date), steps);
                dates.push((date, steps));
            }
            // A day that already has steps (synced before the run) gets the rest of its day: a
            // third of a usual day more by the last sync.
            let base = stored.get(&(p.id, today)).copied().unwrap_or(0);
            let rest = if base == 0 { final_steps } else { final_steps * 0.3 };
            let cur = current.get(&(who, today)).copied().unwrap_or(base);
            let target = base + (rest * (k + 1) as f64 / count as f64) as u32;
            let steps = target.max(cur + rng.random_range(30..300));
            current.insert((who, today), steps);
            dates.push((today, steps));
            let duplicates = if rng.random_bool(shape.duplicate_share) {
                if rng.random_bool(0.3) {
                    2
                } else {
                    1
                }
            } else {
                0
            };
            *shapes.entry("syncs").or_default() += 1;
            if duplicates > 0 {
                *shapes.entry("duplicated_syncs").or_default() += 1;
            }
            syncs.push(Sync {
                at_ms,
                who,
                dates,
                duplicates,
                duplicate_delay_ms: rng.random_range(100..2000),
            });
        }
    }
    syncs.sort_by_key(|s| s.at_ms);
    (syncs, shapes)
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;
    use clap::Parser;

    use super::*;

    /// The shape and seed as the command line gives them (`main`'s `Args`).
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        shape: LoadShape,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    }

    fn args(extra: &[&str]) -> Cli {
        let mut argv = vec!["pipeline-load"];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv)
    }

    fn participant(id: i64, team: i64, zone: Tz) -> Participant {
        Participant { user: format!("U{id}"), id, team, zone, usual: 8000.0 }
    }

    #[test]
    fn each_participants_syncs_are_spaced_and_only_raise_their_days() {
        let args = args(&["--seconds", "60", "--multi-share", "0.5"]);
        let zones = [Tz::UTC, Tz::America__New_York, Tz::Pacific__Auckland];
        let participants: Vec<Participant> =
            (0..200).map(|i| participant(i, i / 8, zones[i as usize % 3])).collect();
        let start = "2026-11-30T23:59:30Z".parse::<DateTime<Utc>>().unwrap();
        let today_utc = start.date_naive();
        let stored = HashMap::from([((0, today_utc), 5_000u32)]);
        let (syncs, shapes) = plan(&args.shape, args.seed, &participants, &stored, start);
        assert_eq!(shapes["participants"], 200);
        assert_eq!(shapes["syncs"], syncs.len());
        assert!(shapes.get("two_day_first_syncs").copied().unwrap_or(0) > 0);
        assert!(syncs.windows(2).all(|w| w[0].at_ms <= w[1].at_ms), "in time order");
        let mut last: HashMap<usize, u64> = HashMap::new();
        let mut steps: HashMap<(usize, NaiveDate), u32> = HashMap::new();
        let mut per_participant: HashMap<usize, usize> = HashMap::new();
        for sync in &syncs {
            assert!(sync.at_ms < 60_000);
            if let Some(previous) = last.insert(sync.who, sync.at_ms) {
                assert!(
                    sync.at_ms - previous >= args.shape.min_gap_ms,
                    "syncs of one person 5 s apart"
                );
            }
            *per_participant.entry(sync.who).or_default() += 1;
            // The last date is the participant's local today at the sync (this run crosses UTC
            // midnight, so some syncs are on the next day).
            let when = start + chrono::Duration::milliseconds(sync.at_ms as i64);
            let today = when.with_timezone(&participants[sync.who].zone).date_naive();
            assert_eq!(sync.dates.last().unwrap().0, today);
            assert!(sync.dates.windows(2).all(|w| w[0].0 < w[1].0), "oldest date first");
            for (date, value) in &sync.dates {
                let before = steps.insert((sync.who, *date), *value);
                assert!(before.is_none_or(|b| b < *value), "a change always raises the day");
            }
        }
        assert!(per_participant.values().all(|n| (3..=6).contains(n)));
        // A day stored before the run only grows from its stored steps.
        if let Some(first) =
            syncs.iter().find(|s| s.who == 0 && s.dates.iter().any(|d| d.0 == today_utc))
        {
            assert!(first.dates.iter().find(|d| d.0 == today_utc).unwrap().1 > 5_000);
        }
    }
}
