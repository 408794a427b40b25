//! The Laplace mechanism on real numbers (Dwork, McSherry, Nissim & Smith 2006,
//! "Calibrating Noise to Sensitivity in Private Data Analysis").
//!
//! Releases `f(x) + Z` with `Z_i ~ Laplace(b)` i.i.d., density `e^{-|z|/b} / (2b)`. If
//! `||f(x) - f(x')||_1 <= Delta` for neighbours, the release is `epsilon`-DP with
//! `epsilon = Delta / b`.
//!
//! OpenDP realises it exactly on the lattice `2^k Z` (k the smallest float exponent, so no
//! rounding of the input), with a discrete Laplace sampler (Canonne, Kamath & Steinke 2020);
//! its privacy map adds the (here zero) rounding distance and rounds epsilon up.
//!
//! **Order of checks.** [`crate::dp::Session::release`] charges before it samples, so any
//! check on the *input* that can fail must run before the release: call
//! [`Laplace::check_input`] first (a non-finite input, e.g. a float sum that overflowed,
//! means the stated sensitivity does not hold, and finding that out after the charge would
//! make the error itself an unaccounted, data-dependent output). For finite inputs
//! sampling cannot fail on the data: a noisy value beyond the `f64` range (an input within
//! a few noise scales of `f64::MAX`) is saturated to `±f64::MAX`, a post-processing of
//! OpenDP's exact noisy value, instead of surfacing as an infinity later. pets' own sums
//! do not use this mechanism: they are fixed-point with integer noise
//! ([`crate::dp::queries::moments`]).

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::make_laplace;
use opendp::measures::MaxDivergence;
use opendp::metrics::L1Distance;
use rayon::prelude::*;

use super::{
    Charged, Mechanism, MechanismInfo, NOISE_CHUNK, Sensitivity, build_err, calibrate,
    check_sensitivity, sample_err,
};
use crate::dp::accuracy::{Accuracy, NoiseKind, noise_accuracy};
use crate::dp::budget::Cost;
use crate::dp::error::{DpError, Result, check_positive};

type LaplaceMeas = opendp::core::Measurement<
    VectorDomain<AtomDomain<f64>>,
    L1Distance<f64>,
    MaxDivergence,
    Vec<f64>,
>;

/// Laplace noise of scale `b` on a vector of reals with L1 sensitivity `Delta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Laplace {
    sensitivity: f64,
    scale: f64,
}

impl Laplace {
    /// Noise scale `b` for L1 sensitivity `sensitivity`.
    pub fn new(sensitivity: f64, scale: f64) -> Result<Laplace> {
        check_sensitivity(sensitivity)?;
        check_positive("Laplace scale", scale)?;
        Ok(Laplace { sensitivity, scale })
    }

    /// The smallest scale (found from `b = Delta / epsilon`) whose OpenDP privacy map is at
    /// most `epsilon`.
    pub fn for_epsilon(sensitivity: f64, epsilon: f64) -> Result<Laplace> {
        check_sensitivity(sensitivity)?;
        check_positive("epsilon", epsilon)?;
        if sensitivity == 0.0 {
            return Laplace::new(0.0, 1.0);
        }
        let scale = calibrate("epsilon", epsilon, sensitivity / epsilon, |b| {
            Laplace::new(sensitivity, b)?.epsilon()
        })?;
        Laplace::new(sensitivity, scale)
    }

    /// Noise scale `b`.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// L1 sensitivity.
    pub fn sensitivity(&self) -> f64 {
        self.sensitivity
    }

    fn measurement(&self) -> Result<LaplaceMeas> {
        make_laplace(
            VectorDomain::new(AtomDomain::<f64>::new_non_nan()),
            L1Distance::<f64>::default(),
            self.scale,
            None,
        )
        .map_err(build_err("Laplace"))
    }

    /// Check an input before releasing it: every value finite. Run this before
    /// [`crate::dp::Session::release`] so a bad input is refused before the charge.
    pub fn check_input(input: &[f64]) -> Result<()> {
        match input.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            Some((i, v)) => Err(DpError::NonFinite {
                column: "input to the Laplace mechanism".into(),
                row: i as u64 + 1,
                value: *v,
            }),
            None => Ok(()),
        }
    }

    /// Epsilon at this sensitivity, from OpenDP's privacy map.
    pub fn epsilon(&self) -> Result<f64> {
        self.measurement()?
            .map(&self.sensitivity)
            .map_err(|e| DpError::opendp("the Laplace privacy map", e))
    }
}

impl Mechanism for Laplace {
    type Input = [f64];
    type Output = Vec<f64>;

    fn info(&self) -> MechanismInfo {
        MechanismInfo {
            name: "laplace".into(),
            noise: Some(NoiseKind::Laplace),
            scale: self.scale,
            sensitivity: Sensitivity::new("l1", self.sensitivity),
            reference: "Dwork, McSherry, Nissim & Smith 2006".into(),
        }
    }

    fn cost(&self) -> Result<Cost> {
        Ok(Cost::epsilon(self.epsilon()?))
    }

    fn accuracy(&self, alpha: f64) -> Result<Option<Accuracy>> {
        noise_accuracy(NoiseKind::Laplace, self.scale, alpha).map(Some)
    }

    fn sample(&self, input: &[f64], _charged: &Charged) -> Result<Vec<f64>> {
        // Last line of defence only: callers run `check_input` before the charge.
        Laplace::check_input(input)?;
        let chunks: Vec<Vec<f64>> = input
            .par_chunks(NOISE_CHUNK)
            .map(|chunk| {
                self.measurement()?
                    .invoke(&chunk.to_vec())
                    .map_err(sample_err("Laplace"))
            })
            .collect::<Result<_>>()?;
        // Saturate instead of releasing an infinity (post-processing).
        Ok(chunks
            .concat()
            .into_iter()
            .map(|v| v.clamp(f64::MIN, f64::MAX))
            .collect())
    }
}
