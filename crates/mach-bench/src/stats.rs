//! Percentiles, latency summaries, ratios and the CDF the plot draws.

/// A set of latency samples in nanoseconds, kept sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Samples {
    sorted_ns: Vec<u64>,
}

impl Samples {
    /// Takes ownership of unsorted samples (nanoseconds).
    pub fn from_unsorted(mut ns: Vec<u64>) -> Samples {
        ns.sort_unstable();
        Samples { sorted_ns: ns }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.sorted_ns.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.sorted_ns.is_empty()
    }

    /// The samples in ascending order (nanoseconds).
    pub fn sorted_ns(&self) -> &[u64] {
        &self.sorted_ns
    }

    /// Nearest-rank percentile: the smallest sample such that at least `p` percent of the
    /// samples are ≤ it. `p` is clamped to `0..=100`; `p = 0` gives the minimum. `None` when
    /// there are no samples (or `p` is NaN).
    pub fn percentile_ns(&self, p: f64) -> Option<u64> {
        if self.sorted_ns.is_empty() || p.is_nan() {
            return None;
        }
        let n = self.sorted_ns.len();
        let p = p.clamp(0.0, 100.0);
        // rank is 1-based; rank 0 (p = 0) means the minimum.
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        Some(self.sorted_ns[rank.clamp(1, n) - 1])
    }

    /// The largest sample.
    pub fn max_ns(&self) -> Option<u64> {
        self.sorted_ns.last().copied()
    }

    /// p50 / p99 / max in microseconds.
    pub fn summary(&self) -> Option<LatencySummary> {
        Some(LatencySummary {
            p50_us: ns_to_us(self.percentile_ns(50.0)?),
            p99_us: ns_to_us(self.percentile_ns(99.0)?),
            max_us: ns_to_us(self.max_ns()?),
            count: self.len(),
        })
    }

    /// Points of the empirical CDF, `(latency_ns, fraction ≤ latency)`, thinned to at most
    /// `max_points` (the last sample is always included so the curve reaches 1).
    pub fn cdf(&self, max_points: usize) -> Vec<(u64, f64)> {
        let n = self.sorted_ns.len();
        if n == 0 || max_points == 0 {
            return Vec::new();
        }
        let step = n.div_ceil(max_points).max(1);
        let mut points: Vec<(u64, f64)> = (0..n)
            .step_by(step)
            .map(|i| (self.sorted_ns[i], (i + 1) as f64 / n as f64))
            .collect();
        if points.last().map(|&(_, f)| f) != Some(1.0) {
            if points.len() == max_points {
                points.pop();
            }
            points.push((self.sorted_ns[n - 1], 1.0));
        }
        points
    }
}

/// Nanoseconds to microseconds.
pub fn ns_to_us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

/// A latency distribution's headline figures, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencySummary {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Worst sample.
    pub max_us: f64,
    /// Number of samples.
    pub count: usize,
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// `numerator / denominator`, or `None` when either is missing or not finite, or the
/// denominator is zero (a ratio against a zero figure has no meaning: "0 wake-ups" is reported
/// as such, not as an infinite improvement).
pub fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> Option<f64> {
    let (n, d) = (numerator?, denominator?);
    if !n.is_finite() || !d.is_finite() || d == 0.0 {
        return None;
    }
    Some(n / d)
}

/// Events per second over a duration; `None` for an empty duration.
pub fn per_second(events: u64, elapsed: std::time::Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    (secs > 0.0).then(|| events as f64 / secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Samples::from_unsorted((1..=100).rev().collect());
        assert_eq!(s.percentile_ns(50.0), Some(50));
        assert_eq!(s.percentile_ns(99.0), Some(99));
        assert_eq!(s.percentile_ns(100.0), Some(100));
        assert_eq!(s.percentile_ns(0.0), Some(1));
        assert_eq!(s.percentile_ns(0.5), Some(1));
        assert_eq!(s.percentile_ns(1.5), Some(2));
        assert_eq!(s.max_ns(), Some(100));
        // Out-of-range requests clamp instead of indexing out of bounds.
        assert_eq!(s.percentile_ns(250.0), Some(100));
        assert_eq!(s.percentile_ns(-3.0), Some(1));
        assert_eq!(s.percentile_ns(f64::NAN), None);
    }

    #[test]
    fn percentiles_of_small_and_empty_sets() {
        let one = Samples::from_unsorted(vec![7]);
        assert_eq!(one.percentile_ns(50.0), Some(7));
        assert_eq!(one.percentile_ns(99.0), Some(7));
        let odd = Samples::from_unsorted(vec![30, 10, 20]);
        assert_eq!(odd.percentile_ns(50.0), Some(20));
        let empty = Samples::default();
        assert_eq!(empty.percentile_ns(50.0), None);
        assert!(empty.summary().is_none());
        assert!(empty.cdf(10).is_empty());
    }

    #[test]
    fn summary_is_in_microseconds() {
        let s = Samples::from_unsorted(vec![1_000, 2_000, 3_000, 400_000]);
        let sum = s.summary().unwrap();
        assert_eq!(sum.p50_us, 2.0);
        assert_eq!(sum.p99_us, 400.0);
        assert_eq!(sum.max_us, 400.0);
        assert_eq!(sum.count, 4);
    }

    #[test]
    fn ratios_refuse_meaningless_denominators() {
        assert_eq!(ratio(Some(10.0), Some(4.0)), Some(2.5));
        assert_eq!(ratio(Some(0.0), Some(4.0)), Some(0.0));
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(1.0)), None);
        assert_eq!(ratio(Some(1.0), None), None);
        assert_eq!(ratio(Some(f64::NAN), Some(1.0)), None);
        assert_eq!(ratio(Some(1.0), Some(f64::INFINITY)), None);
    }

    #[test]
    fn per_second_rates() {
        use std::time::Duration;
        assert_eq!(per_second(500, Duration::from_millis(250)), Some(2000.0));
        assert_eq!(per_second(5, Duration::ZERO), None);
    }

    #[test]
    fn cdf_is_monotone_thinned_and_ends_at_one() {
        let s = Samples::from_unsorted((0..1000).map(|i| (i * 37 % 1000) as u64).collect());
        let cdf = s.cdf(64);
        assert!(cdf.len() <= 64, "{} points", cdf.len());
        assert!(cdf.len() >= 32);
        assert_eq!(cdf.last().unwrap(), &(999, 1.0));
        for w in cdf.windows(2) {
            assert!(w[0].0 <= w[1].0 && w[0].1 < w[1].1, "{w:?}");
        }
        // Unthinned: every sample is one point.
        let small = Samples::from_unsorted(vec![5, 1, 3]);
        assert_eq!(
            small.cdf(10),
            vec![(1, 1.0 / 3.0), (3, 2.0 / 3.0), (5, 1.0)]
        );
    }
}
