//! Percentiles (NumPy's default `linear` method), medians and rounding.

/// The `p`-th percentile (0–100) of `values`, interpolated linearly between the two nearest
/// ranks exactly as NumPy's default (`method="linear"`): with the values sorted ascending as
/// `x[0..n]`, `h = (n − 1)·p/100`, result `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`.
/// `None` for no values; `p` is clamped to 0–100 (NaN counts as 0).
pub fn percentile_linear(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile_of_sorted(&sorted, p)
}

/// As [`percentile_linear`] for values already sorted ascending.
pub(crate) fn percentile_of_sorted<T: Copy + Into<f64>>(sorted: &[T], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
    let h = (n - 1) as f64 * p / 100.0;
    let lo = h.floor() as usize;
    let lo = lo.min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let a: f64 = sorted[lo].into();
    let b: f64 = sorted[hi].into();
    Some(a + (h - lo as f64) * (b - a))
}

/// The median (the 50th percentile: the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    percentile_linear(values, 50.0)
}

/// Rounds to the nearest multiple of `step` (halves away from zero); `step < 1` counts as 1.
pub fn round_to(value: f64, step: i32) -> i32 {
    let step = f64::from(step.max(1));
    let r = (value / step).round() * step;
    r.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_linear() {
        // numpy.percentile(range(1, 10), 60) == 5.8
        let v: Vec<f64> = (1..=9).map(f64::from).collect();
        assert!((percentile_linear(&v, 60.0).unwrap() - 5.8).abs() < 1e-12);
        // numpy.percentile([1, 2, 3, 4], 60) == 2.8 (h = 1.8)
        assert!((percentile_linear(&[4.0, 1.0, 3.0, 2.0], 60.0).unwrap() - 2.8).abs() < 1e-12);
        // numpy.percentile([5000, 6200, 7100, 8000, 9400], 60) == 7460.0 (h = 2.4)
        let v = [9400.0, 5000.0, 8000.0, 6200.0, 7100.0];
        assert!((percentile_linear(&v, 60.0).unwrap() - 7460.0).abs() < 1e-9);
        // numpy.percentile([10, 20], 25) == 12.5
        assert!((percentile_linear(&[20.0, 10.0], 25.0).unwrap() - 12.5).abs() < 1e-12);
        // end points and a single value
        assert_eq!(percentile_linear(&v, 0.0), Some(5000.0));
        assert_eq!(percentile_linear(&v, 100.0), Some(9400.0));
        assert_eq!(percentile_linear(&[42.0], 60.0), Some(42.0));
        assert_eq!(percentile_linear(&[], 60.0), None);
        // out-of-range p is clamped
        assert_eq!(percentile_linear(&v, 150.0), Some(9400.0));
        assert_eq!(percentile_linear(&v, -3.0), Some(5000.0));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn rounding() {
        assert_eq!(round_to(7456.0, 10), 7460);
        assert_eq!(round_to(7455.0, 10), 7460);
        assert_eq!(round_to(7454.9, 10), 7450);
        assert_eq!(round_to(6549.0, 100), 6500);
        assert_eq!(round_to(6550.0, 100), 6600);
        assert_eq!(round_to(1234.0, 0), 1234);
        assert_eq!(round_to(1234.4, 1), 1234);
    }
}
