//! Percentiles (NumPy's default `linear` method), medians and rounding; the engine's exact
//! (rational) versions, so that an exact half is a half and is rounded only once.

use std::cmp::Ordering;

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

/// Decimal places a percentile is taken to in exact arithmetic (60 → 60, 62.5 → 62.5,
/// 33.3 → 33.3, not the nearest binary fraction).
const PERCENTILE_DECIMALS: i128 = 1_000_000;

/// An exact number of steps, `num / den` with `den > 0`: a percentile or a median of whole steps
/// is rational, and keeping it so means an exact half stays a half until the one rounding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exact {
    num: i128,
    den: i128,
}

impl Exact {
    /// Whole steps.
    pub fn whole(steps: i64) -> Self {
        Self { num: i128::from(steps), den: 1 }
    }

    /// `half_steps / 2` steps (a median of whole steps is a whole or a half step).
    pub fn halves(half_steps: i64) -> Self {
        Self { num: i128::from(half_steps), den: 2 }
    }

    /// This plus whole `steps` (saturating far beyond any step count).
    pub fn plus(self, steps: i64) -> Self {
        let num = self.num.saturating_add(i128::from(steps).saturating_mul(self.den));
        Self { num, den: self.den }
    }

    /// The nearest multiple of `step` (halves away from zero, i.e. up for step counts), saturated
    /// to `i32`; `step < 1` counts as 1. The only rounding an exact value ever gets.
    pub fn round_to(self, step: i32) -> i32 {
        let r = self.nearest_multiple(i128::from(step.max(1)));
        r.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
    }

    fn nearest_multiple(self, step: i128) -> i128 {
        // |num| / den / step rounded half up, then the sign back: halves away from zero.
        let d = self.den.saturating_mul(step);
        let mag = self.num.unsigned_abs();
        let d = d.unsigned_abs();
        let q = mag / d;
        let r = mag % d;
        let q = if r >= d - r { q + 1 } else { q };
        let q = i128::try_from(q).unwrap_or(i128::MAX);
        let rounded = q.saturating_mul(step);
        if self.num < 0 {
            -rounded
        } else {
            rounded
        }
    }

    /// Compares with whole steps.
    pub fn cmp_steps(self, steps: i64) -> Ordering {
        self.num.cmp(&i128::from(steps).saturating_mul(self.den))
    }
}

/// [`percentile_of_sorted`] in exact arithmetic, over whole steps sorted ascending: with
/// `h = (n − 1)·p/100`, `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])` as a fraction, `p` taken to six
/// decimal places. `None` for no values; `p` is clamped to 0–100 (NaN counts as 0).
pub(crate) fn percentile_exact(sorted: &[i32], p: f64) -> Option<Exact> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
    // p/100 = p_num / scale, exactly (p_num ≤ 10⁸).
    let p_num = (p * PERCENTILE_DECIMALS as f64).round() as i128;
    let scale = 100 * PERCENTILE_DECIMALS;
    // h = (n − 1)·p_num / scale = lo + frac / scale
    let h = i128::try_from(n - 1).unwrap_or(i128::MAX).saturating_mul(p_num);
    let lo = usize::try_from(h / scale).unwrap_or(usize::MAX).min(n - 1);
    let frac = h % scale;
    let hi = (lo + 1).min(n - 1);
    let a = i128::from(sorted[lo]);
    let b = i128::from(sorted[hi]);
    if frac == 0 || a == b {
        return Some(Exact { num: a, den: 1 });
    }
    Some(Exact { num: a * scale + frac * (b - a), den: scale })
}

/// The median of whole steps sorted ascending, in half steps (2 × median, exact).
pub(crate) fn median_half_steps(sorted: &[i32]) -> Option<i64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let (a, b) = (i64::from(sorted[(n - 1) / 2]), i64::from(sorted[n / 2]));
    Some(a + b)
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

    fn exact(values: &[i32], p: f64) -> Exact {
        let mut v = values.to_vec();
        v.sort_unstable();
        percentile_exact(&v, p).unwrap()
    }

    #[test]
    fn exact_percentile_matches_numpy() {
        let nine: Vec<i32> = (1..=9).map(|x| x * 1000).collect();
        assert_eq!(exact(&nine, 60.0).cmp_steps(5800), Ordering::Equal);
        assert_eq!(exact(&[9400, 5000, 8000, 6200, 7100], 60.0).cmp_steps(7460), Ordering::Equal);
        let twelve_and_a_half = exact(&[20, 10], 25.0);
        assert!(twelve_and_a_half.cmp_steps(12).is_gt() && twelve_and_a_half.cmp_steps(13).is_lt());
        assert_eq!(twelve_and_a_half.round_to(1), 13);
        assert_eq!(exact(&nine, 0.0).cmp_steps(1000), Ordering::Equal);
        assert_eq!(exact(&nine, 100.0).cmp_steps(9000), Ordering::Equal);
        assert_eq!(exact(&nine, 150.0).cmp_steps(9000), Ordering::Equal);
        assert_eq!(exact(&nine, f64::NAN).cmp_steps(1000), Ordering::Equal);
        assert_eq!(exact(&[42], 60.0).cmp_steps(42), Ordering::Equal);
        assert!(percentile_exact(&[], 60.0).is_none());
        // 33.3 is taken as the decimal 33.3: h = 2 × 0.333 = 0.666 → 0 + 0.666 × 1000 = 666
        assert_eq!(exact(&[0, 1000, 2000], 33.3).cmp_steps(666), Ordering::Equal);
    }

    /// The 60th percentile of 3,415 ×5 and 8,865 ×4 is exactly 7,775: a half, rounded up to
    /// 7,780. In floating point it is 7,774.999999999999 and would round down to 7,770.
    #[test]
    fn an_exact_half_rounds_up() {
        let window = [3415, 3415, 3415, 3415, 3415, 8865, 8865, 8865, 8865];
        let p = exact(&window, 60.0);
        assert_eq!(p.cmp_steps(7775), Ordering::Equal);
        assert_eq!(p.round_to(10), 7780);
        let floating: Vec<f64> = window.iter().map(|&x| f64::from(x)).collect();
        assert!(percentile_linear(&floating, 60.0).unwrap() < 7775.0, "floating point misses it");
    }

    #[test]
    fn exact_rounding() {
        assert_eq!(Exact::halves(12_099).round_to(100), 6000); // 6,049.5 → 6,000, once
        assert_eq!(Exact::halves(12_099).round_to(1), 6050);
        assert_eq!(Exact::whole(7455).round_to(10), 7460);
        assert_eq!(Exact::whole(7454).round_to(10), 7450);
        assert_eq!(Exact::whole(6550).round_to(100), 6600);
        assert_eq!(Exact::whole(-6550).round_to(100), -6600);
        assert_eq!(Exact::whole(1234).round_to(0), 1234);
        assert_eq!(Exact::whole(i64::MAX).round_to(10), i32::MAX);
        assert_eq!(Exact::whole(i64::MIN).round_to(i32::MAX), i32::MIN);
        assert_eq!(Exact::whole(1).round_to(i32::MAX), 0);
        assert_eq!(Exact::halves(13).plus(10).round_to(1), 17); // 6.5 + 10 = 16.5 → 17
        assert_eq!(Exact::halves(9999).cmp_steps(5000), Ordering::Less);
        assert_eq!(median_half_steps(&[1, 2, 4, 9]), Some(6));
        assert_eq!(median_half_steps(&[1, 2, 4]), Some(4));
        assert_eq!(median_half_steps(&[]), None);
    }
}
