//! The statistics of the size estimate: which ranks of a population to sample, and the
//! estimated total of a per-page value with its variance. Pure arithmetic over ranks and
//! values, so it is tested on synthetic populations whose true total is known.
//!
//! Design: one-per-stratum systematic sampling. The population (pages in pfn order) is
//! cut into `n` strata of (nearly) equal size and one page is drawn from each, at a
//! position given by a hash of the seed and the stratum number. Memory is far from
//! uniform (page cache of one file, a process's heap, free blocks come in runs), and a
//! sample spread evenly over the pfns catches every run in proportion to its size; the
//! hash keeps the pick inside each stratum from following any period of the layout, and
//! the fixed seed makes two runs on the same memory print the same numbers.
//!
//! The variance of the mean is estimated from successive differences of the sample in
//! stratum order (Wolter, *Introduction to Variance Estimation*, 2nd ed., §8.2, the
//! estimator v_3): the usual estimator for one draw per stratum, where a within-stratum
//! variance cannot be computed. It treats neighbouring strata as pairs, so a smooth trend
//! over the pfns does not count as sampling noise, while a page mix that changes from
//! stratum to stratum does.

/// Fixed seed of every sample: two runs on the same memory pick the same pages.
pub const SEED: u64 = 0x6d61_6b65_6475_6d70; // "makedump"

/// z for a two-sided 95 % normal interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The ranks (0-based positions, ascending) of a sample of `wanted` out of `population`:
/// every rank when `wanted >= population` (a census), else one per stratum.
pub fn sample_ranks(population: u64, wanted: u64, seed: u64) -> Vec<u64> {
    if wanted >= population {
        return (0..population).collect();
    }
    let stratum_start =
        |j: u64| -> u64 { (u128::from(j) * u128::from(population) / u128::from(wanted)) as u64 };
    (0..wanted)
        .map(|j| {
            let (lo, hi) = (stratum_start(j), stratum_start(j + 1));
            // wanted < population, so every stratum holds at least one rank.
            lo + mix(seed ^ j.wrapping_mul(0x9e37_79b9_7f4a_7c15)) % (hi - lo)
        })
        .collect()
}

/// splitmix64's finaliser: a well-spread 64-bit hash (Steele, Lea, Flood 2014).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An estimated total with the variance of the estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Total {
    /// The estimate.
    pub value: f64,
    /// Its estimated variance (0 for an exact figure, infinite when it can't be
    /// estimated).
    pub variance: f64,
}

impl Total {
    /// A figure known without sampling.
    pub fn exact(value: f64) -> Self {
        Total {
            value,
            variance: 0.0,
        }
    }

    /// The total of a per-page value over `population` pages, from `values`, the value of
    /// each page of the sample drawn by [`sample_ranks`] (same order). A census is exact.
    pub fn from_sample(population: u64, values: &[f64]) -> Self {
        let n = values.len() as u64;
        if population == 0 {
            return Total::exact(0.0);
        }
        if n >= population {
            return Total::exact(values.iter().sum());
        }
        let size = population as f64;
        let mean = values.iter().sum::<f64>() / n.max(1) as f64;
        // One draw leaves no difference to measure: say so rather than invent a figure.
        let variance = if n < 2 {
            f64::INFINITY
        } else {
            let squares: f64 = values.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();
            let variance_of_mean = squares / (2.0 * n as f64 * (n - 1) as f64);
            let finite_population = 1.0 - n as f64 / size;
            size * size * finite_population * variance_of_mean
        };
        Total {
            value: size * mean,
            variance,
        }
    }

    /// The 95 % interval, clipped to `[low, high]` (what the total can be at all).
    pub fn interval(&self, low: f64, high: f64) -> (f64, f64) {
        let half = Z_95 * self.variance.sqrt();
        ((self.value - half).max(low), (self.value + half).min(high))
    }
}

impl std::ops::Add for Total {
    type Output = Total;

    /// Strata are sampled independently: totals and variances add.
    fn add(self, other: Total) -> Total {
        Total {
            value: self.value + other.value,
            variance: self.variance + other.variance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xorshift::XorShift;

    #[test]
    fn ranks_are_deterministic_sorted_and_one_per_stratum() {
        let ranks = sample_ranks(10_000, 100, SEED);
        assert_eq!(ranks, sample_ranks(10_000, 100, SEED));
        assert_ne!(ranks, sample_ranks(10_000, 100, SEED + 1));
        assert_eq!(ranks.len(), 100);
        for (j, &r) in ranks.iter().enumerate() {
            assert!(
                (j as u64 * 100..(j as u64 + 1) * 100).contains(&r),
                "{j}: {r}"
            );
        }
        // Uneven strata (population not a multiple of the sample) still stay apart.
        let ranks = sample_ranks(1_001, 1_000, SEED);
        assert!(ranks.windows(2).all(|w| w[0] < w[1]));
        assert!(*ranks.last().unwrap() < 1_001);
    }

    #[test]
    fn small_populations_are_censused() {
        assert_eq!(sample_ranks(5, 100, SEED), vec![0, 1, 2, 3, 4]);
        assert!(sample_ranks(0, 100, SEED).is_empty());
        let total = Total::from_sample(3, &[1.0, 2.0, 4.0]);
        assert_eq!(total, Total::exact(7.0));
    }

    #[test]
    fn degenerate_populations() {
        assert_eq!(Total::from_sample(0, &[]), Total::exact(0.0));
        // Every sampled value equal (all zero pages): the estimate is exact-looking.
        let zeros = Total::from_sample(1_000_000, &[0.0; 500]);
        assert_eq!((zeros.value, zeros.variance), (0.0, 0.0));
        // One draw from many: no variance can be estimated, the interval is the bounds.
        let one = Total::from_sample(1_000, &[10.0]);
        assert_eq!(one.value, 10_000.0);
        assert_eq!(one.interval(0.0, 4096.0 * 1_000.0), (0.0, 4096.0 * 1_000.0));
    }

    /// Synthetic memories laid out like real ones (runs of page kinds, noise within a
    /// kind): the 95 % interval must cover the true total for most seeds, and the
    /// estimate must be close.
    #[test]
    fn interval_covers_the_true_total_on_synthetic_memories() {
        let mut misses = 0;
        let trials = 200;
        for trial in 0..trials {
            let mut rng = XorShift(0x1234_5678 + trial);
            let values = synthetic_memory(&mut rng, 200_000);
            let truth: f64 = values.iter().sum();
            let ranks = sample_ranks(values.len() as u64, 2_000, SEED ^ trial);
            let sample: Vec<f64> = ranks.iter().map(|&r| values[r as usize]).collect();
            let total = Total::from_sample(values.len() as u64, &sample);
            let (low, high) = total.interval(0.0, f64::MAX);
            if !(low..=high).contains(&truth) {
                misses += 1;
            }
            assert!(
                (total.value - truth).abs() < 0.1 * truth,
                "trial {trial}: {} vs {truth}",
                total.value
            );
        }
        // A 95 % interval misses about 10 times in 200; the successive-difference
        // estimator is conservative on memory made of runs, so allow up to 20.
        assert!(misses <= 20, "{misses} misses in {trials}");
    }

    /// Page costs as a dump sees them: runs of zero pages (cost 0), incompressible pages
    /// (4096), text (~1500 ± 300) and kernel data (~900 ± 600), run lengths 1–2000.
    fn synthetic_memory(rng: &mut XorShift, pages: usize) -> Vec<f64> {
        let mut values = Vec::with_capacity(pages);
        while values.len() < pages {
            let run = 1 + (rng.next() % 2000) as usize;
            let kind = rng.next() % 4;
            for _ in 0..run.min(pages - values.len()) {
                let noise = (rng.next() % 1000) as f64 / 1000.0;
                values.push(match kind {
                    0 => 0.0,
                    1 => 4096.0,
                    2 => 1200.0 + 600.0 * noise,
                    _ => 300.0 + 1200.0 * noise,
                });
            }
        }
        values
    }

    #[test]
    fn strata_add_up() {
        let a = Total {
            value: 10.0,
            variance: 4.0,
        };
        let b = Total::exact(5.0);
        assert_eq!(
            a + b,
            Total {
                value: 15.0,
                variance: 4.0
            }
        );
        let (low, high) = (a + b).interval(0.0, 100.0);
        assert!(
            (low - (15.0 - 2.0 * Z_95)).abs() < 1e-9 && (high - (15.0 + 2.0 * Z_95)).abs() < 1e-9
        );
    }
}
