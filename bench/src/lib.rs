//! Baseline programs and load drivers for `bench/*.sh`; see `docs/benchmarks.md`. What they share.

use fitex_provider_simulator::Stats;

/// The `p` quantile (0..=1) of an ascending slice; NaN when it is empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// The simulator's data calls (everything but `profile` and `subscriptions` lookups) and every
/// endpoint's count as `endpoint:n,…`.
pub fn provider_calls(stats: &Stats) -> (u64, String) {
    let by_endpoint = &stats.api_calls_by_endpoint;
    let data = by_endpoint
        .iter()
        .filter(|(kind, _)| !matches!(kind.as_str(), "profile" | "subscriptions"))
        .map(|(_, n)| n)
        .sum();
    let listed = by_endpoint.iter().map(|(k, n)| format!("{k}:{n}")).collect::<Vec<_>>().join(",");
    (data, listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_rank_and_never_run_past_the_end() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 51.0);
        assert_eq!(percentile(&values, 0.99), 100.0);
        assert_eq!(percentile(&values, 1.0), 100.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn data_calls_leave_out_profile_and_subscription_lookups() {
        let mut stats = Stats::default();
        for (kind, n) in
            [("activities_day", 7), ("profile", 2), ("subscriptions", 1), ("google_rollup", 3)]
        {
            stats.api_calls_by_endpoint.insert(kind.into(), n);
        }
        let (data, listed) = provider_calls(&stats);
        assert_eq!(data, 10);
        assert_eq!(listed, "activities_day:7,google_rollup:3,profile:2,subscriptions:1");
    }
}
