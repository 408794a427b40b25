//! Integer-valued noise for counts: the discrete Laplace and discrete Gaussian mechanisms.
//!
//! - **Discrete Laplace** (two-sided geometric; Ghosh, Roughgarden & Sundararajan 2009):
//!   `P[Z = z] = (1 - e^{-1/b}) / (1 + e^{-1/b}) * e^{-|z|/b}` on the integers. With L1
//!   sensitivity `Delta` it is `epsilon`-DP with `epsilon = Delta / b` (the same map as
//!   continuous Laplace, Dwork et al. 2006).
//! - **Discrete Gaussian** (Canonne, Kamath & Steinke 2020, "The Discrete Gaussian for
//!   Differential Privacy"): `P[Z = z] ∝ e^{-z^2 / (2 sigma^2)}` on the integers. With L2
//!   sensitivity `Delta` it is `rho`-zCDP with `rho = Delta^2 / (2 sigma^2)` (CKS20, Thm. 4).
//!
//! Both are sampled exactly (no floating point) by OpenDP's CKS20 samplers, so released counts
//! are integers with no floating-point side channel (Mironov 2012).

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::{make_gaussian, make_laplace};
use opendp::measures::{MaxDivergence, ZeroConcentratedDivergence};
use opendp::metrics::{L1Distance, L2Distance};
use rayon::prelude::*;

use super::{
    Charged, Mechanism, MechanismInfo, NOISE_CHUNK, Sensitivity, build_err, calibrate,
    check_sensitivity, sample_err,
};
use crate::dp::accuracy::{Accuracy, NoiseKind, noise_accuracy};
use crate::dp::budget::Cost;
use crate::dp::error::{DpError, Result, check_positive};

type DLapMeas = opendp::core::Measurement<
    VectorDomain<AtomDomain<i64>>,
    L1Distance<f64>,
    MaxDivergence,
    Vec<i64>,
>;
type DGaussMeas = opendp::core::Measurement<
    VectorDomain<AtomDomain<i64>>,
    L2Distance<f64>,
    ZeroConcentratedDivergence,
    Vec<i64>,
>;

/// Discrete Laplace noise of scale `b` on integer vectors with L1 sensitivity `Delta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiscreteLaplace {
    sensitivity: f64,
    scale: f64,
}

impl DiscreteLaplace {
    /// Scale `b` for L1 sensitivity `sensitivity`.
    pub fn new(sensitivity: f64, scale: f64) -> Result<DiscreteLaplace> {
        check_sensitivity(sensitivity)?;
        check_positive("discrete Laplace scale", scale)?;
        Ok(DiscreteLaplace { sensitivity, scale })
    }

    /// The smallest scale (from `b = Delta / epsilon`) whose OpenDP map is at most `epsilon`.
    pub fn for_epsilon(sensitivity: f64, epsilon: f64) -> Result<DiscreteLaplace> {
        check_sensitivity(sensitivity)?;
        check_positive("epsilon", epsilon)?;
        if sensitivity == 0.0 {
            return DiscreteLaplace::new(0.0, 1.0);
        }
        let b = calibrate("epsilon", epsilon, sensitivity / epsilon, |b| {
            DiscreteLaplace::new(sensitivity, b)?.epsilon()
        })?;
        DiscreteLaplace::new(sensitivity, b)
    }

    /// Scale `b`.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    fn measurement(&self) -> Result<DLapMeas> {
        make_laplace(
            VectorDomain::new(AtomDomain::<i64>::default()),
            L1Distance::<f64>::default(),
            self.scale,
            None,
        )
        .map_err(build_err("discrete Laplace"))
    }

    /// Epsilon at this sensitivity, from OpenDP's privacy map.
    pub fn epsilon(&self) -> Result<f64> {
        self.measurement()?
            .map(&self.sensitivity)
            .map_err(|e| DpError::opendp("the discrete Laplace privacy map", e))
    }
}

impl Mechanism for DiscreteLaplace {
    type Input = [i64];
    type Output = Vec<i64>;

    fn info(&self) -> MechanismInfo {
        MechanismInfo {
            name: "discrete_laplace".into(),
            noise: Some(NoiseKind::DiscreteLaplace),
            scale: self.scale,
            sensitivity: Sensitivity::new("l1", self.sensitivity),
            reference:
                "Ghosh, Roughgarden & Sundararajan 2009; sampler of Canonne, Kamath & Steinke 2020"
                    .into(),
        }
    }

    fn cost(&self) -> Result<Cost> {
        Ok(Cost::epsilon(self.epsilon()?))
    }

    fn accuracy(&self, alpha: f64) -> Result<Option<Accuracy>> {
        noise_accuracy(NoiseKind::DiscreteLaplace, self.scale, alpha).map(Some)
    }

    fn sample(&self, input: &[i64], _charged: &Charged) -> Result<Vec<i64>> {
        let chunks: Vec<Vec<i64>> = input
            .par_chunks(NOISE_CHUNK)
            .map(|chunk| {
                self.measurement()?
                    .invoke(&chunk.to_vec())
                    .map_err(sample_err("discrete Laplace"))
            })
            .collect::<Result<_>>()?;
        Ok(chunks.concat())
    }
}

/// Discrete Gaussian noise of scale `sigma` on integer vectors with L2 sensitivity `Delta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiscreteGaussian {
    sensitivity: f64,
    scale: f64,
}

impl DiscreteGaussian {
    /// Scale `sigma` for L2 sensitivity `sensitivity`.
    pub fn new(sensitivity: f64, sigma: f64) -> Result<DiscreteGaussian> {
        check_sensitivity(sensitivity)?;
        check_positive("discrete Gaussian sigma", sigma)?;
        Ok(DiscreteGaussian {
            sensitivity,
            scale: sigma,
        })
    }

    /// The smallest sigma (from `sigma = Delta / sqrt(2 rho)`) whose OpenDP map is at most `rho`.
    pub fn for_rho(sensitivity: f64, rho: f64) -> Result<DiscreteGaussian> {
        check_sensitivity(sensitivity)?;
        check_positive("rho", rho)?;
        if sensitivity == 0.0 {
            return DiscreteGaussian::new(0.0, 1.0);
        }
        let s = calibrate("rho", rho, sensitivity / (2.0 * rho).sqrt(), |s| {
            DiscreteGaussian::new(sensitivity, s)?.rho()
        })?;
        DiscreteGaussian::new(sensitivity, s)
    }

    /// Scale sigma.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    fn measurement(&self) -> Result<DGaussMeas> {
        make_gaussian(
            VectorDomain::new(AtomDomain::<i64>::default()),
            L2Distance::<f64>::default(),
            self.scale,
            None,
        )
        .map_err(build_err("discrete Gaussian"))
    }

    /// Rho at this sensitivity, from OpenDP's privacy map.
    pub fn rho(&self) -> Result<f64> {
        self.measurement()?
            .map(&self.sensitivity)
            .map_err(|e| DpError::opendp("the discrete Gaussian privacy map", e))
    }

    /// `len` independent draws of this discrete Gaussian, from OpenDP's sampler: one
    /// party's *share* of a distributed noise (`crate::federated::noise`). It is not a
    /// release on its own: it is added to a value that only leaves the party masked or
    /// secret-shared, and the federated job charges the budget of the sum before any
    /// party draws.
    #[cfg(feature = "federated")]
    pub(crate) fn noise_share(&self, len: usize) -> Result<Vec<i64>> {
        self.sample(&vec![0; len], &Charged::new())
    }
}

impl Mechanism for DiscreteGaussian {
    type Input = [i64];
    type Output = Vec<i64>;

    fn info(&self) -> MechanismInfo {
        MechanismInfo {
            name: "discrete_gaussian".into(),
            noise: Some(NoiseKind::DiscreteGaussian),
            scale: self.scale,
            sensitivity: Sensitivity::new("l2", self.sensitivity),
            reference: "Canonne, Kamath & Steinke 2020".into(),
        }
    }

    fn cost(&self) -> Result<Cost> {
        Ok(Cost::rho(self.rho()?))
    }

    fn accuracy(&self, alpha: f64) -> Result<Option<Accuracy>> {
        noise_accuracy(NoiseKind::DiscreteGaussian, self.scale, alpha).map(Some)
    }

    fn sample(&self, input: &[i64], _charged: &Charged) -> Result<Vec<i64>> {
        let chunks: Vec<Vec<i64>> = input
            .par_chunks(NOISE_CHUNK)
            .map(|chunk| {
                self.measurement()?
                    .invoke(&chunk.to_vec())
                    .map_err(sample_err("discrete Gaussian"))
            })
            .collect::<Result<_>>()?;
        Ok(chunks.concat())
    }
}
