//! Timing helpers: repeated runs with the setup outside the timed region,
//! summarised as min / median / max nanoseconds.

use std::time::Instant;

/// Min, median and max of repeated runs, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Runs measured.
    pub runs: usize,
    /// Median (mean of the two middle runs for an even count).
    pub median_ns: f64,
    /// Fastest run.
    pub min_ns: f64,
    /// Slowest run.
    pub max_ns: f64,
}

impl Stats {
    /// Summarises samples (nanoseconds); `None` when there are none.
    pub fn from_samples(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let k = s.len();
        let median = if k % 2 == 1 {
            s[k / 2]
        } else {
            (s[k / 2 - 1] + s[k / 2]) / 2.0
        };
        Some(Stats {
            runs: k,
            median_ns: median,
            min_ns: s[0],
            max_ns: s[k - 1],
        })
    }

    /// Median in milliseconds.
    pub fn median_ms(&self) -> f64 {
        self.median_ns / 1e6
    }
}

/// Runs `setup` then times `routine` on its result, `runs` times. What
/// `routine` returns is dropped after the clock stops.
pub fn measure<I, O>(
    runs: usize,
    mut setup: impl FnMut() -> I,
    mut routine: impl FnMut(I) -> O,
) -> Stats {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let input = setup();
        let t = Instant::now();
        let out = routine(input);
        let ns = t.elapsed().as_nanos() as f64;
        drop(out);
        samples.push(ns);
    }
    Stats::from_samples(&samples).expect("at least one run")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats() {
        let s = Stats::from_samples(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            (s.min_ns, s.median_ns, s.max_ns, s.runs),
            (1.0, 2.0, 3.0, 3)
        );
        let s = Stats::from_samples(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median_ns, 2.5);
        assert!(Stats::from_samples(&[]).is_none());
    }

    #[test]
    fn measure_runs_setup_each_time() {
        let mut setups = 0;
        let s = measure(
            5,
            || {
                setups += 1;
                vec![0u8; 10]
            },
            |v| v.len(),
        );
        assert_eq!(setups, 5);
        assert_eq!(s.runs, 5);
    }
}
