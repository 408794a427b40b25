//! Private selection: the exponential mechanism and report-noisy-max.
//!
//! Given scores `u(x, r)` for candidates `r` (higher is better) whose values change by at
//! most `Delta` (L-infinity) between neighbours:
//!
//! - under **epsilon-DP**, OpenDP's permute-and-flip (McKenna & Sheldon 2020), which equals
//!   report-noisy-max with exponential noise (Ding et al. 2021) and is never worse than the
//!   exponential mechanism: visit candidates in random order and stop at `r` with probability
//!   `exp((u_r - u_max) / s)`. With scale `s` it is `epsilon`-DP,
//!   `epsilon = 2 Delta / s` (`Delta / s` when scores are monotonic: all move the same way).
//! - under **zCDP**, the exponential mechanism (McSherry & Talwar 2007),
//!   `P[r] ∝ exp(u_r / s)`, sampled as report-noisy-max with Gumbel noise; it is
//!   `rho`-zCDP with `rho = (d / s)^2 / 8`, `d = 2 Delta` (`Delta` if monotonic)
//!   (Cesar & Rogers 2021, bounded range).
//!
//! Utility (both): `P[u_max - u_out >= s ln(|R| / beta)] <= beta`.

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::make_noisy_max;
use opendp::measures::{MaxDivergence, ZeroConcentratedDivergence};
use opendp::metrics::LInfDistance;

use super::{
    Charged, Mechanism, MechanismInfo, Sensitivity, build_err, calibrate, check_sensitivity,
    sample_err,
};
use crate::dp::accuracy::{Accuracy, check_alpha};
use crate::dp::budget::{Cost, PrivacyMeasure};
use crate::dp::error::{DpError, Result, check_positive};

/// Private selection of the best-scoring candidate (index into the score vector).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selection {
    measure: PrivacyMeasure,
    sensitivity: f64,
    scale: f64,
    monotonic: bool,
    candidates: usize,
}

impl Selection {
    /// Selection among `candidates` with score sensitivity `sensitivity` and scale `scale`,
    /// accounted in `measure` (permute-and-flip under DP, exponential mechanism under zCDP).
    pub fn new(
        measure: PrivacyMeasure,
        sensitivity: f64,
        scale: f64,
        monotonic: bool,
        candidates: usize,
    ) -> Result<Selection> {
        check_sensitivity(sensitivity)?;
        check_positive("selection scale", scale)?;
        if candidates == 0 {
            return Err(DpError::query(
                "private selection",
                "there are no candidates to choose from",
            ));
        }
        Ok(Selection {
            measure,
            sensitivity,
            scale,
            monotonic,
            candidates,
        })
    }

    /// The smallest scale whose OpenDP privacy map fits `share` (epsilon or rho).
    pub fn for_cost(
        sensitivity: f64,
        monotonic: bool,
        candidates: usize,
        share: &Cost,
    ) -> Result<Selection> {
        share.validate()?;
        let measure = share.measure();
        let d = if monotonic {
            sensitivity
        } else {
            2.0 * sensitivity
        };
        let target = share.main();
        check_positive(share.main_name(), target)?;
        if sensitivity == 0.0 {
            return Selection::new(measure, 0.0, 1.0, monotonic, candidates);
        }
        let initial = match measure {
            PrivacyMeasure::Dp => d / target,
            PrivacyMeasure::Zcdp => d / (8.0 * target).sqrt(),
        };
        let s = calibrate(share.main_name(), target, initial, |s| {
            Selection::new(measure, sensitivity, s, monotonic, candidates)?.cost_main()
        })?;
        Selection::new(measure, sensitivity, s, monotonic, candidates)
    }

    /// Scale `s`.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    fn domain() -> VectorDomain<AtomDomain<f64>> {
        VectorDomain::new(AtomDomain::<f64>::new_non_nan())
    }

    fn cost_main(&self) -> Result<f64> {
        let metric = LInfDistance::<f64>::new(self.monotonic);
        let map_err = |e| DpError::opendp("the selection privacy map", e);
        match self.measure {
            PrivacyMeasure::Dp => {
                make_noisy_max(Self::domain(), metric, MaxDivergence, self.scale, false)
                    .map_err(build_err("permute-and-flip"))?
                    .map(&self.sensitivity)
                    .map_err(map_err)
            }
            PrivacyMeasure::Zcdp => make_noisy_max(
                Self::domain(),
                metric,
                ZeroConcentratedDivergence,
                self.scale,
                false,
            )
            .map_err(build_err("exponential mechanism"))?
            .map(&self.sensitivity)
            .map_err(map_err),
        }
    }

    /// The utility bound at `alpha`: with probability `>= 1 - alpha` the chosen candidate's
    /// score is within `s ln(|R| / alpha)` of the best.
    pub fn score_tolerance(&self, alpha: f64) -> Result<f64> {
        check_alpha(alpha)?;
        Ok(self.scale * (self.candidates as f64 / alpha).ln())
    }
}

impl Mechanism for Selection {
    type Input = [f64];
    type Output = usize;

    fn info(&self) -> MechanismInfo {
        let (name, reference) = match self.measure {
            PrivacyMeasure::Dp => (
                "permute_and_flip",
                "McKenna & Sheldon 2020 (report-noisy-max with exponential noise)",
            ),
            PrivacyMeasure::Zcdp => (
                "exponential_mechanism",
                "McSherry & Talwar 2007 (as report-noisy-max with Gumbel noise)",
            ),
        };
        MechanismInfo {
            name: name.into(),
            noise: None,
            scale: self.scale,
            sensitivity: Sensitivity::new(
                if self.monotonic {
                    "linf_monotonic"
                } else {
                    "linf"
                },
                self.sensitivity,
            ),
            reference: reference.into(),
        }
    }

    fn cost(&self) -> Result<Cost> {
        let m = self.cost_main()?;
        Ok(match self.measure {
            PrivacyMeasure::Dp => Cost::epsilon(m),
            PrivacyMeasure::Zcdp => Cost::rho(m),
        })
    }

    fn accuracy(&self, alpha: f64) -> Result<Option<Accuracy>> {
        let t = self.score_tolerance(alpha)?;
        Ok(Some(Accuracy {
            alpha,
            half_width: t,
            statement: format!(
                "the chosen candidate's score is within {t} of the best score with probability >= {}",
                1.0 - alpha
            ),
        }))
    }

    fn sample(&self, scores: &[f64], _charged: &Charged) -> Result<usize> {
        if scores.len() != self.candidates {
            return Err(DpError::query(
                "private selection",
                format!(
                    "{} scores given for {} candidates",
                    scores.len(),
                    self.candidates
                ),
            ));
        }
        if let Some((i, v)) = scores.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(DpError::NonFinite {
                column: "selection scores".into(),
                row: i as u64 + 1,
                value: *v,
            });
        }
        let metric = LInfDistance::<f64>::new(self.monotonic);
        let x = scores.to_vec();
        match self.measure {
            PrivacyMeasure::Dp => {
                make_noisy_max(Self::domain(), metric, MaxDivergence, self.scale, false)
                    .map_err(build_err("permute-and-flip"))?
                    .invoke(&x)
                    .map_err(sample_err("selection"))
            }
            PrivacyMeasure::Zcdp => make_noisy_max(
                Self::domain(),
                metric,
                ZeroConcentratedDivergence,
                self.scale,
                false,
            )
            .map_err(build_err("exponential mechanism"))?
            .invoke(&x)
            .map_err(sample_err("selection")),
        }
    }
}
