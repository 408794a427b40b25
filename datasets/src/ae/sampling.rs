//! Random-number plumbing: keyed ChaCha streams and the few samplers the generator needs.
//!
//! Every random draw of the generator comes from a ChaCha8 stream picked by a *key* and an
//! *index*: the key is derived from the user's seed and a domain tag ("attendance",
//! "patient"), the index is the row or patient number. A row's values therefore depend only
//! on `(seed, row)` and a patient's only on `(seed, patient)`, never on how rows are split
//! into batches or on how many threads run.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Domain tags mixed into the seed, one per independent family of streams.
pub(crate) mod domain {
    /// Attendance rows.
    pub const ATTENDANCE: u64 = 0x4154_5445_4e44_414e;
    /// Patients.
    pub const PATIENT: u64 = 0x5041_5449_454e_5453;
    /// Seed-level constants (identifier permutations).
    pub const CONSTANTS: u64 = 0x434f_4e53_5441_4e54;
}

/// SplitMix64 step: a fast, well-mixed bijection on `u64` used to expand seeds into keys.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 256-bit ChaCha key derived from a seed and a domain tag.
pub(crate) fn derive_key(seed: u64, domain: u64) -> [u8; 32] {
    let mut state = seed ^ domain.rotate_left(17);
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    key
}

/// The ChaCha8 stream number `index` under `key`.
#[inline]
pub(crate) fn stream(key: &[u8; 32], index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::from_seed(*key);
    rng.set_stream(index);
    rng
}

/// A uniform draw in `[0, 1)` with 53 random bits.
#[inline]
pub(crate) fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n` (`n >= 1`), by multiply-shift (bias below 2^-32 · n).
#[inline]
pub(crate) fn below<R: Rng + ?Sized>(rng: &mut R, n: u32) -> u32 {
    ((u64::from(rng.next_u32()) * u64::from(n)) >> 32) as u32
}

/// True with probability `p`.
#[inline]
pub(crate) fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    unit(rng) < p
}

/// A standard normal draw.
#[inline]
pub(crate) fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    StandardNormal.sample(rng)
}

/// An exponential draw with the given mean.
#[inline]
pub(crate) fn exponential<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> f64 {
    -mean * (1.0 - unit(rng)).ln()
}

/// A log-normal draw with the given median and log-scale standard deviation.
#[inline]
pub(crate) fn lognormal<R: Rng + ?Sized>(rng: &mut R, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// A Poisson draw by inversion from one uniform (fine for the small means used here).
pub(crate) fn poisson<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> u32 {
    let u = unit(rng);
    let mut p = (-mean).exp();
    let mut cdf = p;
    let mut k = 0u32;
    while u > cdf && k < 200 {
        k += 1;
        p *= mean / f64::from(k);
        cdf += p;
    }
    k
}

/// The logistic function.
#[inline]
pub(crate) fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A discrete distribution over `0..n` given by non-negative weights, sampled by binary
/// search on the cumulative sums.
#[derive(Debug, Clone)]
pub(crate) struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    /// A distribution proportional to `weights`; at least one weight must be positive.
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative: Vec<f64> = weights
            .into_iter()
            .map(|w| {
                debug_assert!(w >= 0.0 && w.is_finite(), "bad weight {w}");
                total += w;
                total
            })
            .collect();
        assert!(total > 0.0, "a weighted table needs a positive weight");
        let cumulative = cumulative.into_iter().map(|c| c / total).collect();
        Weighted { cumulative }
    }

    /// Probability of outcome `i`.
    pub(crate) fn probability(&self, i: usize) -> f64 {
        let before = if i == 0 { 0.0 } else { self.cumulative[i - 1] };
        self.cumulative[i] - before
    }

    /// The outcome at uniform position `u` in `[0, 1)`.
    #[inline]
    pub(crate) fn at(&self, u: f64) -> usize {
        let i = self.cumulative.partition_point(|&c| c <= u);
        // Guard against rounding in the last cumulative sum (it may be 0.999...).
        let mut i = i.min(self.cumulative.len() - 1);
        // Never return a zero-weight outcome because of that guard.
        while i > 0 && self.probability(i) == 0.0 {
            i -= 1;
        }
        i
    }

    /// A random outcome.
    #[inline]
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        self.at(unit(rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let key = derive_key(7, domain::ATTENDANCE);
        let a: Vec<u64> = (0..4).map(|_| stream(&key, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(stream(&key, 3).next_u64(), stream(&key, 4).next_u64());
        let other = derive_key(7, domain::PATIENT);
        assert_ne!(stream(&key, 3).next_u64(), stream(&other, 3).next_u64());
        assert_ne!(
            derive_key(7, domain::PATIENT),
            derive_key(8, domain::PATIENT)
        );
    }

    #[test]
    fn weighted_respects_weights() {
        let w = Weighted::new([1.0, 0.0, 3.0]);
        assert_eq!(w.at(0.0), 0);
        assert_eq!(w.at(0.2499), 0);
        assert_eq!(w.at(0.25), 2);
        assert_eq!(w.at(0.999_999_999), 2);
        assert!((w.probability(2) - 0.75).abs() < 1e-12);
        let mut rng = stream(&derive_key(1, 2), 0);
        let n = 20_000;
        let hits = (0..n).filter(|_| w.sample(&mut rng) == 0).count();
        assert!((hits as f64 / n as f64 - 0.25).abs() < 0.02);
    }

    #[test]
    fn samplers_have_the_right_means() {
        let mut rng = stream(&derive_key(2, 3), 0);
        let n = 50_000;
        let mean_p: f64 = (0..n)
            .map(|_| f64::from(poisson(&mut rng, 3.0)))
            .sum::<f64>()
            / n as f64;
        assert!((mean_p - 3.0).abs() < 0.05, "{mean_p}");
        let mean_e: f64 = (0..n).map(|_| exponential(&mut rng, 10.0)).sum::<f64>() / n as f64;
        assert!((mean_e - 10.0).abs() < 0.3, "{mean_e}");
        let below_ok = (0..1000).all(|_| below(&mut rng, 7) < 7);
        assert!(below_ok);
    }
}
