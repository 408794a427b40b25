//! The Gaussian mechanism on real numbers under zero-concentrated DP (Bun & Steinke 2016,
//! "Concentrated Differential Privacy: Simplifications, Extensions, and Lower Bounds").
//!
//! Releases `f(x) + Z` with `Z_i ~ N(0, sigma^2)` i.i.d. If `||f(x) - f(x')||_2 <= Delta`
//! for neighbours, the release is `rho`-zCDP with `rho = Delta^2 / (2 sigma^2)`
//! (Bun & Steinke 2016, Prop. 1.6).
//!
//! OpenDP realises it exactly on the lattice `2^k Z` with a discrete Gaussian sampler
//! (Canonne, Kamath & Steinke 2020); its privacy map rounds rho up.

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::make_gaussian;
use opendp::measures::ZeroConcentratedDivergence;
use opendp::metrics::L2Distance;
use rayon::prelude::*;

use super::{
    Charged, Mechanism, MechanismInfo, NOISE_CHUNK, Sensitivity, build_err, calibrate,
    check_sensitivity, sample_err,
};
use crate::dp::accuracy::{Accuracy, NoiseKind, noise_accuracy};
use crate::dp::budget::Cost;
use crate::dp::error::{DpError, Result, check_positive};

type GaussianMeas = opendp::core::Measurement<
    VectorDomain<AtomDomain<f64>>,
    L2Distance<f64>,
    ZeroConcentratedDivergence,
    Vec<f64>,
>;

/// Gaussian noise of standard deviation `sigma` on a vector of reals with L2 sensitivity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    sensitivity: f64,
    scale: f64,
}

impl Gaussian {
    /// Standard deviation `sigma` for L2 sensitivity `sensitivity`.
    pub fn new(sensitivity: f64, sigma: f64) -> Result<Gaussian> {
        check_sensitivity(sensitivity)?;
        check_positive("Gaussian sigma", sigma)?;
        Ok(Gaussian {
            sensitivity,
            scale: sigma,
        })
    }

    /// The smallest sigma (found from `sigma = Delta / sqrt(2 rho)`) whose OpenDP privacy
    /// map is at most `rho`.
    pub fn for_rho(sensitivity: f64, rho: f64) -> Result<Gaussian> {
        check_sensitivity(sensitivity)?;
        check_positive("rho", rho)?;
        if sensitivity == 0.0 {
            return Gaussian::new(0.0, 1.0);
        }
        let sigma = calibrate("rho", rho, sensitivity / (2.0 * rho).sqrt(), |s| {
            Gaussian::new(sensitivity, s)?.rho()
        })?;
        Gaussian::new(sensitivity, sigma)
    }

    /// Standard deviation sigma.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    fn measurement(&self) -> Result<GaussianMeas> {
        make_gaussian(
            VectorDomain::new(AtomDomain::<f64>::new_non_nan()),
            L2Distance::<f64>::default(),
            self.scale,
            None,
        )
        .map_err(build_err("Gaussian"))
    }

    /// Rho at this sensitivity, from OpenDP's privacy map.
    pub fn rho(&self) -> Result<f64> {
        self.measurement()?
            .map(&self.sensitivity)
            .map_err(|e| DpError::opendp("the Gaussian privacy map", e))
    }
}

impl Mechanism for Gaussian {
    type Input = [f64];
    type Output = Vec<f64>;

    fn info(&self) -> MechanismInfo {
        MechanismInfo {
            name: "gaussian".into(),
            noise: Some(NoiseKind::Gaussian),
            scale: self.scale,
            sensitivity: Sensitivity::new("l2", self.sensitivity),
            reference: "Bun & Steinke 2016".into(),
        }
    }

    fn cost(&self) -> Result<Cost> {
        Ok(Cost::rho(self.rho()?))
    }

    fn accuracy(&self, alpha: f64) -> Result<Option<Accuracy>> {
        noise_accuracy(NoiseKind::Gaussian, self.scale, alpha).map(Some)
    }

    fn sample(&self, input: &[f64], _charged: &Charged) -> Result<Vec<f64>> {
        if let Some((i, v)) = input.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(DpError::NonFinite {
                column: "input to the Gaussian mechanism".into(),
                row: i as u64 + 1,
                value: *v,
            });
        }
        let chunks: Vec<Vec<f64>> = input
            .par_chunks(NOISE_CHUNK)
            .map(|chunk| {
                self.measurement()?
                    .invoke(&chunk.to_vec())
                    .map_err(sample_err("Gaussian"))
            })
            .collect::<Result<_>>()?;
        Ok(chunks.concat())
    }
}
