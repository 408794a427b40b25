//! Noisy counts released only above a threshold: the stability-based histogram for keys
//! that are not known in advance (Korolova, Kenthapadi, Mishra & Ntoulas 2009, "Releasing
//! Search Queries and Clicks Privately"; Bun, Nissim & Stemmer 2016, "Simultaneous Private
//! Learning of Multiple Concepts"; analysis of Rogers 2023, "A Unifying Privacy Analysis
//! Framework for Unknown Domain Algorithms").
//!
//! Each key present in the data gets its exact count plus discrete Laplace (epsilon-DP) or
//! discrete Gaussian (rho-zCDP) noise, and is released only if the noisy count is at least
//! the threshold `T`. Keys absent from the data are never released, so no public list of
//! keys is needed. A person touching at most `l0` keys, changing each by at most `linf` and
//! all by at most `l1` (Laplace) / `l2` (Gaussian), costs the noise mechanism's epsilon or
//! rho plus `delta = 1 - (1 - P[Z >= T - linf])^{l0}`: the chance that a key only that
//! person has survives the threshold. OpenDP computes both with conservative tail bounds.
//!
//! **Off-by-one guard.** OpenDP 0.16 releases a key when its noisy count is `>= T` but its
//! privacy map bounds `P[Z > T - linf]`, missing the mass at exactly `T - linf` (opendp
//! issue #2922, open): its delta is too small (by a factor `e^{1/b}` for discrete Laplace).
//! pets therefore evaluates OpenDP's map at threshold `T - 1`, which bounds
//! `P[Z > T - 1 - linf] = P[Z >= T - linf]`, the true release probability, while releasing
//! with threshold `T`. The tests check the charged delta against the exact tail.
//!
//! **Nothing fails after the charge.** [`Mechanism::cost`] (which the session runs before
//! charging) also builds the measurement that releases at `T`, so a parameter OpenDP
//! refuses is refused before anything is charged, whatever the data. Sampling then cannot
//! fail on the data: OpenDP adds exact integer noise and saturates the result to `i64`.
//!
//! Under a zCDP budget, Laplace-noised thresholding costs `(epsilon, delta)`-DP, charged as
//! delta-approximate `epsilon^2 / 2`-zCDP (see [`crate::dp::budget`]; OpenDP has no map for
//! this cast, the proof is in `dp/proofs/approx_dp_to_zcdp.md`).

use std::collections::HashMap;

use opendp::domains::{AtomDomain, MapDomain};
use opendp::measurements::{make_gaussian_threshold, make_laplace_threshold};
use opendp::measures::{Approximate, MaxDivergence, ZeroConcentratedDivergence};
use opendp::metrics::{AbsoluteDistance, L0PInfDistance};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    Charged, Mechanism, MechanismInfo, NOISE_CHUNK, Sensitivity, build_err, calibrate,
    check_sensitivity, sample_err,
};
use crate::dp::accuracy::{Accuracy, NoiseKind, noise_accuracy};
use crate::dp::budget::Cost;
use crate::dp::error::{DpError, Result, check_positive};

/// Noise added before thresholding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdNoise {
    /// Discrete Laplace, accounted in (epsilon, delta)-DP.
    Laplace,
    /// Discrete Gaussian, accounted in delta-approximate rho-zCDP.
    Gaussian,
}

/// Thresholded noisy counts over keys `0..n` (the caller keeps the key labels).
/// Proof of the cost: [`crate::dp::proofs::threshold`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdedCounts {
    noise: ThresholdNoise,
    scale: f64,
    threshold: i64,
    l0: u32,
    lp: f64,
    linf: f64,
}

type Dom = MapDomain<AtomDomain<u64>, AtomDomain<i64>>;

impl ThresholdedCounts {
    /// Noise `noise` of `scale`, threshold `threshold`, for a person touching at most `l0`
    /// keys, changing all by at most `lp` (L1 for Laplace, L2 for Gaussian) and one by at
    /// most `linf`.
    pub fn new(
        noise: ThresholdNoise,
        scale: f64,
        threshold: i64,
        l0: u32,
        lp: f64,
        linf: f64,
    ) -> Result<ThresholdedCounts> {
        check_positive("threshold noise scale", scale)?;
        check_sensitivity(lp)?;
        check_sensitivity(linf)?;
        if l0 == 0 {
            return Err(DpError::invalid(
                "l0",
                0.0,
                "a person touches at least one key",
            ));
        }
        if (threshold as f64) < linf + 1.0 {
            return Err(DpError::invalid(
                "threshold",
                threshold as f64,
                format!("it must exceed the per-key sensitivity {linf}"),
            ));
        }
        Ok(ThresholdedCounts {
            noise,
            scale,
            threshold,
            l0,
            lp,
            linf,
        })
    }

    /// Calibrate to `share`: the scale meets its epsilon (Laplace) or rho (Gaussian), then
    /// the smallest threshold meets its delta (which must be above zero).
    pub fn for_cost(
        noise: ThresholdNoise,
        l0: u32,
        lp: f64,
        linf: f64,
        share: &Cost,
    ) -> Result<ThresholdedCounts> {
        share.validate()?;
        let delta = share.delta();
        if delta <= 0.0 {
            return Err(DpError::invalid(
                "delta",
                delta,
                "releasing keys not known in advance needs delta > 0 (the chance a key only \
                 one person has is released); give the query a delta, e.g. 1e-8",
            ));
        }
        let main = share.main();
        check_positive(share.main_name(), main)?;
        let ceiling = i64::MAX / 4;
        let initial = match noise {
            ThresholdNoise::Laplace => lp.max(1e-12) / main,
            ThresholdNoise::Gaussian => lp.max(1e-12) / (2.0 * main).sqrt(),
        };
        let scale = calibrate(share.main_name(), main, initial, |s| {
            Ok(ThresholdedCounts::new(noise, s, ceiling, l0, lp, linf)?
                .cost_pair()?
                .0)
        })?;
        // Smallest threshold whose delta fits (delta decreases in the threshold).
        let fits = |t: i64| -> Result<bool> {
            Ok(ThresholdedCounts::new(noise, scale, t, l0, lp, linf)?
                .cost_pair()?
                .1
                <= delta)
        };
        let mut lo = linf.ceil() as i64 + 1;
        let mut hi = lo;
        while !fits(hi)? {
            if hi >= ceiling / 2 {
                return Err(DpError::query(
                    "thresholded counts",
                    "no threshold meets this delta",
                ));
            }
            hi *= 2;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if fits(mid)? {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        ThresholdedCounts::new(noise, scale, hi, l0, lp, linf)
    }

    /// The threshold `T`.
    pub fn threshold(&self) -> i64 {
        self.threshold
    }

    /// Noise scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    fn noise_kind(&self) -> NoiseKind {
        match self.noise {
            ThresholdNoise::Laplace => NoiseKind::DiscreteLaplace,
            ThresholdNoise::Gaussian => NoiseKind::DiscreteGaussian,
        }
    }

    /// (epsilon or rho, delta) from OpenDP's privacy map, evaluated at threshold `T - 1`
    /// (see the module docs: OpenDP 0.16's map at `T` misses the mass at the threshold).
    fn cost_pair(&self) -> Result<(f64, f64)> {
        let d_in = (self.l0, self.lp, self.linf);
        let map_threshold = self.threshold - 1;
        let map_err = |e| DpError::opendp("the threshold privacy map", e);
        match self.noise {
            ThresholdNoise::Laplace => {
                make_laplace_threshold::<Dom, _, Approximate<MaxDivergence>>(
                    MapDomain::new(AtomDomain::default(), AtomDomain::default()),
                    L0PInfDistance::<1, _>(AbsoluteDistance::<f64>::default()),
                    self.scale,
                    map_threshold,
                    None,
                )
                .map_err(build_err("Laplace threshold"))?
                .map(&d_in)
                .map_err(map_err)
            }
            ThresholdNoise::Gaussian => {
                make_gaussian_threshold::<Dom, _, Approximate<ZeroConcentratedDivergence>>(
                    MapDomain::new(AtomDomain::default(), AtomDomain::default()),
                    L0PInfDistance::<2, _>(AbsoluteDistance::<f64>::default()),
                    self.scale,
                    map_threshold,
                    None,
                )
                .map_err(build_err("Gaussian threshold"))?
                .map(&d_in)
                .map_err(map_err)
            }
        }
    }

    /// Build the measurement that releases at `T` (data-independent; run before charging).
    fn check_release_builds(&self) -> Result<()> {
        self.noise_chunk(HashMap::new()).map(|_| ())
    }

    fn noise_chunk(&self, chunk: HashMap<u64, i64>) -> Result<HashMap<u64, i64>> {
        match self.noise {
            ThresholdNoise::Laplace => {
                make_laplace_threshold::<Dom, _, Approximate<MaxDivergence>>(
                    MapDomain::new(AtomDomain::default(), AtomDomain::default()),
                    L0PInfDistance::<1, _>(AbsoluteDistance::<f64>::default()),
                    self.scale,
                    self.threshold,
                    None,
                )
                .map_err(build_err("Laplace threshold"))?
                .invoke(&chunk)
                .map_err(sample_err("thresholded Laplace"))
            }
            ThresholdNoise::Gaussian => {
                make_gaussian_threshold::<Dom, _, Approximate<ZeroConcentratedDivergence>>(
                    MapDomain::new(AtomDomain::default(), AtomDomain::default()),
                    L0PInfDistance::<2, _>(AbsoluteDistance::<f64>::default()),
                    self.scale,
                    self.threshold,
                    None,
                )
                .map_err(build_err("Gaussian threshold"))?
                .invoke(&chunk)
                .map_err(sample_err("thresholded Gaussian"))
            }
        }
    }
}

impl Mechanism for ThresholdedCounts {
    /// Exact counts of the keys present (`(key, count)`, count > 0).
    type Input = [(u64, i64)];
    /// The keys released with their noisy counts, sorted by key.
    type Output = Vec<(u64, i64)>;

    fn info(&self) -> MechanismInfo {
        let (name, metric) = match self.noise {
            ThresholdNoise::Laplace => ("laplace_threshold", "l0_l1_linf"),
            ThresholdNoise::Gaussian => ("gaussian_threshold", "l0_l2_linf"),
        };
        MechanismInfo {
            name: name.into(),
            noise: Some(self.noise_kind()),
            scale: self.scale,
            sensitivity: Sensitivity {
                metric: metric.into(),
                value: self.lp,
                l0: Some(u64::from(self.l0)),
                linf: Some(self.linf),
            },
            reference: "Korolova et al. 2009; Bun, Nissim & Stemmer 2016; Rogers 2023".into(),
        }
    }

    fn cost(&self) -> Result<Cost> {
        // Runs before the charge: a refusal to build the release is data-independent here.
        self.check_release_builds()?;
        let (main, delta) = self.cost_pair()?;
        Ok(match self.noise {
            ThresholdNoise::Laplace => Cost::epsilon(main).with_delta(delta),
            ThresholdNoise::Gaussian => Cost::rho(main).with_delta(delta),
        })
    }

    fn accuracy(&self, alpha: f64) -> Result<Option<Accuracy>> {
        let mut a = noise_accuracy(self.noise_kind(), self.scale, alpha)?;
        a.statement = format!(
            "{}; keys whose noisy count fell below {} are not released",
            a.statement, self.threshold
        );
        Ok(Some(a))
    }

    fn sample(&self, input: &[(u64, i64)], _charged: &Charged) -> Result<Vec<(u64, i64)>> {
        let mut out: Vec<(u64, i64)> = input
            .par_chunks(NOISE_CHUNK)
            .map(|chunk| {
                let released = self.noise_chunk(chunk.iter().copied().collect())?;
                Ok(released.into_iter().collect::<Vec<_>>())
            })
            .collect::<Result<Vec<_>>>()?
            .concat();
        out.sort_unstable_by_key(|p| p.0);
        Ok(out)
    }
}
