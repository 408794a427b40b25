//! Noise mechanisms: a small typed API over OpenDP's measurements.
//!
//! Each mechanism is a plain value holding its parameters (sensitivity, noise scale). It
//! reports its privacy [`Cost`] **from OpenDP's privacy map** (which rounds conservatively:
//! every map is computed in exact or outward-rounded arithmetic), its [`Accuracy`], and
//! draws noise **only from OpenDP's samplers** (OpenSSL's CSPRNG underneath).
//!
//! Noise is drawn only through [`crate::dp::Session::release`], which charges the budget
//! first: [`Mechanism::sample`] requires a [`Charged`] token that only a session can make.
//! Synthetic data and federated aggregation reuse mechanisms the same way.
//!
//! | module | mechanism | measure | paper |
//! |---|---|---|---|
//! | [`laplace`] | Laplace on reals | epsilon-DP | Dwork, McSherry, Nissim & Smith 2006 |
//! | [`gaussian`] | Gaussian on reals | rho-zCDP | Bun & Steinke 2016 |
//! | [`discrete`] | discrete Laplace, discrete Gaussian on integers | epsilon-DP / rho-zCDP | Ghosh et al. 2009; Canonne, Kamath & Steinke 2020 |
//! | [`exponential`] | exponential mechanism / report-noisy-max | epsilon-DP / rho-zCDP | McSherry & Talwar 2007; McKenna & Sheldon 2020 |
//! | [`randomized_response`] | randomized response | epsilon-DP (local) | Warner 1965 |
//! | [`threshold`] | noisy counts released above a threshold | (epsilon, delta) / (rho, delta) | Korolova et al. 2009; Bun, Nissim & Stemmer 2016; Rogers 2023 |

pub mod discrete;
pub mod exponential;
pub mod gaussian;
pub mod laplace;
pub mod randomized_response;
pub mod threshold;

use serde::{Deserialize, Serialize};

use crate::dp::accuracy::{Accuracy, NoiseKind};
use crate::dp::budget::{Cost, PrivacyMeasure};
use crate::dp::error::{DpError, Result, check_positive};

pub use discrete::{DiscreteGaussian, DiscreteLaplace};
pub use exponential::Selection;
pub use gaussian::Gaussian;
pub use laplace::Laplace;
pub use randomized_response::RandomizedResponse;
pub use threshold::{ThresholdNoise, ThresholdedCounts};

/// Values per parallel work item when noising long vectors (OpenDP measurements are not
/// `Send`, so each rayon task builds its own from the same parameters).
pub(crate) const NOISE_CHUNK: usize = 2048;

/// Proof that a [`crate::dp::Session`] has charged a release's cost. Only sessions make
/// these, so noise cannot be drawn without paying for it.
#[derive(Debug)]
pub struct Charged {
    _private: (),
}

impl Charged {
    pub(crate) fn new() -> Charged {
        Charged { _private: () }
    }
}

/// How a mechanism's input may change when one person is added or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sensitivity {
    /// The distance: `l1`, `l2`, `linf` (on a vector of values or scores), `symmetric`
    /// (rows added or removed), `records` (records changed, randomized response) or
    /// `l0_l1_linf` (partitions touched, total and per-partition change).
    pub metric: String,
    /// The bound (for `l0_l1_linf`, the L1 bound; see `l0` and `linf`).
    pub value: f64,
    /// Partitions one person can touch (thresholded releases only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l0: Option<u64>,
    /// Largest change to one partition (thresholded releases only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linf: Option<f64>,
}

impl Sensitivity {
    /// A bound in a named metric.
    pub fn new(metric: &str, value: f64) -> Sensitivity {
        Sensitivity {
            metric: metric.to_string(),
            value,
            l0: None,
            linf: None,
        }
    }
}

/// What a mechanism is, for the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MechanismInfo {
    /// Mechanism name, e.g. `discrete_laplace`.
    pub name: String,
    /// Noise distribution, when it adds noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseKind>,
    /// Noise scale (b for Laplace, sigma for Gaussian, the selection temperature, or the
    /// probability of answering truthfully for randomized response).
    pub scale: f64,
    /// Sensitivity the cost was computed for.
    pub sensitivity: Sensitivity,
    /// The paper.
    pub reference: String,
}

/// A differentially private mechanism.
pub trait Mechanism {
    /// What it takes (e.g. a vector of exact counts).
    type Input: ?Sized;
    /// What it releases.
    type Output;

    /// Name, noise, scale and sensitivity, for the ledger.
    fn info(&self) -> MechanismInfo;

    /// Privacy cost of one release, from OpenDP's privacy map at the mechanism's sensitivity.
    fn cost(&self) -> Result<Cost>;

    /// Accuracy of the released values at significance `alpha`, where it is defined.
    fn accuracy(&self, alpha: f64) -> Result<Option<Accuracy>>;

    /// Draw the release. Needs a [`Charged`] token: call [`crate::dp::Session::release`].
    fn sample(&self, input: &Self::Input, charged: &Charged) -> Result<Self::Output>;
}

/// Check a sensitivity: finite and not negative.
pub(crate) fn check_sensitivity(value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(DpError::invalid(
            "sensitivity",
            value,
            "it must be a finite number, zero or more",
        ))
    }
}

/// Find the smallest-found scale whose privacy `map(scale)` is within `target`, starting
/// from the closed form `initial` and widening by relative steps until OpenDP's
/// conservatively rounded map fits. Used so that a query given a share of epsilon or rho
/// never costs a hair more than that share.
pub(crate) fn calibrate(
    name: &str,
    target: f64,
    initial: f64,
    map: impl Fn(f64) -> Result<f64>,
) -> Result<f64> {
    check_positive(name, target)?;
    if !(initial.is_finite() && initial > 0.0) {
        // Say which setting is at fault: the share, too small (or too large) for any noise
        // scale a float can hold.
        let (size, fix) = if initial.is_infinite() {
            ("too small", "larger")
        } else {
            ("too large", "smaller")
        };
        return Err(DpError::invalid(
            name,
            target,
            format!(
                "it is {size} for this query: the noise scale it needs ({initial}) is not a \
                 positive finite number; give a {fix} share"
            ),
        ));
    }
    let mut s = initial;
    let mut step = f64::EPSILON;
    for _ in 0..200 {
        if map(s)? <= target {
            return Ok(s);
        }
        s *= 1.0 + step;
        step *= 2.0;
    }
    Err(DpError::query(
        "calibrating the noise scale",
        format!("no scale near {initial} meets {name} = {target}"),
    ))
}

/// Noise family a query should use, from the session's measure: Laplace-type for
/// (epsilon, delta) budgets, Gaussian-type for zCDP (where Laplace is also allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NoiseFamily {
    /// Laplace for epsilon-DP budgets, Gaussian for zCDP budgets.
    #[default]
    Auto,
    /// Laplace-type noise (discrete for integers).
    Laplace,
    /// Gaussian-type noise (discrete for integers); needs a zCDP budget.
    Gaussian,
}

impl NoiseFamily {
    /// Resolve `Auto` for a session measure; refuse Gaussian under an epsilon budget.
    pub fn resolve(self, measure: PrivacyMeasure) -> Result<NoiseFamily> {
        match (self, measure) {
            (NoiseFamily::Auto, PrivacyMeasure::Dp) => Ok(NoiseFamily::Laplace),
            (NoiseFamily::Auto, PrivacyMeasure::Zcdp) => Ok(NoiseFamily::Gaussian),
            (NoiseFamily::Gaussian, PrivacyMeasure::Dp) => Err(DpError::IncompatibleMeasure {
                mechanism: "Gaussian noise".into(),
                mechanism_measure: "rho-zCDP".into(),
                budget_measure: "(epsilon, delta)-DP".into(),
                hint: "use Laplace noise, or start the session with a zCDP budget".into(),
            }),
            (f, _) => Ok(f),
        }
    }
}

/// The target for a Laplace-type mechanism given a share `share` of a session's budget in
/// its measure: the share's epsilon, or under zCDP the largest epsilon with
/// `epsilon^2 / 2 <= rho` (the conversion the accountant applies exactly).
/// Proof: [`crate::dp::proofs::laplace_epsilon_for`].
pub(crate) fn laplace_epsilon_for(share: &Cost) -> Result<f64> {
    share.validate()?;
    match *share {
        Cost::Dp { epsilon, .. } => Ok(epsilon),
        Cost::Zcdp { rho, .. } => {
            let mut eps = (2.0 * rho).sqrt();
            while eps * eps / 2.0 > rho || (eps * eps) > 2.0 * rho {
                eps = f64::from_bits(eps.to_bits() - 1);
            }
            // One more ulp down absorbs the rounding of the squares above.
            Ok(f64::from_bits(eps.to_bits().saturating_sub(2)))
        }
    }
}

/// Map an OpenDP error while building a measurement.
pub(crate) fn build_err(what: &str) -> impl Fn(opendp::error::Error) -> DpError + '_ {
    move |e| DpError::opendp(format!("building the {what} measurement"), e)
}

/// Map an OpenDP error while sampling.
pub(crate) fn sample_err(what: &str) -> impl Fn(opendp::error::Error) -> DpError + '_ {
    move |e| DpError::opendp(format!("sampling {what} noise"), e)
}
